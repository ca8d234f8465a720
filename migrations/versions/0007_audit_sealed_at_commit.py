"""audit records are chained at COMMIT, so the organization's chain lock is held for microseconds

Revision ID: 0007
Revises: 0006

Before: the append took the organization's chain lock and held it until the
transaction committed, across the client's remaining round trips (measured:
the most frequent wait at 32 concurrent clients). Now the row is inserted
unchained, and a deferred constraint trigger seals it — lock, sequence, hash —
as part of COMMIT itself.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE audit_events ADD COLUMN pending_body text",
    "ALTER TABLE audit_events ALTER COLUMN sequence DROP NOT NULL",
    # The hash is sha256(prev_hash ‖ U+001F ‖ sequence ‖ U+001F ‖ body); body is computed by
    # server/domain/audit.py and kept only until the row is sealed.
    """
CREATE FUNCTION audit_events_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_sequence bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.organization_id, 7305447));
    SELECT sequence, hash INTO last_sequence, last_hash FROM audit_events
    WHERE organization_id = NEW.organization_id AND sequence IS NOT NULL
    ORDER BY sequence DESC LIMIT 1;
    last_sequence := coalesce(last_sequence, 0) + 1;
    last_hash := coalesce(last_hash, '');
    PERFORM set_config('rollout.audit_seal', 'on', true);
    UPDATE audit_events
    SET sequence = last_sequence,
        prev_hash = last_hash,
        hash = encode(sha256(convert_to(last_hash || chr(31) || last_sequence::text || chr(31) || pending_body,
                                        'UTF8')), 'hex'),
        pending_body = NULL
    WHERE id = NEW.id;
    PERFORM set_config('rollout.audit_seal', 'off', true);
    RETURN NULL;
END;
$$
""",
    """
CREATE CONSTRAINT TRIGGER audit_events_seal AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_events_seal()
""",
    # Append-only still, except for sealing a row that has no sequence yet.
    """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('rollout.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.sequence IS NULL AND current_setting('rollout.audit_seal', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$
""",
    "DROP FUNCTION rollout_audit_append",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the audit log is append-only; restore from a backup instead")
