"""Queries on releases; they return Release values whose `artifact_present` is what the database
knows (not deleted through the API). Whether the store still holds the artifact is checked in
server/app/releases.py (`checked`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.listing import Cursor, Term
from server.domain.models import Release, ReleaseState
from server.store import sql
from server.store.db import unique
from server.store.paging import keyset
from server.store.tables import releases


def to_release(row: Any) -> Release:
    m = row._mapping if isinstance(row, sa.Row) else row
    return Release(
        id=m["id"],
        organization_id=m["organization_id"],
        bundle=m["bundle"],
        version=m["version"],
        release_channel=m["release_channel"],
        artifact_uri=m["artifact_uri"],
        state=ReleaseState(m["state"]),
        artifact_present=not m["artifact_deleted"],
        schema_version=m["schema_version"],
        create_time=m["create_time"],
        sha256=m["sha256"],
        size_bytes=m["size_bytes"],
        manifest=m["manifest"],
    )


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> Release:
    """Taken if the bundle already has a release of that version."""
    with unique("uq_releases_version"):
        row = (await conn.execute(releases.insert().values(**values).returning(releases))).one()
    return to_release(row)


_GET = f"SELECT {sql.columns(releases)} FROM releases WHERE id = $1 AND organization_id = $2"
_GET_LOCKED = _GET + " FOR UPDATE"


async def get(conn: AsyncConnection, organization_id: str, release_id: str, lock: bool = False) -> Release | None:
    row = await (await sql.raw(conn)).fetchrow(_GET_LOCKED if lock else _GET, release_id, organization_id)
    return to_release(row) if row else None


async def get_many(conn: AsyncConnection, organization_id: str, release_ids: list[str]) -> list[Release]:
    if not release_ids:
        return []
    rows = await conn.execute(
        sa.select(releases).where(releases.c.organization_id == organization_id, releases.c.id.in_(release_ids))
    )
    return [to_release(r) for r in rows]


async def candidates(conn: AsyncConnection, organization_id: str, bundle: str, channel: str) -> list[Release]:
    """READY releases a version constraint may choose from."""
    rows = await conn.execute(
        sa.select(releases).where(
            releases.c.organization_id == organization_id,
            releases.c.bundle == bundle,
            releases.c.release_channel == channel,
            releases.c.state == ReleaseState.READY.value,
            releases.c.artifact_deleted.is_(False),
        )
    )
    return [to_release(r) for r in rows]


async def list_page(
    conn: AsyncConnection, organization_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[Release]:
    query = sa.select(releases).where(releases.c.organization_id == organization_id)
    for term in terms:
        query = query.where(releases.c[term.field] == term.value)
    rows = await conn.execute(keyset(query, releases, desc, after, limit))
    return [to_release(r) for r in rows]


async def update(conn: AsyncConnection, release_id: str, values: dict[str, Any]) -> Release:
    row = (
        await conn.execute(releases.update().where(releases.c.id == release_id).values(**values).returning(releases))
    ).one()
    return to_release(row)
