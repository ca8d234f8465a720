"""`python -m server.migrate`: bring the database to the newest schema (safe to run again)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def upgrade(database_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")


def main() -> None:
    url = os.environ.get("ROLLOUT_DATABASE_URL")
    if not url:
        raise SystemExit("rollout: set ROLLOUT_DATABASE_URL to migrate")
    upgrade(url)


if __name__ == "__main__":
    main()
