"""The installation row: which artifact store this database was set up with (server/app/installation.py)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.tables import installation


@dataclass(frozen=True)
class Installation:
    id: str
    artifact_store: str


async def lock(conn: AsyncConnection) -> None:
    """Until the transaction ends, no other migration reads or writes the row: one installation per database."""
    await conn.execute(sa.text("LOCK TABLE installation IN EXCLUSIVE MODE"))


async def get(conn: AsyncConnection) -> Installation | None:
    row = (await conn.execute(sa.select(installation.c.id, installation.c.artifact_store))).first()
    return Installation(row.id, row.artifact_store) if row else None


async def insert(conn: AsyncConnection, found: Installation) -> None:
    await conn.execute(installation.insert().values(id=found.id, artifact_store=found.artifact_store))


async def moved(conn: AsyncConnection, installation_id: str, artifact_store: str) -> None:
    """The store was moved (its objects, marker included, copied to a new place): record where it is now."""
    await conn.execute(
        installation.update().where(installation.c.id == installation_id).values(artifact_store=artifact_store)
    )
