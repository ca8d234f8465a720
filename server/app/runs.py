"""Deployment use cases on the worker side (docs/product.md §4): claim or take over, record progress, switch, fail.

The per-instance lock is the instance row (server/store/locking.py) plus a
unique index allowing one RUNNING deployment per instance. A worker holds a
lease on the deployment it runs and renews it. When a worker dies its lease
expires, and the sweeper hands the run to another worker, which takes the
lease over and goes on from the step the run had reached (every step may be
repeated). A run fails only for a reason of its own — the driver refused,
the artifact is gone, the attempts are used up — never because a worker or
a backend stopped. Every function re-reads state first, so running one twice
changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.app import releases, secrets
from server.app.context import Services
from server.artifacts import ArtifactStore
from server.config import Settings
from server.domain import deployments as transitions
from server.domain.audit import AuditEntry, AuditRecord, new_record
from server.domain.models import Action, Deployment, EventType, Instance, Kind, NewEvent, Release, Status
from server.domain.plan import STALE
from server.store import deployments as store
from server.store import events, locking
from server.store import instances as instance_store
from server.store import releases as release_store
from server.store import runtime as runtime_store
from server.telemetry import logs, metrics

log = logs.get("rollout.run")


@dataclass(frozen=True)
class Claim:
    """A deployment a worker runs now; `refused` when it FAILED at once (artifact gone, attempts used up)."""

    deployment: Deployment
    # The instance as locked when the run started (its kind and replicas drive the run).
    instance: Instance
    attempt: int = 1
    # The driver step was done by an earlier attempt: go on from the runtime instances.
    provisioned: bool = False
    refused: bool = False
    next_pending: str | None = None


async def claim(
    engine: AsyncEngine, deployment_id: str, owner: str, worker: str, settings: Settings, artifacts: ArtifactStore
) -> Claim | None:
    """Start the instance's first PENDING deployment if nothing runs on it, or take over the run of
    `deployment_id` if its worker stopped; None when there is nothing to do.

    Approval order wins over the job that happens to arrive first, so the
    deployment started may be another PENDING one of the same instance.
    """
    async with engine.begin() as conn:
        locked = await locking.deployment(conn, None, deployment_id)
        if locked is None:
            return None
        instance, wanted = locked
        if wanted.status is Status.RUNNING:
            return await _take_over(conn, instance, wanted, owner, worker, settings, artifacts)
        if wanted.status is not Status.PENDING:
            return None
        running, head_id = await store.running_and_first_pending(conn, wanted.instance_id)
        if running or head_id is None:
            return None  # The running one hands over to the next PENDING when it ends.
        head = wanted if head_id == wanted.id else await store.get_any_org(conn, head_id)
        assert head is not None
        step = transitions.start(head.status, worker)
        gone, steps = await _verify(conn, artifacts, head, step.events)
        # RUNNING, and its first events: one statement.
        started = await store.start(conn, head, owner, settings.lease_seconds, steps)
        log.info("run.start", deployment=head.id, instance=instance.id, action=head.action.value, worker=worker)
        return await _claimed(conn, instance, started, owner, gone, settings.warm_seconds)


async def _take_over(
    conn: AsyncConnection,
    instance: Instance,
    deployment: Deployment,
    owner: str,
    worker: str,
    settings: Settings,
    artifacts: ArtifactStore,
) -> Claim | None:
    taken = await store.take_over(conn, deployment.id, owner, settings.lease_seconds)
    if taken is None:
        return None  # Its worker is alive and renewing.
    log.info("run.take_over", deployment=deployment.id, attempt=taken.attempt, worker=worker)
    if taken.attempt > settings.max_attempts:
        reason = transitions.attempts_used_up(taken.attempt, settings.max_attempts)
        next_id = await _fail_locked(conn, instance, taken.deployment, owner, reason, settings.warm_seconds)
        return Claim(taken.deployment, instance, taken.attempt, refused=True, next_pending=next_id)
    provisioned = taken.run_step == store.STEP_PROVISIONED
    resumed = transitions.resume(worker, taken.attempt, settings.max_attempts).events
    gone, steps = await _verify(conn, artifacts, taken.deployment, resumed, provisioned)
    await events.append(conn, taken.deployment.organization_id, taken.deployment.id, instance.id, steps)
    return await _claimed(conn, instance, taken.deployment, owner, gone, settings.warm_seconds, taken.attempt, provisioned)


async def _verify(
    conn: AsyncConnection, artifacts: ArtifactStore, deployment: Deployment, steps: list[NewEvent], provisioned: bool = False
) -> tuple[str | None, list[NewEvent]]:
    """Re-check the artifact (docs/product.md §4 step 2: it may have been deleted since the proposal) in the
    transaction that starts the run: why it cannot be used (or None), and the run's first events (`steps`, then
    ARTIFACT_VERIFIED if it is there and not provisioned yet)."""
    gone = await _artifact_gone(conn, artifacts, deployment)
    if not gone and deployment.action is Action.PROVISION and not provisioned:
        steps = [*steps, transitions.artifact_verified(deployment.version)]
    return gone, steps


async def _claimed(
    conn: AsyncConnection,
    instance: Instance,
    deployment: Deployment,
    owner: str,
    gone: str | None,
    warm_seconds: float,
    attempt: int = 1,
    provisioned: bool = False,
) -> Claim:
    """The run, its first events recorded: claimed, or FAILED at once if its artifact is gone."""
    if gone:
        next_id = await _fail_locked(conn, instance, deployment, owner, gone, warm_seconds)
        return Claim(deployment, instance, attempt, refused=True, next_pending=next_id)
    return Claim(deployment, instance, attempt, provisioned)


async def _artifact_gone(conn: AsyncConnection, artifacts: ArtifactStore, deployment: Deployment) -> str | None:
    """Why the deployment's artifact cannot be used any more, or None."""
    if deployment.action is not Action.PROVISION or deployment.bundle_release_id is None:
        return None
    release = await release_store.get(conn, deployment.organization_id, deployment.bundle_release_id)
    if release is None or not (await releases.checked(artifacts, release)).artifact_present:
        return f"ARTIFACT_GONE: the artifact of release v{deployment.version} is gone from storage"
    return None


@dataclass(frozen=True)
class Inputs:
    """What the driver's steps of a run use besides the deployment: the release whose bundle runs
    (for a decommission, the live one) and the instance's current secrets."""

    release: Release | None
    secrets: dict[str, str]


async def inputs(svc: Services, deployment: Deployment, instance: Instance) -> Inputs:
    release_id = deployment.bundle_release_id
    async with svc.reader.connect() as conn:
        if deployment.action is Action.DECOMMISSION and instance.active_deployment_id:
            live = await store.get_any_org(conn, instance.active_deployment_id)
            release_id = live.bundle_release_id if live else None
        release = await release_store.get(conn, deployment.organization_id, release_id) if release_id else None
        current = await secrets.current(conn, svc.keyring, deployment.organization_id, instance.id)
    return Inputs(release, current)


async def progress(engine: AsyncEngine, deployment: Deployment, owner: str, lines: list[str]) -> bool:
    """Record lines of a step's output as PROGRESS events, if the run is still ours."""
    async with engine.begin() as conn:
        lease = await store.lease(conn, deployment.id)
        if lease is None or lease.status is not Status.RUNNING or lease.owner != owner:
            return False
        await events.append(
            conn,
            deployment.organization_id,
            deployment.id,
            deployment.instance_id,
            [NewEvent(EventType.PROGRESS, Status.RUNNING, line) for line in lines],
        )
        return True


async def renew(engine: AsyncEngine, deployment_id: str, owner: str, lease_seconds: float) -> bool:
    """False once the lease is no longer ours (another worker took the run over)."""
    async with engine.begin() as conn:
        return await store.renew_lease(conn, deployment_id, owner, lease_seconds)


async def hand_back(engine: AsyncEngine, deployment_id: str, owner: str) -> bool:
    """Give the run up now (worker shutdown, a backend fault) so another worker takes it over at once."""
    async with engine.begin() as conn:
        handed = await store.hand_back(conn, deployment_id, owner)
    log.info("run.hand_back", deployment=deployment_id, handed=handed)
    return handed


@dataclass(frozen=True)
class Switched:
    """What a completed switch made live: the route-change message is built from this."""

    organization_id: str
    instance_id: str
    active_deployment_id: str | None
    bundle_release_id: str | None
    version: str | None
    route_generation: int


async def complete(
    engine: AsyncEngine, deployment: Deployment, owner: str, warm_seconds: float, done: str | None
) -> tuple[Switched | None, str | None]:
    """The switch (docs/product.md §4 step 4): one transaction makes the deployment active and COMPLETED.

    For a rollback it also pins the release pointer to the source's release
    and quarantines the release it retreated from. `done` is the PROVISIONED
    event's message when that event is not recorded yet. Returns what was
    switched (None if the lease is no longer ours) and the next PENDING
    deployment to run.
    """
    async with engine.begin() as conn:
        locked = await locking.deployment_locked(conn, None, deployment.id)
        assert locked is not None, "deployments are never deleted"
        instance, lease, previous_release = locked.instance, locked.lease, locked.active_release_id
        if lease.status is not Status.RUNNING or lease.owner != owner:
            return None, await store.first_pending(conn, deployment.instance_id)
        switched = await _switch_instance(conn, instance, deployment)
        if instance.kind is Kind.DYNAMIC:
            keep = switched.bundle_release_id
            await runtime_store.schedule_drain(conn, instance.id, keep, warm_seconds if keep else 0)
        await _update_quarantine(conn, instance, deployment, previous_release)
        switch = transitions.Switch(
            instance.active_deployment_id,
            switched.active_deployment_id,
            switched.route_generation,
            deployment.version if _pins(deployment) else None,
        )
        step = transitions.complete(Status.RUNNING, switch, done)
        # The planned proposals were planned against what was live before the switch.
        next_id = await store.end(conn, deployment.id, instance.id, step.status, stale_warning=STALE)
        audit = _record(
            deployment,
            owner,
            "ok",
            AuditEntry(
                "deployment.complete",
                f"deployments/{deployment.id}",
                previous_deployment_id=instance.active_deployment_id,
                new_deployment_id=switched.active_deployment_id,
                previous_release_id=previous_release,
                new_release_id=switched.bundle_release_id,
            ),
        )
        # The events and the audit record: one statement.
        await events.append(conn, deployment.organization_id, deployment.id, deployment.instance_id, step.events, audit)
    # Committed: the switch happened.
    log.info("run.switch", deployment=deployment.id, instance=instance.id, route_generation=switched.route_generation)
    _observe_completion(deployment)
    return switched, next_id


def _observe_completion(deployment: Deployment) -> None:
    """Time from approval to the switch (the time-to-rollback operators ask for)."""
    if deployment.decide_time is not None:
        seconds = (datetime.now(UTC) - deployment.decide_time).total_seconds()
        rollback = "true" if deployment.rollback_of_id else "false"
        metrics.APPROVED_TO_COMPLETED.labels(deployment.action.value, rollback).observe(max(0.0, seconds))


def _pins(deployment: Deployment) -> bool:
    """docs/product.md §3: approving a rollback pins the release pointer, so the next proposal composes on it."""
    return deployment.action is Action.PROVISION and deployment.rollback_of_id is not None


async def _switch_instance(conn: AsyncConnection, instance: Instance, deployment: Deployment) -> Switched:
    """One row changed: the active deployment, the route generation, and for a rollback the pointer."""
    provision = deployment.action is Action.PROVISION
    values: dict[str, object] = {
        "active_deployment_id": deployment.id if provision else None,
        "route_generation": instance.route_generation + 1,
    }
    if _pins(deployment):
        values.update(
            bundle_release_id=deployment.bundle_release_id,
            version=deployment.version,
            release_channel=deployment.release_channel,
            pinned=True,
        )
    await instance_store.set_columns(conn, instance.id, values)
    return Switched(
        organization_id=deployment.organization_id,
        instance_id=instance.id,
        active_deployment_id=deployment.id if provision else None,
        bundle_release_id=deployment.bundle_release_id if provision else None,
        version=deployment.version if provision else None,
        route_generation=instance.route_generation + 1,
    )


async def _update_quarantine(
    conn: AsyncConnection, instance: Instance, deployment: Deployment, previous_release: str | None
) -> None:
    """A rollback quarantines the release it retreated from; deploying a quarantined release ends it."""
    release_id = deployment.bundle_release_id
    if deployment.action is not Action.PROVISION or release_id is None:
        return
    if release_id in instance.quarantined_release_ids:
        await runtime_store.lift_quarantine(conn, instance.id, release_id)
    if deployment.rollback_of_id and previous_release and previous_release != release_id:
        await runtime_store.quarantine(conn, instance.id, previous_release, deployment.id)


async def _release_of(conn: AsyncConnection, deployment_id: str | None) -> str | None:
    if deployment_id is None:
        return None
    row = await store.get_any_org(conn, deployment_id)
    return row.bundle_release_id if row else None


async def fail(
    engine: AsyncEngine, deployment: Deployment, owner: str, reason: str, warm_seconds: float
) -> str | None:
    """Mark the deployment FAILED if its run is still ours; the previously active deployment stays active.

    Returns the next PENDING deployment of the instance to run, if any.
    """
    async with engine.begin() as conn:
        locked = await locking.deployment_locked(conn, None, deployment.id)
        assert locked is not None, "deployments are never deleted"
        if locked.lease.status is Status.RUNNING and locked.lease.owner == owner:
            return await _fail_locked(conn, locked.instance, locked.deployment, owner, reason, warm_seconds)
        return await store.first_pending(conn, deployment.instance_id)


async def _fail_locked(
    conn: AsyncConnection, instance: Instance, deployment: Deployment, owner: str, reason: str, warm_seconds: float
) -> str | None:
    log.info("run.fail", deployment=deployment.id, instance=instance.id, reason=reason[:200])
    step = transitions.fail(Status.RUNNING, reason)
    next_id = await store.end(conn, deployment.id, instance.id, step.status, error=reason)
    audit = _record(deployment, owner, reason[:200], AuditEntry("deployment.fail", f"deployments/{deployment.id}"))
    await events.append(conn, deployment.organization_id, deployment.id, deployment.instance_id, step.events, audit)
    if instance.kind is Kind.DYNAMIC:
        # Instances spawned for the failed release are not serving: they drain after the warm window.
        live_release = await _release_of(conn, instance.active_deployment_id)
        await runtime_store.schedule_drain(conn, instance.id, live_release, warm_seconds)
    return next_id


def _record(deployment: Deployment, owner: str, outcome: str, entry: AuditEntry) -> AuditRecord:
    """The audit record of what the worker `owner` did to `deployment`."""
    return new_record(
        deployment.organization_id,
        entry,
        actor=f"worker:{owner}",
        actor_kind="service",
        request_id="",
        attribution="",
        outcome=outcome,
    )


async def expired(engine: AsyncEngine) -> list[tuple[str, int]]:
    """(id, attempt) of RUNNING deployments whose worker stopped renewing: to be taken over."""
    async with engine.connect() as conn:
        return await store.expired_leases(conn)


async def stalled(engine: AsyncEngine, older_than_seconds: float) -> list[str]:
    async with engine.connect() as conn:
        return await store.stalled_pending(conn, older_than_seconds)
