"""Deployment use cases on the control-plane side: propose, approve, reject, read, list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from server.app import releases
from server.app.context import Caller, Services
from server.app.mutation import Change
from server.domain import approvals as approval_rules
from server.domain import deployments as transitions
from server.domain import listing, snapshot
from server.domain import releases as release_rules
from server.domain import rollback as rollback_rules
from server.domain.audit import ActiveMove, Created
from server.domain.errors import NotFound
from server.domain.models import Action, Deployment, Instance, Release, Status
from server.store import deployments as store
from server.store import events, locking, sql
from server.store import instances as instance_store
from server.store import releases as release_store

FILTER_RULES = {
    "action": listing.FieldRule(frozenset({"="}), listing.enum_value("ACTION", frozenset(a.value for a in Action))),
    "status": listing.FieldRule(frozenset({"="}), listing.enum_value("STATUS", frozenset(s.value for s in Status))),
}


def _deployment_not_found(deployment_id: str) -> NotFound:
    return NotFound(f"deployment {deployment_id} not found")


async def _instance(conn: sql.Conn, caller: Caller, instance_id: str, lock: bool = False) -> Instance:
    found = await instance_store.get(conn, caller.organization_id, instance_id, lock=lock)
    if found is None:
        raise NotFound(f"instance {instance_id} not found")
    return found


async def _lock(conn: AsyncConnection, caller: Caller, deployment_id: str) -> tuple[Instance, Deployment]:
    """The deployment and its instance, locked in the one order (server/store/locking.py)."""
    found = await _locked(conn, caller, deployment_id)
    return found.instance, found.deployment


async def _locked(conn: AsyncConnection, caller: Caller, deployment_id: str) -> locking.Locked:
    found = await locking.deployment_locked(conn, caller.organization_id, deployment_id)
    if found is None:
        raise _deployment_not_found(deployment_id)
    return found


async def _release(svc: Services, conn: AsyncConnection, caller: Caller, release_id: str) -> Release:
    return await releases.find(svc, conn, caller.organization_id, release_id)


async def _effective_release(svc: Services, conn: AsyncConnection, caller: Caller, instance: Instance) -> Release:
    """The pinned release if pinned, else the newest READY one within the constraint (docs/product.md §2)."""
    if instance.pinned and instance.bundle_release_id:
        release = await _release(svc, conn, caller, instance.bundle_release_id)
        release_rules.check_deployable(release, instance.bundle)
        return release
    rows = await release_store.candidates(conn, caller.organization_id, instance.bundle, instance.release_channel)
    return release_rules.newest_matching(instance, [await releases.checked(svc.artifacts, r) for r in rows])


async def _insert_proposal(
    conn: AsyncConnection,
    caller: Caller,
    instance: Instance,
    action: Action,
    snap: snapshot.Snapshot | None,
    message: str,
    rollback_of: Deployment | None = None,
    locked: locking.Locked | None = None,
) -> Change[Deployment]:
    """The proposal with its PROPOSED event and its audit record: one statement. A rollback (`rollback_of`)
    aims to move the active deployment (`locked`: its instance as locked, with the active release)."""
    step = transitions.proposed(message, caller.principal_id)
    deployment_id = str(uuid.uuid4())
    new_release = snap.bundle_release_id if snap else None
    moves = await _moves(conn, instance, deployment_id, new_release, locked) if rollback_of else None
    audit = caller.audit.take(Created(deployment_id), moves) if caller.audit else None
    proposal = await store.insert_with_events(
        conn,
        {
            "id": deployment_id,
            "organization_id": caller.organization_id,
            "instance_id": instance.id,
            "action": action.value,
            "status": step.status.value,
            "params": snap.params if snap else {},
            "md_metadata": snap.md_metadata if snap else snapshot.md_metadata(instance),
            "connection_params": snap.connection_params if snap else {},
            "bundle_release_id": new_release,
            "version": snap.version if snap else None,
            "release_channel": snap.release_channel if snap else None,
            "message": message,
            "proposed_by": caller.principal_id,
            "rollback_of_id": rollback_of.id if rollback_of else None,
            "rollback_of_version": rollback_of.version if rollback_of else None,
        },
        caller.organization_id,
        step.events,
        audit,
    )
    return Change(proposal, moves)


async def _moves(
    conn: AsyncConnection, instance: Instance, new_id: str, new_release_id: str | None, locked: locking.Locked | None
) -> ActiveMove:
    """For a change that aims to make deployment `new_id` (of release `new_release_id`) active: from what to what
    (`locked` read the active deployment's release already)."""
    if locked is not None:
        previous_release = locked.active_release_id
    else:
        active = await store.get_any_org(conn, instance.active_deployment_id) if instance.active_deployment_id else None
        previous_release = active.bundle_release_id if active else None
    return ActiveMove(
        previous_deployment_id=instance.active_deployment_id,
        new_deployment_id=new_id,
        previous_release_id=previous_release,
        new_release_id=new_release_id,
    )


async def propose(
    conn: AsyncConnection, svc: Services, caller: Caller, instance_id: str, release_id: str, message: str
) -> Change[Deployment]:
    instance = await _instance(conn, caller, instance_id, lock=True)
    if release_id:
        # One-shot: applied by this deployment only; the pointer does not move.
        release = await _release(svc, conn, caller, release_id)
        release_rules.check_deployable(release, instance.bundle)
    else:
        release = await _effective_release(svc, conn, caller, instance)
    release_rules.check_servable(release, instance)
    snap = snapshot.from_instance(instance, release)
    return await _insert_proposal(conn, caller, instance, Action.PROVISION, snap, message or f"Deploy v{release.version}")


async def decommission(
    conn: AsyncConnection, svc: Services, caller: Caller, instance_id: str, message: str
) -> Change[Deployment]:
    instance = await _instance(conn, caller, instance_id, lock=True)
    return await _insert_proposal(conn, caller, instance, Action.DECOMMISSION, None, message or "Decommission")


@dataclass(frozen=True)
class RollbackTo:
    """The source of a rollback: named, or chosen on an instance (its previous good run)."""

    source_id: str | None
    instance_id: str | None = None


async def rollback(
    conn: AsyncConnection, svc: Services, caller: Caller, to: RollbackTo, reason: str = ""
) -> Change[Deployment]:
    """A PROPOSED PROVISION that reproduces the source deployment exactly (docs/product.md §3), in one transaction."""
    locked = None
    if to.source_id:
        found = await locking.deployment_with_release(conn, caller.organization_id, to.source_id)
        if found is None:
            raise _deployment_not_found(to.source_id)
        locked, release = found
        instance, source = locked.instance, locked.deployment
        if source.bundle_release_id:
            if release is None:
                raise NotFound(f"release {source.bundle_release_id} not found")
            release = await releases.checked(svc.artifacts, release)
        rollback_rules.check_source(source, release, instance)
    else:
        assert to.instance_id is not None
        instance = await _instance(conn, caller, to.instance_id, lock=True)
        source = rollback_rules.previous_good(await _past_runs(svc, conn, caller, instance), instance)
    snap = rollback_rules.snapshot(source, instance)
    return await _insert_proposal(
        conn, caller, instance, Action.PROVISION, snap, rollback_rules.message(source, reason), source, locked
    )


async def _past_runs(
    svc: Services, conn: AsyncConnection, caller: Caller, instance: Instance
) -> list[tuple[Deployment, Release | None]]:
    """The instance's COMPLETED PROVISION deployments, newest first, each with its release."""
    runs = await store.completed_provisions(conn, instance.id)
    ids = list({r.bundle_release_id for r in runs if r.bundle_release_id})
    rows = await release_store.get_many(conn, caller.organization_id, ids)
    found = {r.id: await releases.checked(svc.artifacts, r) for r in rows}
    return [(run, found.get(run.bundle_release_id or "")) for run in runs]


async def request_plan(conn: AsyncConnection, svc: Services, caller: Caller, deployment_id: str) -> Change[Deployment]:
    """Hands planning to a worker; the plan arrives on the deployment and as a PLANNED event."""
    _, current = await _lock(conn, caller, deployment_id)
    step = transitions.plan_requested(current.status, caller.principal_id)
    [started] = await events.append(conn, caller.organization_id, deployment_id, current.instance_id, step.events)

    async def enqueue() -> None:
        await svc.queue.enqueue_plan(deployment_id, started.sequence)

    return Change(current, after_commit=[enqueue])


async def approve(conn: AsyncConnection, svc: Services, caller: Caller, deployment_id: str) -> Change[Deployment]:
    """One approval. The deployment becomes PENDING (and is handed to a worker) once the
    environment's approval rule has enough distinct approvers (separation of duties)."""
    found = await locking.deployment_for_approval(conn, caller.organization_id, deployment_id)
    if found is None:
        raise _deployment_not_found(deployment_id)
    locked, facts = found
    instance, current = locked.instance, locked.deployment
    transitions.require_proposed(current.status, "approved")
    rule = approval_rules.rule_for(instance.environment, facts.rules)
    tally = approval_rules.approve(rule, current.proposed_by, caller.principal_id, facts.approvers)
    step = transitions.approve(current.status, caller.principal_id, tally)
    moves = await _moves(conn, instance, current.id, current.bundle_release_id, locked)
    pending = step.status is not current.status
    # The approval, the status (if the tally is reached), the events and the audit record: one statement.
    audit = caller.audit.take(current, moves) if caller.audit else None
    recorded = await store.approve(conn, caller.organization_id, current, caller.principal_id, pending, step.events, audit)
    if not pending:
        return Change(current, moves)

    async def enqueue() -> None:
        await svc.queue.enqueue_provision(deployment_id)

    return Change(recorded, moves, [enqueue])


async def reject(
    conn: AsyncConnection, svc: Services, caller: Caller, deployment_id: str, reason: str
) -> Change[Deployment]:
    _, current = await _lock(conn, caller, deployment_id)
    step = transitions.reject(current.status, caller.principal_id, reason)
    rejected = await store.reject(conn, deployment_id, step.status, caller.principal_id, reason)
    await events.append(conn, caller.organization_id, deployment_id, current.instance_id, step.events)
    return Change(rejected)


async def get(svc: Services, caller: Caller, deployment_id: str) -> Deployment:
    async with svc.reads() as conn:
        found = await store.get(conn, caller.organization_id, deployment_id)
    if found is None:
        raise _deployment_not_found(deployment_id)
    return found


async def list_page(
    svc: Services, caller: Caller, instance_id: str, filter_text: str, order_by: str, page_size: int, page_token: str
) -> tuple[list[Deployment], str]:
    q = listing.query(
        ("deployments", caller.organization_id, instance_id), FILTER_RULES, filter_text, order_by, page_size, page_token, default_desc=True
    )
    async with svc.reads() as conn:
        await _instance(conn, caller, instance_id)
        rows = await store.list_page(conn, instance_id, q.terms, q.desc, q.cursor, q.limit + 1)
    return q.page(rows)
