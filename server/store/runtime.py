"""Queries on runtime instances (of DYNAMIC instances) and release quarantines."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.listing import Cursor, Term
from server.domain.models import RuntimeInstance, RuntimeState
from server.store import sql
from server.store.paging import keyset
from server.store.tables import release_quarantines, releases, runtime_instances

_columns = (runtime_instances, releases.c.version)
_joined = runtime_instances.join(releases, releases.c.id == runtime_instances.c.release_id)
LIVE_STATES = (RuntimeState.STARTING.value, RuntimeState.HEALTHY.value)


def to_runtime(row: Any) -> RuntimeInstance:
    m = row._mapping
    return RuntimeInstance(
        id=m["id"],
        organization_id=m["organization_id"],
        instance_id=m["instance_id"],
        release_id=m["release_id"],
        version=m["version"],
        deployment_id=m["deployment_id"],
        state=RuntimeState(m["state"]),
        drain_after=m["drain_after"],
        error=m["error"],
        create_time=m["create_time"],
        update_time=m["update_time"],
        spawn_attempt=m["spawn_attempt"],
        host=m["host"],
        port=m["port"],
        pid=m["pid"],
        pid_start=m["pid_start"],
    )


async def get(conn: AsyncConnection, runtime_id: str, lock: bool = False) -> RuntimeInstance | None:
    query = sa.select(*_columns).select_from(_joined).where(runtime_instances.c.id == runtime_id)
    if lock:
        query = query.with_for_update(of=runtime_instances)
    row = (await conn.execute(query)).first()
    return to_runtime(row) if row else None


def _lease_until(seconds: float) -> sa.ColumnElement[Any]:
    return sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)


async def claim_spawn(conn: AsyncConnection, runtime_id: str, lease_seconds: float) -> RuntimeInstance | None:
    """Take the spawn of a STARTING runtime instance, unless a live spawner holds it; the next attempt."""
    taken = await conn.execute(
        runtime_instances.update()
        .where(
            runtime_instances.c.id == runtime_id,
            runtime_instances.c.state == RuntimeState.STARTING.value,
            sa.or_(
                runtime_instances.c.spawn_lease_expires_at.is_(None),
                runtime_instances.c.spawn_lease_expires_at < sa.func.now(),
            ),
        )
        .values(spawn_attempt=runtime_instances.c.spawn_attempt + 1, spawn_lease_expires_at=_lease_until(lease_seconds))
    )
    return await get(conn, runtime_id) if taken.rowcount else None


async def renew_spawn(conn: AsyncConnection, runtime_id: str, attempt: int, lease_seconds: float) -> bool:
    result = await conn.execute(
        runtime_instances.update()
        .where(
            runtime_instances.c.id == runtime_id,
            runtime_instances.c.state == RuntimeState.STARTING.value,
            runtime_instances.c.spawn_attempt == attempt,
        )
        .values(spawn_lease_expires_at=_lease_until(lease_seconds))
    )
    return bool(result.rowcount)


async def to_respawn(conn: AsyncConnection, deployment_id: str, unclaimed_seconds: float) -> list[RuntimeInstance]:
    """STARTING instances of the deployment whose spawn job was lost (never claimed) or whose spawner died."""
    rows = await conn.execute(
        sa.select(*_columns)
        .select_from(_joined)
        .where(
            runtime_instances.c.deployment_id == deployment_id,
            runtime_instances.c.state == RuntimeState.STARTING.value,
            sa.or_(
                sa.and_(
                    runtime_instances.c.spawn_attempt == 0,
                    runtime_instances.c.create_time < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, unclaimed_seconds),
                ),
                runtime_instances.c.spawn_lease_expires_at < sa.func.now(),
            ),
        )
    )
    return [to_runtime(r) for r in rows]


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    """Runtime instances of every organization by state (for metrics)."""
    rows = await conn.execute(sa.select(runtime_instances.c.state, sa.func.count()).group_by(runtime_instances.c.state))
    return {r[0]: int(r[1]) for r in rows}


async def count(conn: AsyncConnection, instance_id: str, release_id: str | None, states: tuple[str, ...]) -> int:
    query = sa.select(sa.func.count()).where(
        runtime_instances.c.instance_id == instance_id, runtime_instances.c.state.in_(states)
    )
    if release_id is not None:
        query = query.where(runtime_instances.c.release_id == release_id)
    return int((await conn.execute(query)).scalar_one())


async def of_deployment(conn: AsyncConnection, deployment_id: str) -> list[RuntimeInstance]:
    rows = await conn.execute(
        sa.select(*_columns).select_from(_joined).where(runtime_instances.c.deployment_id == deployment_id)
    )
    return [to_runtime(r) for r in rows]


async def insert_starting(
    conn: AsyncConnection, organization_id: str, instance_id: str, release_id: str, deployment_id: str, n: int
) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    if ids:
        await conn.execute(
            runtime_instances.insert(),
            [
                {
                    "id": rid,
                    "organization_id": organization_id,
                    "instance_id": instance_id,
                    "release_id": release_id,
                    "deployment_id": deployment_id,
                    "state": RuntimeState.STARTING.value,
                }
                for rid in ids
            ],
        )
    return ids


async def keep_warm(conn: AsyncConnection, instance_id: str, release_id: str) -> None:
    """Cancel the scheduled drain of the release's healthy instances: they serve again."""
    await conn.execute(
        runtime_instances.update()
        .where(
            runtime_instances.c.instance_id == instance_id,
            runtime_instances.c.release_id == release_id,
            runtime_instances.c.state == RuntimeState.HEALTHY.value,
        )
        .values(drain_after=None, update_time=sa.func.now())
    )


async def schedule_drain(conn: AsyncConnection, instance_id: str, keep_release_id: str | None, after_seconds: float) -> None:
    """Every live runtime instance of another release drains after the warm window, or sooner if it was
    already due sooner (a decommission, `after_seconds` 0, drains every one now)."""
    query = runtime_instances.update().where(
        runtime_instances.c.instance_id == instance_id,
        runtime_instances.c.state.in_(LIVE_STATES),
    )
    if keep_release_id is not None:
        query = query.where(runtime_instances.c.release_id != keep_release_id)
    due = sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, after_seconds)
    await conn.execute(
        query.values(drain_after=sa.func.least(sa.func.coalesce(runtime_instances.c.drain_after, due), due), update_time=sa.func.now())
    )


async def set_state(
    conn: AsyncConnection, runtime_id: str, state: RuntimeState, error: str = "", drain_after_seconds: float | None = None
) -> None:
    values: dict[str, Any] = {"state": state.value, "error": error, "update_time": sa.func.now()}
    if state is not RuntimeState.STARTING:
        values["spawn_lease_expires_at"] = None
    if state in (RuntimeState.STOPPED, RuntimeState.FAILED):
        values["drain_after"] = None
    elif drain_after_seconds is not None:
        values["drain_after"] = _lease_until(drain_after_seconds)
    await conn.execute(runtime_instances.update().where(runtime_instances.c.id == runtime_id).values(**values))


async def locate(conn: AsyncConnection, runtime_id: str, host: str, port: int, pid: int, pid_start: int) -> None:
    await conn.execute(
        runtime_instances.update()
        .where(runtime_instances.c.id == runtime_id)
        .values(host=host, port=port, pid=pid, pid_start=pid_start)
    )


def _older_than(column: sa.ColumnElement[Any], seconds: float) -> sa.ColumnElement[bool]:
    return column < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def _drainable(stuck_seconds: float) -> sa.ColumnElement[bool]:
    """Warm ones whose window is over, and DRAINING ones whose drainer stopped (a worker that died mid-stop)."""
    return sa.or_(
        sa.and_(runtime_instances.c.drain_after < sa.func.now(), runtime_instances.c.state.in_(LIVE_STATES)),
        sa.and_(
            runtime_instances.c.state == RuntimeState.DRAINING.value,
            _older_than(runtime_instances.c.update_time, stuck_seconds),
        ),
    )


async def due_for_drain(conn: AsyncConnection, stuck_seconds: float, limit: int = 500) -> list[RuntimeInstance]:
    rows = await conn.execute(
        sa.select(*_columns)
        .select_from(_joined)
        .where(_drainable(stuck_seconds))
        .order_by(runtime_instances.c.drain_after.nulls_first(), runtime_instances.c.id)
        .limit(limit)
    )
    return [to_runtime(r) for r in rows]


async def claim_drain(conn: AsyncConnection, runtime_id: str, stuck_seconds: float) -> bool:
    """Mark it DRAINING (again, for a stuck one) if it is still due: the caller then stops it."""
    result = await conn.execute(
        runtime_instances.update()
        .where(runtime_instances.c.id == runtime_id, _drainable(stuck_seconds))
        .values(state=RuntimeState.DRAINING.value, spawn_lease_expires_at=None, update_time=sa.func.now())
    )
    return bool(result.rowcount)


async def in_state(conn: AsyncConnection, state: RuntimeState, limit: int = 1000) -> list[RuntimeInstance]:
    rows = await conn.execute(
        sa.select(*_columns)
        .select_from(_joined)
        .where(runtime_instances.c.state == state.value)
        .order_by(runtime_instances.c.id)
        .limit(limit)
    )
    return [to_runtime(r) for r in rows]


async def get_many(conn: AsyncConnection, ids: list[str]) -> list[RuntimeInstance]:
    if not ids:
        return []
    rows = await conn.execute(sa.select(*_columns).select_from(_joined).where(runtime_instances.c.id.in_(ids)))
    return [to_runtime(r) for r in rows]


async def list_page(
    conn: AsyncConnection, instance_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[RuntimeInstance]:
    query = sa.select(*_columns).select_from(_joined).where(runtime_instances.c.instance_id == instance_id)
    for term in terms:
        query = query.where(runtime_instances.c[term.field] == term.value)
    rows = await conn.execute(keyset(query, runtime_instances, desc, after, limit))
    return [to_runtime(r) for r in rows]


_QUARANTINE = (
    "INSERT INTO release_quarantines (instance_id, release_id, deployment_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
)
_LIFT = "DELETE FROM release_quarantines WHERE instance_id = $1 AND release_id = $2"


async def quarantine(conn: AsyncConnection, instance_id: str, release_id: str, deployment_id: str) -> None:
    await (await sql.raw(conn)).execute(_QUARANTINE, instance_id, release_id, deployment_id)


async def lift_quarantine(conn: AsyncConnection, instance_id: str, release_id: str) -> None:
    await (await sql.raw(conn)).execute(_LIFT, instance_id, release_id)


async def quarantined_in_bundle(
    conn: AsyncConnection, organization_id: str, bundle: str, channel: str
) -> list[tuple[str, str, str]]:
    """(instance id, release id, version) of every quarantine on a release of this bundle and channel."""
    rows = await conn.execute(
        sa.select(release_quarantines.c.instance_id, releases.c.id, releases.c.version)
        .select_from(release_quarantines.join(releases, releases.c.id == release_quarantines.c.release_id))
        .where(
            releases.c.organization_id == organization_id,
            releases.c.bundle == bundle,
            releases.c.release_channel == channel,
        )
    )
    return [(r.instance_id, r.id, r.version) for r in rows]
