"""PlanDeployment's worker side: compute the diff between what is live and what the proposal would make live."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from server.app import releases
from server.app.context import Services
from server.domain.models import JSON, EventType, Kind, NewEvent, Release, RuntimeState, Status
from server.domain.plan import Live, Target, make_plan, mark_stale
from server.store import deployments as store
from server.store import events, locking
from server.store import instances as instance_store
from server.store import releases as release_store
from server.store import runtime as runtime_store


async def _release(svc: Services, conn: AsyncConnection, organization_id: str, release_id: str | None) -> Release | None:
    if release_id is None:
        return None
    found = await release_store.get(conn, organization_id, release_id)
    return await releases.checked(svc.artifacts, found) if found else None


def summary(plan: JSON) -> str:
    parts = []
    if plan["release_change"]:
        change = plan["release_change"]
        parts.append(f"release {change['from'] or 'none'} → {change['to']}")
    for key in ("params", "connections"):
        d = plan[key]
        parts.append(f"{key}: {len(d['added'])} added, {len(d['changed'])} changed, {len(d['removed'])} removed")
    if plan["runtime_instances"]:
        r = plan["runtime_instances"]
        parts.append(f"runtime instances: reuse {r['reuse']}, spawn {r['spawn']}, drain {r['drain']}")
    parts += [f"warning: {w}" for w in plan["warnings"]]
    return "; ".join(parts)


async def plan_deployment(svc: Services, deployment_id: str) -> JSON | None:
    """Compute and store the plan of a PROPOSED deployment; None if it is no longer PROPOSED."""
    async with svc.reader.connect() as conn:
        proposal = await store.get_any_org(conn, deployment_id)
        if proposal is None or proposal.status is not Status.PROPOSED:
            return None
        org = proposal.organization_id
        instance = await instance_store.get(conn, org, proposal.instance_id)
        assert instance is not None
        live_deployment = (
            await store.get(conn, org, instance.active_deployment_id) if instance.active_deployment_id else None
        )
        live_release = await _release(svc, conn, org, live_deployment.bundle_release_id if live_deployment else None)
        target_release = await _release(svc, conn, org, proposal.bundle_release_id)
        live_runtime = warm = 0
        if instance.kind is Kind.DYNAMIC:
            if live_release:
                live_runtime = await runtime_store.count(conn, instance.id, live_release.id, runtime_store.LIVE_STATES)
            if target_release:
                warm = await runtime_store.count(conn, instance.id, target_release.id, (RuntimeState.HEALTHY.value,))
    plan = make_plan(
        Live(live_deployment, live_release, live_runtime),
        Target(
            proposal,
            target_release,
            instance.kind,
            instance.replicas,
            warm,
            quarantined=bool(target_release and target_release.id in instance.quarantined_release_ids),
        ),
    )
    async with svc.engine.begin() as conn:
        locked = await locking.deployment(conn, org, deployment_id)
        if locked is None or locked[1].status is not Status.PROPOSED:
            return None
        now_live, _ = locked
        if now_live.active_deployment_id != plan["live_deployment_id"]:
            plan = mark_stale(plan)
        await store.update(conn, deployment_id, {"plan": plan})
        await events.append(conn, org, deployment_id, proposal.instance_id, [NewEvent(EventType.PLANNED, Status.PROPOSED, summary(plan))])
    return plan
