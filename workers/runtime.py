"""The spawn job: boot one runtime instance (its own job, so several boot in parallel); workers/upkeep.py drains them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, cast

from arq import Retry

from server.app import runs, runtime
from server.app.context import Services
from server.config import Settings
from server.domain.models import RuntimeInstance
from server.store import deployments as deployment_store
from server.store import instances as instance_store
from server.store.faults import is_transient
from workers.drivers import Driver, DriverError, Started, Step

log = logging.getLogger(__name__)

WAKE_TTL_SECONDS = 3600


async def spawn_runtime_instance(ctx: dict[str, Any], runtime_id: str) -> None:
    svc: Services = ctx["services"]
    driver: Driver = ctx["driver"]
    settings: Settings = ctx["settings"]
    try:
        target = await runtime.claim_spawn(svc.engine, runtime_id, settings.lease_seconds)
    except Exception as exc:
        if is_transient(exc):
            raise Retry(defer=1.0) from exc
        raise
    if target is None:
        return
    async with svc.reader.connect() as conn:
        deployment = await deployment_store.get_any_org(conn, target.deployment_id)
        instance = await instance_store.get(conn, target.organization_id, target.instance_id)
    assert deployment is not None and instance is not None
    given = await runs.inputs(svc, deployment, instance)
    error: str | None = None
    started: Started | None = None
    lease = asyncio.create_task(_keep_spawn_lease(svc, settings, target))
    try:
        step = Step(deployment, instance, given.release, given.secrets, svc.artifacts, _quiet)
        started = await driver.start_runtime_instance(target, step)
    except DriverError as exc:
        error = str(exc)
    finally:
        lease.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lease
    where = runtime.Location(started.host, started.port, started.pid, started.pid_start) if started else None
    await runtime.finish_spawn(svc.engine, target, instance.replicas, error, settings.warm_seconds, where)
    key = runtime.wake_key(target.deployment_id)
    try:
        # redis-py types its commands as "awaitable or not"; on an asyncio client they always are.
        await cast(Awaitable[int], svc.queue.redis.lpush(key, target.id))
        await svc.queue.redis.expire(key, WAKE_TTL_SECONDS)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("could not wake the run waiting for %s (%s); it looks again within a second", target.id, exc)


async def _quiet(line: str) -> None:
    """A runtime instance's boot reports no progress lines: `n of m healthy` speaks for it."""


async def _keep_spawn_lease(svc: Services, settings: Settings, target: RuntimeInstance) -> None:
    while True:
        await asyncio.sleep(settings.lease_seconds / 3)
        try:
            if not await runtime.renew_spawn(svc.engine, target, settings.lease_seconds):
                return
        except Exception:  # A missed renewal is retried; the lease outlives two misses.
            log.warning("spawn lease renewal of %s failed", target.id, exc_info=True)
