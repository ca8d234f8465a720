"""The provision job (SPEC §4): lock, RUNNING and re-check the artifact (one transaction), provision,
spawn runtime instances (DYNAMIC), then switch (one transaction).

It takes ids, re-reads state, and does nothing if its work is already done,
so arq may run it more than once. After a deployment ends, the same job goes
on with the instance's next PENDING deployment, in approval order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, cast

from server.app import routes, runs, runtime
from server.app.context import Services
from server.config import Settings
from server.domain.models import Action, Deployment, Instance, Kind
from workers.driver import Driver, DriverError

log = logging.getLogger(__name__)


async def provision_deployment(ctx: dict[str, Any], deployment_id: str) -> None:
    svc: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    owner = f"{ctx['worker_id']}:{ctx.get('job_id', '')}"
    next_id: str | None = deployment_id
    while next_id:
        claim = await runs.claim(svc.engine, next_id, owner, settings.lease_seconds, svc.artifacts)
        if claim is None:
            return
        if claim.refused:
            next_id = claim.next_pending
            continue
        next_id = await _run(svc, ctx["driver"], settings, claim, owner)


async def _run(svc: Services, driver: Driver, settings: Settings, claim: runs.Claim, owner: str) -> str | None:
    deployment = claim.deployment
    heartbeat = asyncio.create_task(_keep_lease(svc, settings, deployment.id, owner))
    try:
        done = await _steps(svc, driver, settings, deployment, claim.instance)
    except DriverError as exc:
        return await runs.fail(svc.engine, deployment, owner, str(exc), settings.warm_seconds)
    except asyncio.CancelledError:
        # Worker shutdown or job timeout: say so now rather than leave it to the reaper.
        await asyncio.shield(runs.fail(svc.engine, deployment, owner, "interrupted: the worker stopped mid-run"))
        raise
    except Exception:
        log.exception("deployment %s failed unexpectedly", deployment.id)
        return await runs.fail(svc.engine, deployment, owner, "internal error in the worker; see worker logs")
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    switched, next_id = await runs.complete(svc.engine, deployment, owner, settings.warm_seconds, done)
    if switched is not None:
        await routes.publish(svc.queue.redis, switched)
    return next_id


async def _steps(
    svc: Services, driver: Driver, settings: Settings, deployment: Deployment, instance: Instance
) -> str:
    """The infrastructure part of the run; returns what was done, for the PROVISIONED event."""
    if deployment.action is Action.DECOMMISSION:
        await driver.decommission(deployment)
        return "decommissioned"
    await driver.provision(deployment)
    if instance.kind is Kind.DYNAMIC:
        await _runtime_instances(svc, settings, deployment, instance.replicas)
    return f"provisioned v{deployment.version}"


async def _runtime_instances(svc: Services, settings: Settings, deployment: Deployment, replicas: int) -> None:
    """Reuse warm instances of the target release, spawn the missing ones, wait until all are HEALTHY."""
    spawn = await runtime.prepare(svc.engine, deployment, replicas)
    for runtime_id in spawn.to_spawn:
        await svc.queue.enqueue_spawn(runtime_id)
    deadline = time.monotonic() + settings.spawn_timeout_seconds
    while True:
        state = await runtime.readiness(svc.engine, deployment)
        if state.failed:
            failed = state.failed[0]
            raise DriverError(f"runtime instance {failed.id} failed its health check: {failed.error}")
        if state.healthy >= replicas:
            return
        if time.monotonic() > deadline:
            raise DriverError(
                f"only {state.healthy} of {replicas} runtime instances healthy after {settings.spawn_timeout_seconds:.0f}s"
            )
        # Each spawn job pushes here when it is done; the timeout only bounds a lost push.
        await cast(Awaitable[Any], svc.queue.redis.blpop([runtime.wake_key(deployment.id)], timeout=1))


async def _keep_lease(svc: Services, settings: Settings, deployment_id: str, owner: str) -> None:
    while True:
        await asyncio.sleep(settings.lease_seconds / 3)
        try:
            if not await runs.renew(svc.engine, deployment_id, owner, settings.lease_seconds):
                return
        except Exception:  # A missed renewal is retried; the lease outlives two misses.
            log.warning("lease renewal of %s failed", deployment_id, exc_info=True)
