"""audit chain: the (organization, sequence) index holds sealed records only

Revision ID: 0004
Revises: 0003

Sealing a record at commit (migration 0001's audit_events_seal) reads the
organization's last sealed record under the chain's lock. The unique index
on (organization_id, sequence) also held every record's unsealed version,
whose sequence is NULL: read backwards, that scan met the NULL entries of
every record inserted since the last vacuum before the last sealed one, so
the lock was held longer as the log grew between vacuums, and the
organization's commits queued behind it (bench (b): the lock's wait went
from 2 to 21 ms per full flow within one run). A partial index with the
same uniqueness holds sealed records only, and a record's insert no longer
writes an entry in it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "uq_audit_events_org_sealed_sequence",
        "audit_events",
        ["organization_id", "sequence"],
        unique=True,
        postgresql_where=sa.text("sequence IS NOT NULL"),
    )
    op.drop_constraint("uq_audit_events_org_sequence", "audit_events", type_="unique")


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
