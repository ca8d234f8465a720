"""Deployment use cases on the worker side (SPEC §4): claim, record progress, switch, fail, reap.

The per-instance lock is the instance row (SELECT … FOR UPDATE) plus a unique
index allowing one RUNNING deployment per instance. A worker holds a lease on
the deployment it runs and renews it; the reaper fails deployments whose lease
expired (their worker died). Every function re-reads state first, so running
one twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain.deployments import Transition, next_status
from server.domain.models import Action, Deployment, EventType, Instance, Kind, NewEvent, Status
from server.domain.plan import STALE
from server.artifacts import ArtifactStore
from server.domain.audit import AuditEntry
from server.store import audit as audit_store
from server.store import deployments as store
from server.store import events
from server.store import instances as instance_store
from server.store import releases as release_store
from server.store import runtime as runtime_store
from server.store.tables import instances


async def _lock_instance(conn: AsyncConnection, deployment: Deployment) -> Instance:
    found = await instance_store.get(conn, deployment.organization_id, deployment.instance_id, lock=True)
    assert found is not None, "deployments always reference an existing instance"
    return found


@dataclass(frozen=True)
class Claim:
    """A deployment a worker started; `refused` when its artifact was gone and it FAILED at once."""

    deployment: Deployment
    # The instance as locked when the deployment started (its kind and replicas drive the run).
    instance: Instance
    refused: bool = False
    next_pending: str | None = None


async def claim(
    engine: AsyncEngine, deployment_id: str, owner: str, lease_seconds: float, artifacts: ArtifactStore
) -> Claim | None:
    """Start the instance's first PENDING deployment if nothing runs on it; None when there is nothing to do.

    Approval order wins over the job that happens to arrive first, so the
    deployment started may be another PENDING one of the same instance. The
    same transaction re-checks the artifact (SPEC §4 step 2): it may have been
    deleted since the proposal.
    """
    async with engine.begin() as conn:
        wanted = await store.get_any_org(conn, deployment_id)
        if wanted is None or wanted.status is not Status.PENDING:
            return None
        instance = await _lock_instance(conn, wanted)
        running, head_id = await store.running_and_first_pending(conn, wanted.instance_id)
        if running or head_id is None:
            return None  # The running one hands over to the next PENDING when it ends.
        head = wanted if head_id == wanted.id else await store.get_any_org(conn, head_id)
        assert head is not None
        status = next_status(head.status, Transition.START)
        started = await store.start(conn, head.id, owner, lease_seconds)
        steps = [NewEvent(EventType.STARTED, status, f"started by worker {owner}")]
        gone = await _artifact_gone(conn, artifacts, head)
        if gone:
            failed = next_status(status, Transition.FAIL)
            await store.update(conn, head.id, {"status": failed.value, "error": gone, "lease_owner": None, "lease_expires_at": None})
            steps.append(NewEvent(EventType.FAILED, failed, gone))
        elif head.action is Action.PROVISION:
            steps.append(NewEvent(EventType.ARTIFACT_VERIFIED, status, f"artifact of v{head.version} is present"))
        await events.append(conn, head.organization_id, head.id, head.instance_id, steps)
        if gone:
            await _audit_failure(conn, head, owner, gone)
            return Claim(started, instance, refused=True, next_pending=await store.first_pending(conn, head.instance_id))
        return Claim(started, instance)


async def _artifact_gone(conn: AsyncConnection, artifacts: ArtifactStore, deployment: Deployment) -> str | None:
    """Why the deployment's artifact cannot be used any more, or None."""
    if deployment.action is not Action.PROVISION or deployment.bundle_release_id is None:
        return None
    row = await release_store.get(conn, deployment.organization_id, deployment.bundle_release_id)
    if row is None or row["artifact_deleted"] or not artifacts.exists(row["artifact_uri"]):
        return f"ARTIFACT_GONE: the artifact of release v{deployment.version} is gone from storage"
    return None


async def renew(engine: AsyncEngine, deployment_id: str, owner: str, lease_seconds: float) -> bool:
    async with engine.begin() as conn:
        return await store.renew_lease(conn, deployment_id, owner, lease_seconds)


async def _holds_lease(conn: AsyncConnection, deployment_id: str, owner: str) -> bool:
    row = (
        await conn.execute(
            sa.text("SELECT status, lease_owner FROM deployments WHERE id = :id FOR UPDATE"), {"id": deployment_id}
        )
    ).first()
    return row is not None and row.status == Status.RUNNING.value and row.lease_owner == owner


@dataclass(frozen=True)
class Switched:
    """What a completed switch made live: the route-change message is built from this."""

    organization_id: str
    instance_id: str
    active_deployment_id: str | None
    bundle_release_id: str | None
    version: str | None
    route_generation: int


_STALE_PLANS = sa.text(
    """
    UPDATE deployments
    SET plan = plan || jsonb_build_object(
            'stale', true,
            'warnings', coalesce(plan->'warnings', '[]'::jsonb) || to_jsonb(CAST(:warning AS text)))
    WHERE instance_id = :instance_id AND status = 'PROPOSED' AND plan IS NOT NULL
      AND NOT coalesce((plan->>'stale')::boolean, false)
    """
)


async def complete(
    engine: AsyncEngine, deployment: Deployment, owner: str, warm_seconds: float, done: str
) -> tuple[Switched | None, str | None]:
    """The switch (SPEC §4 step 4): one transaction makes the deployment active and COMPLETED.

    For a rollback it also pins the release pointer to the source's release
    and quarantines the release it retreated from. Returns what was switched
    (None if the lease was lost) and the next PENDING deployment to run.
    """
    async with engine.begin() as conn:
        instance = await _lock_instance(conn, deployment)
        if not await _holds_lease(conn, deployment.id, owner):
            return None, await store.first_pending(conn, deployment.instance_id)
        provision = deployment.action is Action.PROVISION
        previous_release = await _release_of(conn, instance.active_deployment_id)
        switch: dict[str, object] = {
            "active_deployment_id": deployment.id if provision else None,
            "route_generation": instance.route_generation + 1,
            "update_time": sa.func.now(),
        }
        if provision and deployment.rollback_of_id:
            # SPEC §3: the next proposal composes on the rolled-back release, not the one retreated from.
            switch.update(
                bundle_release_id=deployment.bundle_release_id,
                version=deployment.version,
                release_channel=deployment.release_channel,
                pinned=True,
            )
        await conn.execute(instances.update().where(instances.c.id == instance.id).values(**switch))
        if instance.kind is Kind.DYNAMIC:
            keep = deployment.bundle_release_id if provision else None
            await runtime_store.schedule_drain(conn, instance.id, keep, warm_seconds if provision else 0)
        if provision and deployment.bundle_release_id:
            if deployment.bundle_release_id in instance.quarantined_release_ids:
                # Deployed by naming it (or rolled forward to it): the quarantine ends.
                await runtime_store.lift_quarantine(conn, instance.id, deployment.bundle_release_id)
            if deployment.rollback_of_id and previous_release and previous_release != deployment.bundle_release_id:
                await runtime_store.quarantine(conn, instance.id, previous_release, deployment.id)
        await conn.execute(_STALE_PLANS, {"instance_id": instance.id, "warning": STALE})
        status = next_status(Status.RUNNING, Transition.COMPLETE)
        await store.update(conn, deployment.id, {"status": status.value, "lease_owner": None, "lease_expires_at": None})
        generation = instance.route_generation + 1
        await events.append(
            conn, deployment.organization_id, deployment.id, deployment.instance_id,
            [
                NewEvent(EventType.PROVISIONED, Status.RUNNING, done),
                NewEvent(
                    EventType.SWITCHED,
                    Status.RUNNING,
                    f"active deployment {instance.active_deployment_id or 'none'} → "
                    f"{switch['active_deployment_id'] or 'none'}; route generation {generation}"
                    + (f"; release pointer pinned to v{deployment.version}" if "pinned" in switch else ""),
                ),
                NewEvent(EventType.COMPLETED, status, "completed"),
            ],
        )
        await audit_store.append(
            conn,
            deployment.organization_id,
            AuditEntry(
                "deployment.complete",
                f"deployments/{deployment.id}",
                previous_deployment_id=instance.active_deployment_id,
                new_deployment_id=deployment.id if provision else None,
                previous_release_id=previous_release,
                new_release_id=deployment.bundle_release_id if provision else None,
            ),
            actor=f"worker:{owner}",
            actor_kind="service",
            request_id="",
            attribution="",
            outcome="ok",
        )
        switched = Switched(
            organization_id=deployment.organization_id,
            instance_id=instance.id,
            active_deployment_id=deployment.id if provision else None,
            bundle_release_id=deployment.bundle_release_id if provision else None,
            version=deployment.version if provision else None,
            route_generation=generation,
        )
        return switched, await store.first_pending(conn, deployment.instance_id)


async def _release_of(conn: AsyncConnection, deployment_id: str | None) -> str | None:
    if deployment_id is None:
        return None
    row = await store.get_any_org(conn, deployment_id)
    return row.bundle_release_id if row else None


async def fail(
    engine: AsyncEngine, deployment: Deployment, owner: str | None, reason: str, warm_seconds: float = 900.0
) -> str | None:
    """Mark the deployment FAILED; the previously active deployment stays active.

    `owner=None` is the reaper acting on an expired lease. Returns the next
    PENDING deployment of the instance to run, if any.
    """
    async with engine.begin() as conn:
        instance = await _lock_instance(conn, deployment)
        row = (
            await conn.execute(
                sa.text("SELECT status, lease_owner, lease_expires_at < now() AS expired FROM deployments WHERE id = :id FOR UPDATE"),
                {"id": deployment.id},
            )
        ).first()
        still_ours = row is not None and row.status == Status.RUNNING.value and (
            row.lease_owner == owner if owner is not None else bool(row.expired)
        )
        if still_ours:
            status = next_status(Status.RUNNING, Transition.FAIL)
            await store.update(
                conn, deployment.id, {"status": status.value, "error": reason, "lease_owner": None, "lease_expires_at": None}
            )
            await events.append(
                conn, deployment.organization_id, deployment.id, deployment.instance_id,
                [NewEvent(EventType.FAILED, status, reason)],
            )
            await _audit_failure(conn, deployment, owner, reason)
            if instance.kind is Kind.DYNAMIC:
                # Instances spawned for the failed release are not serving: let them drain.
                live_release = await _release_of(conn, instance.active_deployment_id)
                await runtime_store.schedule_drain(conn, instance.id, live_release, warm_seconds)
        return await store.first_pending(conn, deployment.instance_id)


async def _audit_failure(conn: AsyncConnection, deployment: Deployment, owner: str | None, reason: str) -> None:
    await audit_store.append(
        conn,
        deployment.organization_id,
        AuditEntry("deployment.fail", f"deployments/{deployment.id}"),
        actor=f"worker:{owner}" if owner else "reaper",
        actor_kind="service",
        request_id="",
        attribution="",
        outcome=reason[:200],
    )


async def reap_expired(engine: AsyncEngine) -> list[str]:
    """Fail RUNNING deployments whose worker died; returns PENDING deployments to enqueue next."""
    async with engine.connect() as conn:
        expired = await store.expired_leases(conn)
    follow_ups = []
    for deployment_id, _ in expired:
        async with engine.connect() as conn:
            deployment = await store.get_any_org(conn, deployment_id)
        if deployment is None:
            continue
        next_id = await fail(engine, deployment, None, "the worker running this deployment stopped (lease expired)")
        if next_id:
            follow_ups.append(next_id)
    return follow_ups


async def stalled(engine: AsyncEngine, older_than_seconds: float) -> list[str]:
    async with engine.connect() as conn:
        return await store.stalled_pending(conn, older_than_seconds)
