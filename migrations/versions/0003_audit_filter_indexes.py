"""audit filters: ListAuditEvents by resource or by actor, newest first, from an index

Revision ID: 0003
Revises: 0002

Without them a filtered page walks the organization's whole log backwards
until it has found enough matching records: over 100,000 records, one
resource's newest 50 took 8–20× the floor and grew with the log (bench (h)).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("resource", "actor"):
        op.create_index(
            f"ix_audit_events_org_{column}_created", "audit_events", ["organization_id", column, "create_time", "id"]
        )


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
