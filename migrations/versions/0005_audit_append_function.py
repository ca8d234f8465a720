"""audit appends in one round trip: lock, chain and insert inside the database

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The hash is sha256(prev_hash ‖ U+001F ‖ sequence ‖ U+001F ‖ body), where `body` is the
# canonical text of the record's other fields, computed by server/domain/audit.py.
FUNCTION = """
CREATE FUNCTION rollout_audit_append(
    p_id uuid, p_org text, p_create_time timestamptz, p_actor text, p_actor_kind text, p_action text,
    p_resource text, p_previous_deployment_id text, p_new_deployment_id text, p_previous_release_id text,
    p_new_release_id text, p_request_id text, p_attribution text, p_outcome text, p_body text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    last_sequence bigint;
    last_hash text;
BEGIN
    -- One chain per organization: appends within it take turns until their transaction ends.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_org, 7305447));
    SELECT sequence, hash INTO last_sequence, last_hash
    FROM audit_events WHERE organization_id = p_org ORDER BY sequence DESC LIMIT 1;
    last_sequence := coalesce(last_sequence, 0) + 1;
    last_hash := coalesce(last_hash, '');
    INSERT INTO audit_events (id, organization_id, sequence, create_time, actor, actor_kind, action, resource,
        previous_deployment_id, new_deployment_id, previous_release_id, new_release_id, request_id, attribution,
        outcome, prev_hash, hash)
    VALUES (p_id, p_org, last_sequence, p_create_time, p_actor, p_actor_kind, p_action, p_resource,
        p_previous_deployment_id, p_new_deployment_id, p_previous_release_id, p_new_release_id, p_request_id,
        p_attribution, p_outcome, last_hash,
        encode(sha256(convert_to(last_hash || chr(31) || last_sequence::text || chr(31) || p_body, 'UTF8')), 'hex'));
    RETURN last_sequence;
END;
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION rollout_audit_append")
