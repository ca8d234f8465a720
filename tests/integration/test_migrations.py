"""The migrations create exactly the schema the code declares (server/store/tables.py)."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from server.migrate import upgrade
from server.store.tables import metadata


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

