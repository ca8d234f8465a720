"""`python -m server.migrate`: bring the database to the newest schema and set up its installation (safe to run
again): the artifact store it uses, marked so that every server and worker can prove it reaches the same one
(server/app/installation.py). It refuses, changing nothing there, when the database was set up with another store.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from server.app import installation
from server.artifacts import open_store
from server.config import ArtifactSettings
from server.store.db import create_engine
from server.store.installation import Installation

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def upgrade(database_url: str) -> None:
    """The schema only."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")


def migrate(database_url: str, artifacts: ArtifactSettings) -> Installation:
    """The schema, then the installation with its marker in the store; WrongStore if it has another store."""
    upgrade(database_url)
    return asyncio.run(_install(database_url, artifacts))


async def _install(database_url: str, artifacts: ArtifactSettings) -> Installation:
    engine = create_engine(database_url, 1)
    try:
        return await installation.install(engine, open_store(artifacts))
    finally:
        await engine.dispose()


def main() -> None:
    url = os.environ.get("ROLLOUT_DATABASE_URL")
    if not url:
        raise SystemExit("rollout: set ROLLOUT_DATABASE_URL to migrate")
    artifacts = ArtifactSettings.from_env(os.environ)
    try:
        found = migrate(url, artifacts)
    except installation.WrongStore as exc:
        raise SystemExit(f"rollout: migration refused: {exc}") from None
    print(f"rollout: database migrated; artifact store {found.artifact_store} (installation {found.id})", flush=True)


if __name__ == "__main__":
    main()
