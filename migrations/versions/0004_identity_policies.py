"""organizations, principals, tokens, Cedar policies, approval rules and approvals

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "organizations",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "principals",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("groups", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_principals_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("organization_id", "name", name="uq_principals_name"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("principal_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], name=op.f("fk_tokens_principal_id_principals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("hash", name=op.f("uq_tokens_hash")),
    )
    op.create_table(
        "policies",
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cedar", sa.Text(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_policies_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("organization_id", "name", name=op.f("pk_policies")),
    )
    op.create_table(
        "approval_rules",
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("proposer_may_approve", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_approval_rules_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("organization_id", "environment", name=op.f("pk_approval_rules")),
    )
    op.create_table(
        "approvals",
        sa.Column("deployment_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_approvals_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("deployment_id", "principal", name=op.f("pk_approvals")),
    )


def downgrade() -> None:
    for table in ("approvals", "approval_rules", "policies", "tokens", "principals", "organizations"):
        op.drop_table(table)
