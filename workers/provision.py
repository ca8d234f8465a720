"""The provision job (docs/product.md §4): lock, RUNNING and re-check the artifact (one transaction), provision,
spawn runtime instances (DYNAMIC), then switch (one transaction).

It takes ids, re-reads state, and does nothing if its work is already done,
so arq may run it more than once. After a deployment ends, the same job goes
on with the instance's next PENDING deployment, in approval order.

A fault is never the deployment's failure: when the worker stops (SIGTERM,
job timeout) or a backend fails mid-run, the run is handed back and another
worker takes it over from the step it had reached; a SIGKILLed worker's
lease simply expires and the sweeper does the same. Only the driver (a
command that failed, a health check that did not pass) or a gone artifact
fails a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from arq import Retry

from server.app import routes, runs, runtime
from server.app.context import Services
from server.config import Settings
from server.domain.models import Action, Kind
from server.store.faults import is_transient
from workers.drivers import Driver, DriverError, Step
from workers.progress import ProgressLog

log = logging.getLogger(__name__)

# A job whose first database call meets a backend fault is run again this much later (arq Retry).
RETRY_DEFER_SECONDS = 1.0


class LeaseLost(Exception):
    """Another worker took the run over (we were presumed dead): stop without touching it."""


@dataclass(frozen=True)
class Worker:
    """What a job needs to run a deployment: the shared clients, the settings, and who runs it."""

    svc: Services
    driver: Driver
    settings: Settings
    owner: str  # the lease holder: worker id and job id
    name: str  # how users see the worker in events


def worker_of(ctx: dict[str, Any]) -> Worker:
    return Worker(
        ctx["services"], ctx["driver"], ctx["settings"], f"{ctx['worker_id']}:{ctx.get('job_id', '')}", ctx["worker_name"]
    )


async def provision_deployment(ctx: dict[str, Any], deployment_id: str) -> None:
    w = worker_of(ctx)
    next_id: str | None = deployment_id
    while next_id:
        try:
            claim = await runs.claim(w.svc.engine, next_id, w.owner, w.name, w.settings, w.svc.artifacts)
        except Exception as exc:
            if is_transient(exc):
                log.warning("backend fault claiming %s (%s); retrying the job", next_id, type(exc).__name__)
                raise Retry(defer=RETRY_DEFER_SECONDS) from exc
            raise
        if claim is None:
            return
        if claim.refused:
            next_id = claim.next_pending
            continue
        next_id = await _run(w, claim)


async def _run(w: Worker, claim: runs.Claim) -> str | None:
    """Run one deployment to its end, or hand it over; the next PENDING deployment to run, if any."""
    deployment = claim.deployment
    steps = asyncio.create_task(_steps(w, claim))
    lost = asyncio.Event()
    heartbeat = asyncio.create_task(_keep_lease(w, deployment.id, steps, lost))
    try:
        switched, next_id = await steps
    except (asyncio.CancelledError, LeaseLost):
        if lost.is_set() or not _cancelling():
            log.warning("deployment %s was taken over by another worker; leaving it", deployment.id)
            return None
        # Worker shutdown or job timeout: another worker takes the run over at once.
        steps.cancel()
        await asyncio.shield(_hand_back(w, deployment.id))
        raise
    except DriverError as exc:
        if exc.retryable:
            log.warning("driver step of %s can be retried (%s); handing the run over", deployment.id, exc)
            await _hand_back(w, deployment.id)
            return None
        return await runs.fail(w.svc.engine, deployment, w.owner, str(exc), w.settings.warm_seconds)
    except Exception as exc:
        if is_transient(exc):
            log.warning("backend fault running %s (%s); handing the run over", deployment.id, type(exc).__name__)
            await _hand_back(w, deployment.id)
            return None
        log.exception("deployment %s failed unexpectedly", deployment.id)
        return await runs.fail(
            w.svc.engine, deployment, w.owner, "internal error in the worker; see the worker logs", w.settings.warm_seconds
        )
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    if switched is not None:
        await routes.publish(w.svc.queue.redis, switched)
    return next_id


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _steps(w: Worker, claim: runs.Claim) -> tuple[runs.Switched | None, str | None]:
    """The infrastructure part of the run, then the switch. Each step may run again on a resume."""
    deployment, instance = claim.deployment, claim.instance
    done: str | None = None
    if deployment.action is Action.DECOMMISSION:
        await _driver_step(w, claim, w.driver.decommission)
        done = "decommissioned"
    else:
        if not claim.provisioned:
            await _driver_step(w, claim, w.driver.provision)
            done = f"provisioned v{deployment.version}"
        if instance.kind is Kind.DYNAMIC:
            await _runtime_instances(w, claim, done)
            done = None  # recorded with the runtime instances' plan
    switched, next_id = await runs.complete(w.svc.engine, deployment, w.owner, w.settings.warm_seconds, done)
    if switched is None:
        raise LeaseLost(deployment.id)
    return switched, next_id


async def _driver_step(w: Worker, claim: runs.Claim, step: Callable[[Step], Awaitable[None]]) -> None:
    """One driver step, its output reported as PROGRESS events (written even when the step fails)."""
    given = await runs.inputs(w.svc, claim.deployment, claim.instance)
    progress = ProgressLog(w.svc.engine, claim.deployment, w.owner, given.secrets)
    try:
        await step(Step(claim.deployment, claim.instance, given.release, given.secrets, w.svc.artifacts, progress.line))
    finally:
        await asyncio.shield(progress.close())


async def _runtime_instances(w: Worker, claim: runs.Claim, provisioned: str | None) -> None:
    """Reuse warm instances of the target release, spawn the missing ones, wait until all are HEALTHY."""
    deployment, replicas = claim.deployment, claim.instance.replicas
    spawn = await runtime.prepare(w.svc.engine, deployment, w.owner, replicas, provisioned)
    if spawn is None:
        raise LeaseLost(deployment.id)
    for runtime_id in spawn.to_spawn:
        await w.svc.queue.enqueue_spawn(runtime_id)
    deadline = time.monotonic() + w.settings.spawn_timeout_seconds
    while True:
        state = await runtime.readiness(w.svc.engine, deployment, w.settings.stall_seconds)
        if state.failed:
            failed = state.failed[0]
            raise DriverError(f"runtime instance {failed.id} failed its health check: {failed.error}")
        if state.healthy >= replicas:
            return
        if time.monotonic() > deadline:
            raise DriverError(
                f"only {state.healthy} of {replicas} runtime instances healthy after {w.settings.spawn_timeout_seconds:.0f}s"
            )
        for lost in state.respawn:
            # Its spawn job was lost with Redis, or the worker spawning it stopped.
            await w.svc.queue.enqueue_spawn(lost.id, f"{lost.spawn_attempt}-{int(time.time() // w.settings.stall_seconds)}")
        try:
            # Each spawn job pushes here when it is done; the timeout only bounds a lost push.
            await cast(Awaitable[Any], w.svc.queue.redis.blpop([runtime.wake_key(deployment.id)], timeout=1))
        except Exception as exc:
            if not is_transient(exc):
                raise
            await asyncio.sleep(0.5)  # A Redis blip: PostgreSQL is the truth, look again.


async def _keep_lease(w: Worker, deployment_id: str, steps: asyncio.Task[Any], lost: asyncio.Event) -> None:
    """Renew the run's lease; if another worker took it over, stop the steps (they are not ours)."""
    while True:
        await asyncio.sleep(w.settings.lease_seconds / 3)
        try:
            if not await runs.renew(w.svc.engine, deployment_id, w.owner, w.settings.lease_seconds):
                lost.set()
                steps.cancel()
                return
        except Exception:  # A missed renewal is retried; the lease outlives two misses.
            log.warning("lease renewal of %s failed", deployment_id, exc_info=True)


async def _hand_back(w: Worker, deployment_id: str) -> None:
    """End our lease and ask for a takeover now; if that fails too, the lease expires and the sweeper asks."""
    try:
        if await runs.hand_back(w.svc.engine, deployment_id, w.owner):
            await w.svc.queue.enqueue_provision(deployment_id, f"handback-{time.time_ns()}")
    except Exception as exc:
        log.warning("could not hand %s back (%s); its lease will expire", deployment_id, type(exc).__name__)
