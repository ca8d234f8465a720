"""Queries on releases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.listing import Cursor, Term
from server.store.paging import keyset
from server.store.tables import releases


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> sa.RowMapping:
    row = (await conn.execute(releases.insert().values(**values).returning(releases))).one()
    return row._mapping  # type: ignore[no-any-return]


_GET = sa.select(releases).where(releases.c.id == sa.bindparam("id"), releases.c.organization_id == sa.bindparam("org"))
_GET_LOCKED = _GET.with_for_update()


async def get(conn: AsyncConnection, organization_id: str, release_id: str, lock: bool = False) -> sa.RowMapping | None:
    row = (await conn.execute(_GET_LOCKED if lock else _GET, {"id": release_id, "org": organization_id})).first()
    return row._mapping if row else None


async def get_many(conn: AsyncConnection, organization_id: str, release_ids: list[str]) -> list[sa.RowMapping]:
    if not release_ids:
        return []
    rows = await conn.execute(
        sa.select(releases).where(releases.c.organization_id == organization_id, releases.c.id.in_(release_ids))
    )
    return [r._mapping for r in rows]


async def candidates(conn: AsyncConnection, organization_id: str, bundle: str, channel: str) -> list[sa.RowMapping]:
    """READY releases a version constraint may choose from."""
    rows = await conn.execute(
        sa.select(releases).where(
            releases.c.organization_id == organization_id,
            releases.c.bundle == bundle,
            releases.c.release_channel == channel,
            releases.c.state == "READY",
            releases.c.artifact_deleted.is_(False),
        )
    )
    return [r._mapping for r in rows]


async def list_page(
    conn: AsyncConnection, organization_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[sa.RowMapping]:
    query = sa.select(releases).where(releases.c.organization_id == organization_id)
    for term in terms:
        query = query.where(releases.c[term.field] == term.value)
    rows = await conn.execute(keyset(query, releases, desc, after, limit))
    return [r._mapping for r in rows]


async def update(conn: AsyncConnection, release_id: str, values: dict[str, Any]) -> sa.RowMapping:
    row = (
        await conn.execute(releases.update().where(releases.c.id == release_id).values(**values).returning(releases))
    ).one()
    return row._mapping  # type: ignore[no-any-return]
