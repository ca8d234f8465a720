"""runtime instances and release quarantine

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runtime_instances",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("release_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("deployment_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("drain_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], name=op.f("fk_runtime_instances_instance_id_instances")),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], name=op.f("fk_runtime_instances_release_id_releases")),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_runtime_instances_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runtime_instances")),
    )
    op.create_index(
        "ix_runtime_instances_instance_release", "runtime_instances", ["instance_id", "release_id", "state"]
    )
    op.create_index("ix_runtime_instances_created", "runtime_instances", ["instance_id", "create_time", "id"])
    op.create_index(
        "ix_runtime_instances_drain",
        "runtime_instances",
        ["drain_after"],
        postgresql_where=sa.text("drain_after IS NOT NULL"),
    )
    op.create_table(
        "release_quarantines",
        sa.Column("instance_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("release_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("deployment_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], name=op.f("fk_release_quarantines_instance_id_instances")),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], name=op.f("fk_release_quarantines_release_id_releases")),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_release_quarantines_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("instance_id", "release_id", name=op.f("pk_release_quarantines")),
    )


def downgrade() -> None:
    op.drop_table("release_quarantines")
    op.drop_index("ix_runtime_instances_drain", table_name="runtime_instances")
    op.drop_index("ix_runtime_instances_created", table_name="runtime_instances")
    op.drop_index("ix_runtime_instances_instance_release", table_name="runtime_instances")
    op.drop_table("runtime_instances")
