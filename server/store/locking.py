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

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.models import Deployment, Instance, Status
from server.store import deployments as deployment_store
from server.store import instances as instance_store
from server.store import sql
from server.store.tables import deployments, instances

_INSTANCES_IN_ORDER = (
    sa.select(instances.c.id)
    .where(instances.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(instances.c.id)
    .with_for_update()
)
# Steps 2 and 3 in one round trip: the materialized CTE locks the instance row when the outer
# query reads it, before the outer FOR UPDATE locks the deployment row.
# With them: the release of the instance's active deployment, and the deployment's lease.
_DEPLOYMENT = f"""
WITH i AS MATERIALIZED (
    SELECT {instance_store.SELECT_LIST},
           (SELECT a.bundle_release_id::text FROM deployments a WHERE a.id = x.active_deployment_id) AS active_release_id
    FROM instances x
    WHERE x.id = (SELECT instance_id FROM deployments WHERE id = $1)
    FOR UPDATE OF x
)
SELECT i.*, {sql.columns(deployments, "d", named="d_")}, d.lease_expires_at < now() AS lease_expired
FROM i JOIN deployments d ON d.id = $1 AND d.organization_id = i.organization_id
FOR UPDATE OF d
"""


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
    if row is None:
        return None
    found = instance_store.to_instance(row)
    if organization_id is not None and found.organization_id != organization_id:
        return None
    d = {k[2:]: v for k, v in row.items() if k.startswith("d_")}
    lease = deployment_store.Lease(Status(d["status"]), d["lease_owner"], bool(row["lease_expired"]), d["attempt"])
    return Locked(found, deployment_store.to_deployment(d), lease, row["active_release_id"])
