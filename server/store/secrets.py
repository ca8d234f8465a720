"""Queries on instance secrets. Values arrive here sealed (server/keyring) and leave sealed.

Lock order, as everywhere an instance's secrets change: the instance row first
(SetInstanceSecrets holds it through the use case, rotation takes it per
batch in id order), then its secret rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from server.keyring import Sealed
from server.store import sql
from server.store.tables import instance_secrets, instances


@dataclass(frozen=True)
class StoredSecret:
    instance_id: str
    name: str
    key_id: str
    value: bytes = field(repr=False)


def _stored(row: Any) -> StoredSecret:
    m = row._mapping if isinstance(row, sa.Row) else row  # SQLAlchemy's row, or asyncpg's
    return StoredSecret(m["instance_id"], m["name"], m["key_id"], m["value"])


_COLUMNS = (instance_secrets.c.instance_id, instance_secrets.c.name, instance_secrets.c.key_id, instance_secrets.c.value)


async def put(conn: AsyncConnection, instance_id: str, sealed: dict[str, Sealed], remove: list[str]) -> None:
    if remove:
        await conn.execute(
            instance_secrets.delete().where(
                instance_secrets.c.instance_id == instance_id, instance_secrets.c.name.in_(remove)
            )
        )
    if sealed:
        stmt = pg_insert(instance_secrets).values(
            [{"instance_id": instance_id, "name": k, "key_id": v.key_id, "value": v.value} for k, v in sealed.items()]
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[instance_secrets.c.instance_id, instance_secrets.c.name],
                set_={"value": stmt.excluded.value, "key_id": stmt.excluded.key_id, "update_time": sa.func.now()},
            )
        )


_OF_INSTANCE = """
    SELECT s.instance_id::text AS instance_id, s.name, s.key_id, s.value
    FROM instance_secrets s JOIN instances i ON i.id = s.instance_id
    WHERE i.id = $1 AND i.organization_id = $2
    ORDER BY s.name
"""


async def of_instance(conn: AsyncConnection, organization_id: str, instance_id: str) -> list[StoredSecret]:
    rows = await (await sql.raw(conn)).fetch(_OF_INSTANCE, instance_id, organization_id)
    return [_stored(r) for r in rows]


async def instances_not_under(conn: AsyncConnection, key_id: str, after: str | None, limit: int) -> list[str]:
    """Ids of instances with a value sealed by another key than `key_id`, in id order after `after`."""
    query = sa.select(instance_secrets.c.instance_id).where(instance_secrets.c.key_id != key_id)
    if after is not None:
        query = query.where(instance_secrets.c.instance_id > after)
    rows = await conn.execute(query.group_by(instance_secrets.c.instance_id).order_by(instance_secrets.c.instance_id).limit(limit))
    return [r.instance_id for r in rows]


async def lock_not_under(conn: AsyncConnection, key_id: str, instance_ids: list[str]) -> list[StoredSecret]:
    """Lock the instances (in id order), then their values sealed by another key than `key_id`."""
    await conn.execute(
        sa.select(instances.c.id).where(instances.c.id.in_(instance_ids)).order_by(instances.c.id).with_for_update()
    )
    rows = await conn.execute(
        sa.select(*_COLUMNS)
        .where(instance_secrets.c.instance_id.in_(instance_ids), instance_secrets.c.key_id != key_id)
        .order_by(instance_secrets.c.instance_id, instance_secrets.c.name)
        .with_for_update()
    )
    return [_stored(r) for r in rows]


async def replace_sealed(conn: AsyncConnection, values: list[StoredSecret]) -> None:
    """Store values sealed again; `update_time` stays: the secret itself did not change."""
    if not values:
        return
    await conn.execute(
        instance_secrets.update()
        .where(
            instance_secrets.c.instance_id == sa.bindparam("b_instance_id"),
            instance_secrets.c.name == sa.bindparam("b_name"),
        )
        .values(key_id=sa.bindparam("b_key_id"), value=sa.bindparam("b_value")),
        [{"b_instance_id": v.instance_id, "b_name": v.name, "b_key_id": v.key_id, "b_value": v.value} for v in values],
    )


async def count_by_key(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(instance_secrets.c.key_id, sa.func.count()).group_by(instance_secrets.c.key_id)
    )
    return {r[0]: r[1] for r in rows}
