"""Queries on deployments, including the worker's lock and lease."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.listing import Cursor, Term
from server.store.paging import keyset
from server.domain.models import Action, Deployment, Status
from server.store.tables import approve_order, deployments


def to_deployment(row: sa.Row[Any] | sa.RowMapping) -> Deployment:
    m = row._mapping if isinstance(row, sa.Row) else row
    return Deployment(
        id=m["id"],
        organization_id=m["organization_id"],
        instance_id=m["instance_id"],
        action=Action(m["action"]),
        status=Status(m["status"]),
        params=m["params"],
        md_metadata=m["md_metadata"],
        connection_params=m["connection_params"],
        bundle_release_id=m["bundle_release_id"],
        version=m["version"],
        release_channel=m["release_channel"],
        message=m["message"],
        rollback_of_id=m["rollback_of_id"],
        rollback_of_version=m["rollback_of_version"],
        plan=m["plan"],
        proposed_by=m["proposed_by"],
        decided_by=m["decided_by"],
        decide_time=m["decide_time"],
        reject_reason=m["reject_reason"],
        error=m["error"],
        create_time=m["create_time"],
        update_time=m["update_time"],
    )


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> Deployment:
    row = (await conn.execute(deployments.insert().values(**values).returning(deployments))).one()
    return to_deployment(row)


# Built once: constructing Core statements per call is a measurable share of an RPC's CPU (README, Performance).
_GET = sa.select(deployments).where(
    deployments.c.id == sa.bindparam("id"), deployments.c.organization_id == sa.bindparam("org")
)
_GET_LOCKED = _GET.with_for_update()
_GET_ANY_ORG = sa.select(deployments).where(deployments.c.id == sa.bindparam("id"))


async def get(
    conn: AsyncConnection, organization_id: str, deployment_id: str, lock: bool = False
) -> Deployment | None:
    row = (await conn.execute(_GET_LOCKED if lock else _GET, {"id": deployment_id, "org": organization_id})).first()
    return to_deployment(row) if row else None


async def get_any_org(conn: AsyncConnection, deployment_id: str) -> Deployment | None:
    """For workers, which act on ids they were handed by the control plane itself."""
    row = (await conn.execute(_GET_ANY_ORG, {"id": deployment_id})).first()
    return to_deployment(row) if row else None


async def list_page(
    conn: AsyncConnection, instance_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[Deployment]:
    query = sa.select(deployments).where(deployments.c.instance_id == instance_id)
    for term in terms:
        query = query.where(deployments.c[term.field] == term.value)
    rows = await conn.execute(keyset(query, deployments, desc, after, limit))
    return [to_deployment(r) for r in rows]


async def update(conn: AsyncConnection, deployment_id: str, values: dict[str, Any]) -> Deployment:
    row = (
        await conn.execute(
            deployments.update()
            .where(deployments.c.id == deployment_id)
            .values(**values, update_time=sa.func.now())
            .returning(deployments)
        )
    ).one()
    return to_deployment(row)


async def approve(conn: AsyncConnection, deployment_id: str, decided_by: str) -> Deployment:
    return await update(
        conn,
        deployment_id,
        {
            "status": Status.PENDING.value,
            "decided_by": decided_by,
            "decide_time": sa.func.now(),
            "approve_order": approve_order.next_value(),
        },
    )


_RUNNING_AND_HEAD = sa.text(
    """
    SELECT (SELECT id FROM deployments WHERE instance_id = :instance_id AND status = 'RUNNING') AS running,
           (SELECT id FROM deployments WHERE instance_id = :instance_id AND status = 'PENDING'
            ORDER BY approve_order LIMIT 1) AS head
    """
)


async def running_and_first_pending(conn: AsyncConnection, instance_id: str) -> tuple[str | None, str | None]:
    """The RUNNING deployment of the instance and its first PENDING one, in one round trip."""
    row = (await conn.execute(_RUNNING_AND_HEAD, {"instance_id": instance_id})).one()
    return (str(row.running) if row.running else None, str(row.head) if row.head else None)


async def first_pending(conn: AsyncConnection, instance_id: str) -> str | None:
    """The PENDING deployment of the instance that was approved first."""
    return (
        await conn.execute(
            sa.select(deployments.c.id)
            .where(deployments.c.instance_id == instance_id, deployments.c.status == Status.PENDING.value)
            .order_by(deployments.c.approve_order)
            .limit(1)
        )
    ).scalar()


async def start(conn: AsyncConnection, deployment_id: str, lease_owner: str, lease_seconds: float) -> Deployment:
    return await update(
        conn,
        deployment_id,
        {
            "status": Status.RUNNING.value,
            "lease_owner": lease_owner,
            "lease_expires_at": sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
        },
    )


async def renew_lease(conn: AsyncConnection, deployment_id: str, lease_owner: str, lease_seconds: float) -> bool:
    result = await conn.execute(
        deployments.update()
        .where(
            deployments.c.id == deployment_id,
            deployments.c.status == Status.RUNNING.value,
            deployments.c.lease_owner == lease_owner,
        )
        .values(lease_expires_at=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds))
    )
    return bool(result.rowcount)


async def expired_leases(conn: AsyncConnection, limit: int = 100) -> list[tuple[str, str]]:
    """(deployment id, instance id) of RUNNING deployments whose worker stopped renewing."""
    rows = await conn.execute(
        sa.select(deployments.c.id, deployments.c.instance_id)
        .where(deployments.c.status == Status.RUNNING.value, deployments.c.lease_expires_at < sa.func.now())
        .limit(limit)
    )
    return [(r.id, r.instance_id) for r in rows]


async def stalled_pending(conn: AsyncConnection, older_than_seconds: float, limit: int = 500) -> list[str]:
    """The first PENDING deployment of every instance that has nothing RUNNING."""
    running = sa.select(sa.literal(1)).where(
        deployments.c.status == Status.RUNNING.value,
        deployments.c.instance_id == sa.literal_column("p.instance_id"),
    )
    p = deployments.alias("p")
    rows = await conn.execute(
        sa.select(p.c.id)
        .distinct(p.c.instance_id)
        .where(
            p.c.status == Status.PENDING.value,
            p.c.decide_time < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds),
            ~sa.exists(running),
        )
        .order_by(p.c.instance_id, p.c.approve_order)
        .limit(limit)
    )
    return [r.id for r in rows]
