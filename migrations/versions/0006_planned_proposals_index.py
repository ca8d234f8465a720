"""index the planned proposals a switch marks stale

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deployments_planned_proposals",
        "deployments",
        ["instance_id"],
        postgresql_where=sa.text("status = 'PROPOSED' AND plan IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deployments_planned_proposals", table_name="deployments")
