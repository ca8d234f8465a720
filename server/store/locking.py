"""Row locks, and the one order in which every transaction takes them.

Two transactions that take the same locks in opposite orders deadlock. So a
transaction that changes an instance, its deployments or its runtime
instances takes its locks in this order, and only through this module:

1. its idempotency key (server/app/mutation.py inserts the key first);
2. the instance row: the per-instance lock. Recording an event bumps
   `instances.event_seq`, so every transaction that records an event holds
   this lock anyway; taking it first is what keeps the order. Several
   instances are locked in id order;
3. deployment rows of that instance;
4. its runtime instance rows and release quarantine rows;
5. at COMMIT, the organization's audit-chain lock (a deferred trigger that
   takes nothing else, see the audit table's migration).

Release rows (archive, delete an artifact) are locked alone. A lease renewal
updates one deployment row and waits for nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.models import ApprovalRule, Deployment, Instance, Release, Status
from server.store import deployments as deployment_store
from server.store import instances as instance_store
from server.store import releases as release_store
from server.store import sql
from server.store.tables import deployments, instances, releases

_INSTANCES_IN_ORDER = (
    sa.select(instances.c.id)
    .where(instances.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(instances.c.id)
    .with_for_update()
)
# Steps 2 and 3 in one round trip: the materialized CTE locks the instance row when the outer
# query reads it, before the outer FOR UPDATE locks the deployment row.
# With them: the release of the instance's active deployment, and the deployment's lease; and
# what a use case reads with its lock (`also`: more columns, `joins` of the deployment `d`).
def _deployment_statement(also: str = "", joins: str = "") -> str:
    return f"""
WITH i AS MATERIALIZED (
    SELECT {instance_store.SELECT_LIST},
           (SELECT a.bundle_release_id::text FROM deployments a WHERE a.id = x.active_deployment_id) AS active_release_id
    FROM instances x
    WHERE x.id = (SELECT instance_id FROM deployments WHERE id = $1)
    FOR UPDATE OF x
)
SELECT i.*, {sql.columns(deployments, "d", named="d_")}, d.lease_expires_at < now() AS lease_expired{also}
FROM i JOIN deployments d ON d.id = $1 AND d.organization_id = i.organization_id{joins}
FOR UPDATE OF d
"""


_DEPLOYMENT = _deployment_statement()
# A rollback's source, with its release.
_DEPLOYMENT_WITH_RELEASE = _deployment_statement(
    f", {sql.columns(releases, 'r', named='r_')}",
    " LEFT JOIN releases r ON r.id = d.bundle_release_id AND r.organization_id = d.organization_id",
)
# An approval's facts: the rule of the instance's environment, and the approvers so far. Those are
# read in the statement's snapshot, taken before it waited for the locks: an approval committed
# meanwhile is not in it. Each approval appends an event, bumping the deployment's `event_seq`,
# and the locked row is the newest version: `facts_current` is false when the snapshot's row is older.
_DEPLOYMENT_FOR_APPROVAL = _deployment_statement(
    """, r.required_approvals AS rule_required_approvals, r.proposer_may_approve AS rule_proposer_may_approve,
       ARRAY(SELECT a.principal FROM approvals a WHERE a.deployment_id = $1) AS approvers,
       (SELECT s.event_seq FROM deployments s WHERE s.id = $1) IS NOT DISTINCT FROM d.event_seq AS facts_current""",
    " LEFT JOIN approval_rules r ON r.organization_id = i.organization_id AND r.environment = i.environment",
)
_APPROVERS = "SELECT principal FROM approvals WHERE deployment_id = $1"


@dataclass(frozen=True)
class Locked:
    instance: Instance
    deployment: Deployment
    lease: deployment_store.Lease
    # The release of the instance's active deployment, if any.
    active_release_id: str | None


async def instance(conn: AsyncConnection, organization_id: str, instance_id: str) -> Instance | None:
    """Lock the instance (step 2)."""
    return await instance_store.get(conn, organization_id, instance_id, lock=True)


async def instances_in_order(conn: AsyncConnection, instance_ids: list[str]) -> None:
    """Lock several instances (step 2), in id order."""
    if instance_ids:
        await conn.execute(_INSTANCES_IN_ORDER, {"ids": sorted(set(instance_ids))})


async def deployment(
    conn: AsyncConnection, organization_id: str | None, deployment_id: str
) -> tuple[Instance, Deployment] | None:
    """Lock the deployment's instance (step 2), then the deployment (step 3).

    `organization_id=None` is for workers, which act on ids the control plane handed them.
    """
    found = await deployment_locked(conn, organization_id, deployment_id)
    return (found.instance, found.deployment) if found is not None else None


async def deployment_locked(conn: AsyncConnection, organization_id: str | None, deployment_id: str) -> Locked | None:
    """`deployment`, in the same round trip, with the deployment's lease and the active release."""
    row = await (await sql.raw(conn)).fetchrow(_DEPLOYMENT, deployment_id)
    return _locked(row, organization_id)


async def deployment_with_release(
    conn: AsyncConnection, organization_id: str, deployment_id: str
) -> tuple[Locked, Release | None] | None:
    """`deployment_locked`, and in the same round trip the deployment's release (None if it names none, or
    one of another organization). Its artifact is not checked (server/app/releases.py `checked`)."""
    row = await (await sql.raw(conn)).fetchrow(_DEPLOYMENT_WITH_RELEASE, deployment_id)
    found = _locked(row, organization_id)
    if row is None or found is None:
        return None
    release = None
    if row["r_id"] is not None:
        release = release_store.to_release({k[2:]: v for k, v in row.items() if k.startswith("r_")})
    return found, release


@dataclass(frozen=True)
class ApprovalFacts:
    """What separation of duties decides on (server/domain/approvals.py), read under the locks."""

    # The approval rule of the instance's environment, if it has one.
    rules: list[ApprovalRule]
    # The distinct approvers so far.
    approvers: set[str]


async def deployment_for_approval(
    conn: AsyncConnection, organization_id: str, deployment_id: str
) -> tuple[Locked, ApprovalFacts] | None:
    """`deployment_locked`, and in the same round trip the approval rule and the approvers so far (read
    again, in a second round trip, only when the deployment changed while this statement waited for the locks)."""
    raw = await sql.raw(conn)
    row = await raw.fetchrow(_DEPLOYMENT_FOR_APPROVAL, deployment_id)
    found = _locked(row, organization_id)
    if row is None or found is None:
        return None
    rules = []
    if row["rule_required_approvals"] is not None:
        rules.append(
            ApprovalRule(found.instance.environment, row["rule_required_approvals"], row["rule_proposer_may_approve"])
        )
    approvers = set(row["approvers"])
    if not row["facts_current"]:
        approvers = {r["principal"] for r in await raw.fetch(_APPROVERS, deployment_id)}
    return found, ApprovalFacts(rules, approvers)


def _locked(row: Any, organization_id: str | None) -> Locked | None:
    if row is None:
        return None
    found = instance_store.to_instance(row)
    if organization_id is not None and found.organization_id != organization_id:
        return None
    d = {k[2:]: v for k, v in row.items() if k.startswith("d_")}
    lease = deployment_store.Lease(Status(d["status"]), d["lease_owner"], bool(row["lease_expired"]), d["attempt"])
    return Locked(found, deployment_store.to_deployment(d), lease, row["active_release_id"])
