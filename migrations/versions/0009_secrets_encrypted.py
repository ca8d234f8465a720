"""instance secrets are encrypted at rest: each value records the key that sealed it

Revision ID: 0009
Revises: 0008

Values stored before this revision are plain text, and a migration has no key
to encrypt them with, so it refuses to run while any exist rather than leave
them readable (ADR 009): delete them, migrate, and set them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _refuse_if_any(what: str) -> None:
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM instance_secrets")).scalar_one()
    if count:
        raise RuntimeError(
            f"instance_secrets holds {count} values {what}. Delete them (DELETE FROM instance_secrets), "
            "migrate again, then set them again with SetInstanceSecrets."
        )


def upgrade() -> None:
    _refuse_if_any("stored in plain text by an earlier version, which would stay readable")
    op.add_column("instance_secrets", sa.Column("key_id", sa.Text, nullable=False))


def downgrade() -> None:
    # The earlier schema would read the ciphertexts as if they were the values.
    _refuse_if_any("that are encrypted, which the earlier schema would take for plain text")
    op.drop_column("instance_secrets", "key_id")
