"""Queries on instances and their secrets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.listing import Cursor, Term
from server.domain.models import Instance, Kind
from server.store import sql
from server.store.db import unique
from server.store.paging import keyset
from server.store.tables import instance_secrets, instances, release_quarantines

_secret_names = (
    sa.select(sa.func.coalesce(sa.func.array_agg(sa.text("s.name ORDER BY s.name")), sa.text("'{}'::text[]")))
    .select_from(instance_secrets.alias("s"))
    .where(sa.text("s.instance_id = instances.id"))
    .scalar_subquery()
    .label("secret_names")
)
_quarantined = (
    sa.select(sa.func.coalesce(sa.func.array_agg(sa.text("q.release_id::text ORDER BY q.create_time")), sa.text("'{}'::text[]")))
    .select_from(release_quarantines.alias("q"))
    .where(sa.text("q.instance_id = instances.id"))
    .scalar_subquery()
    .label("quarantined_release_ids")
)


def to_instance(row: sa.Row[Any] | Any) -> Instance:
    m = row._mapping if isinstance(row, sa.Row) else row
    return Instance(
        id=m["id"],
        organization_id=m["organization_id"],
        name=m["name"],
        project=m["project"],
        environment=m["environment"],
        bundle=m["bundle"],
        kind=Kind(m["kind"]),
        replicas=m["replicas"],
        labels=m["labels"],
        params=m["params"],
        connections=m["connections"],
        version_constraint=m["version_constraint"],
        release_channel=m["release_channel"],
        bundle_release_id=m["bundle_release_id"],
        version=m["version"],
        pinned=m["pinned"],
        active_deployment_id=m["active_deployment_id"],
        route_generation=m["route_generation"],
        secret_names=tuple(m["secret_names"] or ()),
        quarantined_release_ids=tuple(m["quarantined_release_ids"] or ()),
        create_time=m["create_time"],
        update_time=m["update_time"],
    )


NAME_TAKEN = "uq_instances_name"

# The same row for plain asyncpg (server/store/sql.py), from `instances AS x`.
SELECT_LIST = (
    sql.columns(instances, "x")
    + ", coalesce((SELECT array_agg(s.name ORDER BY s.name) FROM instance_secrets s WHERE s.instance_id = x.id),"
    " '{}'::text[]) AS secret_names"
    + ", coalesce((SELECT array_agg(q.release_id::text ORDER BY q.create_time) FROM release_quarantines q"
    " WHERE q.instance_id = x.id), '{}'::text[]) AS quarantined_release_ids"
)


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> Instance:
    """Taken if the name is taken in its project and environment."""
    with unique(NAME_TAKEN):
        await conn.execute(instances.insert().values(**values))
    found = await get(conn, values["organization_id"], values["id"])
    assert found is not None
    return found


_GET = f"SELECT {SELECT_LIST} FROM instances AS x WHERE x.id = $1 AND x.organization_id = $2"
_GET_ANY_ORG = f"SELECT {SELECT_LIST} FROM instances AS x WHERE x.id = $1"
_LOCKED = " FOR UPDATE OF x"  # only the instance row: the subqueries need no lock


async def get(conn: sql.Conn, organization_id: str, instance_id: str, lock: bool = False) -> Instance | None:
    row = await (await sql.raw(conn)).fetchrow(_GET + _LOCKED if lock else _GET, instance_id, organization_id)
    return to_instance(row) if row else None


async def get_any_org(conn: AsyncConnection, instance_id: str, lock: bool = False) -> Instance | None:
    """For workers, which act on ids they were handed by the control plane itself."""
    row = await (await sql.raw(conn)).fetchrow(_GET_ANY_ORG + _LOCKED if lock else _GET_ANY_ORG, instance_id)
    return to_instance(row) if row else None


async def exist(conn: AsyncConnection, organization_id: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = await conn.execute(
        sa.select(instances.c.id).where(instances.c.organization_id == organization_id, instances.c.id.in_(ids))
    )
    return {r.id for r in rows}


async def list_page(
    conn: AsyncConnection, organization_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[Instance]:
    query = sa.select(instances, _secret_names, _quarantined).where(instances.c.organization_id == organization_id)
    for term in terms:
        query = query.where(instances.c[term.field] == term.value)
    rows = await conn.execute(keyset(query, instances, desc, after, limit))
    return [to_instance(r) for r in rows]


_SETS: dict[tuple[str, ...], str] = {}


async def set_columns(conn: AsyncConnection, instance_id: str, values: dict[str, Any]) -> None:
    """The worker's switch: these columns (never the name, so never NAME_TAKEN), in one plain statement."""
    names = tuple(values)
    statement = _SETS.get(names)
    if statement is None:
        sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, 2))
        statement = _SETS[names] = f"UPDATE instances SET {sets}, update_time = now() WHERE id = $1"
    await (await sql.raw(conn)).execute(statement, instance_id, *values.values())


async def update(conn: AsyncConnection, instance_id: str, values: dict[str, Any]) -> None:
    """Taken if a new name is taken in the instance's (new) project and environment."""
    with unique(NAME_TAKEN):
        await conn.execute(
            instances.update().where(instances.c.id == instance_id).values(**values, update_time=sa.func.now())
        )
