"""The migrations create exactly the schema the code declares (server/store/tables.py), and refuse unsafe data."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from server.migrate import MIGRATIONS, upgrade
from server.store.db import asyncpg_dsn
from server.store.tables import metadata
from tests.integration.databases import fresh_database


def test_migrated_schema_matches_the_table_definitions(backends: tuple[str, str]) -> None:
    upgrade(backends[0])  # already at head: running it again changes nothing

    async def differences() -> list[object]:
        engine = create_async_engine(backends[0])
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []


def _upgrade_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def test_plaintext_secrets_of_an_earlier_version_stop_the_migration_until_removed(backends: tuple[str, str]) -> None:
    async def sql(url: str, statement: str) -> object:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return await conn.fetchval(statement)
        finally:
            await conn.close()

    instance = "0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10"
    with fresh_database(backends[0]) as url:
        _upgrade_to(url, "0008")
        asyncio.run(sql(url, "INSERT INTO instances (id, organization_id, name, project, environment, bundle, kind)"
                             f" VALUES ('{instance}', 'o', 'n', 'p', 'e', 'b', 'STATIC')"))
        asyncio.run(sql(url, f"INSERT INTO instance_secrets (instance_id, name, value) VALUES ('{instance}', 'db', 'pw')"))

        with pytest.raises(RuntimeError, match="holds 1 values stored in plain text"):
            upgrade(url)
        assert asyncio.run(sql(url, "SELECT version_num FROM alembic_version")) == "0008"

        asyncio.run(sql(url, "DELETE FROM instance_secrets"))
        upgrade(url)
        assert asyncio.run(sql(url, "SELECT version_num FROM alembic_version")) == "0009"
