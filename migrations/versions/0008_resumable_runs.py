"""runs survive their worker: attempts, the step reached, spawn leases, and a closed event log

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deployments", sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
    op.add_column("deployments", sa.Column("run_step", sa.Text, nullable=False, server_default=""))
    op.add_column("deployments", sa.Column("events_closed", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("runtime_instances", sa.Column("spawn_attempt", sa.Integer, nullable=False, server_default="0"))
    op.add_column("runtime_instances", sa.Column("spawn_lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("runtime_instances", "spawn_lease_expires_at"),
        ("runtime_instances", "spawn_attempt"),
        ("deployments", "events_closed"),
        ("deployments", "run_step"),
        ("deployments", "attempt"),
    ):
        op.drop_column(table, column)
