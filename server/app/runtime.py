"""Runtime instances of DYNAMIC instances (docs/product.md §4 step 3): reuse warm ones, spawn the missing, drain the old.

Spawning is its own arq job per runtime instance, so several boot in
parallel across workers. The provision job waits for them on a Redis list
that each spawn job pushes to when it is done (re-checking PostgreSQL, the
truth, on every wake-up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from server.app.context import Caller, Services
from server.domain import listing
from server.domain import runtime as rules
from server.domain.errors import NotFound
from server.domain.models import Deployment, EventType, NewEvent, RuntimeInstance, RuntimeState, Status
from server.store import deployments as deployment_store
from server.store import events, locking
from server.store import instances as instance_store
from server.store import runtime as store

FILTER_RULES = {
    "state": listing.FieldRule(frozenset({"="}), listing.enum_value("STATE", frozenset(s.value for s in RuntimeState))),
    "release_id": listing.FieldRule(frozenset({"="}), listing.uuid_value),
}


def wake_key(deployment_id: str) -> str:
    return f"rollout:runtime-ready:{deployment_id}"


@dataclass(frozen=True)
class SpawnPlan:
    reused: int
    to_spawn: list[str]  # ids of STARTING runtime instances this deployment waits for
    wanted: int


async def prepare(
    engine: AsyncEngine, deployment: Deployment, owner: str, replicas: int, provisioned: str | None
) -> SpawnPlan | None:
    """Reuse HEALTHY instances of the target release; create STARTING rows for the missing ones.

    `provisioned` is the PROVISIONED event's message when the driver step has
    just been done: it is recorded in the same transaction, so a run resumed
    after this point does not provision again. Safe to repeat: instances this
    deployment already created count as its own. None if the run is no longer ours.
    """
    assert deployment.bundle_release_id is not None
    async with engine.begin() as conn:
        await locking.instance(conn, deployment.organization_id, deployment.instance_id)
        steps = []
        if provisioned is not None:
            if not await deployment_store.mark_step(conn, deployment.id, owner, deployment_store.STEP_PROVISIONED):
                return None
            steps.append(NewEvent(EventType.PROVISIONED, Status.RUNNING, provisioned))
        healthy = await store.count(
            conn, deployment.instance_id, deployment.bundle_release_id, (RuntimeState.HEALTHY.value,)
        )
        mine = [r for r in await store.of_deployment(conn, deployment.id) if r.state is RuntimeState.STARTING]
        missing = max(0, replicas - healthy - len(mine))
        created = await store.insert_starting(
            conn, deployment.organization_id, deployment.instance_id, deployment.bundle_release_id, deployment.id, missing
        )
        await store.keep_warm(conn, deployment.instance_id, deployment.bundle_release_id)
        reused = min(healthy, replicas)
        to_spawn = [r.id for r in mine] + created
        steps.append(
            NewEvent(
                EventType.RUNTIME_PROGRESS,
                Status.RUNNING,
                f"runtime instances: {reused} warm reused, {len(to_spawn)} to spawn",
                progress_done=reused,
                progress_total=replicas,
            )
        )
        await events.append(conn, deployment.organization_id, deployment.id, deployment.instance_id, steps)
    return SpawnPlan(reused, to_spawn, replicas)


@dataclass(frozen=True)
class Readiness:
    healthy: int
    failed: list[RuntimeInstance]
    # STARTING instances whose spawn job was lost or whose spawner stopped: to enqueue again.
    respawn: list[RuntimeInstance]


async def readiness(engine: AsyncEngine, deployment: Deployment, unclaimed_seconds: float) -> Readiness:
    assert deployment.bundle_release_id is not None
    async with engine.connect() as conn:
        healthy = await store.count(
            conn, deployment.instance_id, deployment.bundle_release_id, (RuntimeState.HEALTHY.value,)
        )
        failed = [r for r in await store.of_deployment(conn, deployment.id) if r.state is RuntimeState.FAILED]
        respawn = await store.to_respawn(conn, deployment.id, unclaimed_seconds)
    return Readiness(healthy, failed, respawn)


async def claim_spawn(engine: AsyncEngine, runtime_id: str, lease_seconds: float) -> RuntimeInstance | None:
    """The runtime instance to boot, with its spawn attempt; None if it is no longer STARTING or a
    live spawner has it (a repeated job)."""
    async with engine.begin() as conn:
        return await store.claim_spawn(conn, runtime_id, lease_seconds)


async def renew_spawn(engine: AsyncEngine, runtime: RuntimeInstance, lease_seconds: float) -> bool:
    async with engine.begin() as conn:
        return await store.renew_spawn(conn, runtime.id, runtime.spawn_attempt, lease_seconds)


@dataclass(frozen=True)
class Location:
    """Where a started runtime instance serves (the driver's handle on it)."""

    host: str
    port: int
    pid: int = 0
    pid_start: int = 0


async def finish_spawn(
    engine: AsyncEngine,
    runtime: RuntimeInstance,
    replicas: int,
    error: str | None,
    warm_seconds: float,
    where: Location | None = None,
) -> None:
    """Record the health check's outcome and `n of m healthy` progress on the deployment.

    Only the latest spawn attempt counts. A spawn that ends after its
    deployment did changes the runtime instance only: no event follows a
    terminal one, and an instance nobody waits for any more drains after the
    warm window.
    """
    async with engine.begin() as conn:
        # Spawns of one instance finish in parallel: the instance lock makes their `n of m` counts ordered.
        await locking.instance(conn, runtime.organization_id, runtime.instance_id)
        current = await store.get(conn, runtime.id, lock=True)
        if current is None or current.state is not RuntimeState.STARTING or current.spawn_attempt != runtime.spawn_attempt:
            return
        state = RuntimeState.FAILED if error else RuntimeState.HEALTHY
        if where is not None:
            await store.locate(conn, runtime.id, where.host, where.port, where.pid, where.pid_start)
        deployment = await deployment_store.get_any_org(conn, runtime.deployment_id)
        waited_for = deployment is not None and deployment.status is Status.RUNNING
        unwanted = not waited_for and (deployment is None or deployment.status is not Status.COMPLETED)
        await store.set_state(conn, runtime.id, state, error or "", warm_seconds if unwanted else None)
        if not waited_for:
            return
        healthy = await store.count(conn, runtime.instance_id, runtime.release_id, (RuntimeState.HEALTHY.value,))
        message = (
            f"runtime instance {runtime.id} failed its health check: {error}"
            if error
            else f"{min(healthy, replicas)} of {replicas} healthy"
        )
        await events.append(
            conn,
            runtime.organization_id,
            runtime.deployment_id,
            runtime.instance_id,
            [NewEvent(EventType.RUNTIME_PROGRESS, Status.RUNNING, message, min(healthy, replicas), replicas)],
        )


async def due_for_drain(engine: AsyncEngine, stuck_seconds: float) -> list[RuntimeInstance]:
    """Warm instances whose window is over, and DRAINING ones left by a drainer that stopped."""
    async with engine.connect() as conn:
        return await store.due_for_drain(conn, stuck_seconds)


async def begin_drain(
    engine: AsyncEngine, runtime_id: str, reaches: Callable[[RuntimeInstance], bool], stuck_seconds: float
) -> RuntimeInstance | None:
    """Mark it DRAINING if it is still due and this worker's driver can stop it; then the caller stops it."""
    async with engine.begin() as conn:
        current = await store.get(conn, runtime_id, lock=True)
        if current is None or not reaches(current):
            return None  # gone, or located on a host this worker does not reach (checked under the lock)
        if not await store.claim_drain(conn, runtime_id, stuck_seconds):
            return None  # it became active again, or another worker drains it
        return current


async def end_drain(engine: AsyncEngine, runtime_id: str) -> None:
    async with engine.begin() as conn:
        await store.set_state(conn, runtime_id, RuntimeState.STOPPED)


async def serving(engine: AsyncEngine) -> list[RuntimeInstance]:
    """HEALTHY runtime instances: the ones whose health is checked after they boot."""
    async with engine.connect() as conn:
        return await store.in_state(conn, RuntimeState.HEALTHY)


async def failed(engine: AsyncEngine, runtime: RuntimeInstance, reason: str) -> bool:
    """Mark a HEALTHY runtime instance FAILED (it died or failed its health check) with an event of its instance.

    The caller has stopped what was left of it first, so a FAILED one never
    runs on. False if it was no longer HEALTHY (drained or marked meanwhile).
    """
    async with engine.begin() as conn:
        await locking.instance(conn, runtime.organization_id, runtime.instance_id)
        current = await store.get(conn, runtime.id, lock=True)
        if current is None or current.state is not RuntimeState.HEALTHY:
            return False
        await store.set_state(conn, runtime.id, RuntimeState.FAILED, reason)
        await events.append_to_instance(
            conn, runtime.organization_id, runtime.instance_id, [rules.failed_event(current, reason)]
        )
        return True


async def of_ids(engine: AsyncEngine, ids: list[str]) -> dict[str, RuntimeInstance]:
    async with engine.connect() as conn:
        return {r.id: r for r in await store.get_many(conn, ids)}


async def list_page(
    svc: Services, caller: Caller, instance_id: str, filter_text: str, order_by: str, page_size: int, page_token: str
) -> tuple[list[RuntimeInstance], str]:
    q = listing.query(
        ("runtime", caller.organization_id, instance_id), FILTER_RULES, filter_text, order_by, page_size, page_token, default_desc=False
    )
    async with svc.reader.connect() as conn:
        if await instance_store.get(conn, caller.organization_id, instance_id) is None:
            raise NotFound(f"instance {instance_id} not found")
        rows = await store.list_page(conn, instance_id, q.terms, q.desc, q.cursor, q.limit + 1)
    return q.page(rows)
