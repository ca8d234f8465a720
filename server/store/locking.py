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

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.models import Deployment, Instance
from server.store import deployments as deployment_store
from server.store import instances as instance_store
from server.store.tables import deployments, instances

_INSTANCES_IN_ORDER = (
    sa.select(instances.c.id)
    .where(instances.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(instances.c.id)
    .with_for_update()
)
_INSTANCE_OF_DEPLOYMENT = sa.select(deployments.c.instance_id).where(deployments.c.id == sa.bindparam("id"))


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
    instance_id = (await conn.execute(_INSTANCE_OF_DEPLOYMENT, {"id": deployment_id})).scalar()
    if instance_id is None:
        return None
    found = await instance_store.get_any_org(conn, str(instance_id), lock=True)
    if found is None or (organization_id is not None and found.organization_id != organization_id):
        return None
    locked = await deployment_store.get(conn, found.organization_id, deployment_id, lock=True)
    return (found, locked) if locked is not None else None
