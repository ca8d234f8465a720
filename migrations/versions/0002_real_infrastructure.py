"""real infrastructure: artifacts checked and described, runtime instances located, instance events, the installation

Revision ID: 0002
Revises: 0001

- releases: the artifact's sha256 and size, and a bundle's parsed manifest;
- runtime instances: the host, port and process that serve them;
- deployment_events: keyed by the instance's stream, so that an event of the
  instance itself (a runtime instance failed after it was HEALTHY) needs no
  deployment;
- installation: the one row saying which artifact store the database was
  set up with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("releases", sa.Column("sha256", sa.Text(), server_default="", nullable=False))
    op.add_column("releases", sa.Column("size_bytes", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("releases", sa.Column("manifest", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    for name, kind in (("host", sa.Text()), ("port", sa.Integer()), ("pid", sa.Integer()), ("pid_start", sa.BigInteger())):
        default = "" if name == "host" else "0"
        op.add_column("runtime_instances", sa.Column(name, kind, server_default=default, nullable=False))
    op.drop_constraint("pk_deployment_events", "deployment_events", type_="primary")
    op.drop_constraint("uq_deployment_events_instance_seq", "deployment_events", type_="unique")
    for column in ("deployment_id", "sequence", "status"):
        op.alter_column("deployment_events", column, nullable=True)
    op.create_primary_key("pk_deployment_events", "deployment_events", ["instance_id", "instance_sequence"])
    op.create_index(
        "uq_deployment_events_deployment_seq",
        "deployment_events",
        ["deployment_id", "sequence"],
        unique=True,
        postgresql_where=sa.text("deployment_id IS NOT NULL"),
    )
    op.create_table(
        "installation",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("artifact_store", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
