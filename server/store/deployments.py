"""Queries on deployments, including the worker's lock and lease."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.audit import AuditRecord
from server.domain.listing import Cursor, Term
from server.domain.models import Action, Deployment, NewEvent, Status
from server.store import audit as audit_store
from server.store import events, sql
from server.store.paging import keyset_sql
from server.store.tables import approve_order, deployments


def to_deployment(row: sa.Row[Any] | sa.RowMapping | Any) -> Deployment:
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


# The hot path's statements are plain asyncpg (server/store/sql.py), prepared once per connection.
_COLUMNS = sql.columns(deployments)


_INSERTS_WITH_EVENTS: dict[tuple[tuple[str, ...], bool], str] = {}


def _insert_with_events(names: tuple[str, ...], audited: bool) -> str:
    """A new deployment (columns `names`) and its first events, announced, in one statement (`audited`: and the
    change's audit record). The events take sequences 1…n of the new row (its `event_seq` starts at n) and the
    instance's next ones."""
    n = len(names)
    count, org, types, statuses, messages, done, total, channel = (f"${n + k}" for k in range(1, 9))
    return f"""
    WITH {audit_store.written_with(n + 9) if audited else ""}d AS (
        INSERT INTO deployments ({', '.join(names)}, event_seq)
        VALUES ({', '.join(f'${k}' for k in range(1, n + 1))}, {count}) RETURNING {_COLUMNS}
    ), i AS (
        UPDATE instances SET event_seq = instances.event_seq + {count} FROM d
        WHERE instances.id = CAST(d.instance_id AS uuid) RETURNING instances.event_seq
    ), rows AS (
        INSERT INTO deployment_events (deployment_id, sequence, organization_id, instance_id,
                                       instance_sequence, type, status, message, progress_done, progress_total)
        SELECT CAST(d.id AS uuid), e.ord, {org}, CAST(d.instance_id AS uuid),
               i.event_seq - {count} + e.ord, e.type, e.status, e.message, e.done, e.total
        FROM d, i, unnest(CAST({types} AS text[]), CAST({statuses} AS text[]), CAST({messages} AS text[]),
                          CAST({done} AS int[]), CAST({total} AS int[]))
                   WITH ORDINALITY AS e(type, status, message, done, total, ord)
        RETURNING *
    )
    SELECT d.*, (SELECT count({events.notify(channel)}) FROM rows) AS notified FROM d
    """


async def insert_with_events(
    conn: AsyncConnection,
    values: dict[str, Any],
    organization_id: str,
    new_events: list[NewEvent],
    audit: AuditRecord | None = None,
) -> Deployment:
    """A new (not terminal) deployment with its first events (and `audit`, its audit record): one round trip."""
    names = tuple(values)
    statement = _INSERTS_WITH_EVENTS.get((names, audit is not None))
    if statement is None:
        statement = _INSERTS_WITH_EVENTS[names, audit is not None] = _insert_with_events(names, audit is not None)
    args = [sql.dumps(v) if sql.is_json(deployments.c[k]) else v for k, v in values.items()]
    row = await (await sql.raw(conn)).fetchrow(
        statement,
        *args,
        len(new_events),
        organization_id,
        [e.type.value for e in new_events],
        [e.status.value for e in new_events],
        [e.message[: events.MAX_MESSAGE] for e in new_events],
        [e.progress_done for e in new_events],
        [e.progress_total for e in new_events],
        events.CHANNEL,
        *audit_store.written_args(audit),
    )
    assert row is not None
    return to_deployment(row)


_GET = f"SELECT {_COLUMNS} FROM deployments WHERE id = $1 AND organization_id = $2"
_GET_LOCKED = _GET + " FOR UPDATE"
_GET_ANY_ORG = f"SELECT {_COLUMNS} FROM deployments WHERE id = $1"


async def get(
    conn: sql.Conn, organization_id: str, deployment_id: str, lock: bool = False
) -> Deployment | None:
    row = await (await sql.raw(conn)).fetchrow(_GET_LOCKED if lock else _GET, deployment_id, organization_id)
    return to_deployment(row) if row else None


async def get_any_org(conn: AsyncConnection, deployment_id: str) -> Deployment | None:
    """For workers, which act on ids they were handed by the control plane itself."""
    row = await (await sql.raw(conn)).fetchrow(_GET_ANY_ORG, deployment_id)
    return to_deployment(row) if row else None


async def list_page(
    conn: sql.Conn, instance_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[Deployment]:
    where: list[tuple[str, str, object]] = [("instance_id", "=", instance_id)]
    where += [(deployments.c[term.field].name, "=", term.value) for term in terms]
    statement, args = keyset_sql(f"SELECT {_COLUMNS} FROM deployments", where, desc, after, limit)
    return [to_deployment(r) for r in await (await sql.raw(conn)).fetch(statement, *args)]


_COMPLETED_PROVISIONS = (
    sa.select(deployments)
    .where(
        deployments.c.instance_id == sa.bindparam("instance_id"),
        deployments.c.action == Action.PROVISION.value,
        deployments.c.status == Status.COMPLETED.value,
    )
    .order_by(deployments.c.create_time.desc(), deployments.c.id.desc())
    .limit(sa.bindparam("limit"))
)


async def count_by_status(conn: AsyncConnection) -> dict[str, int]:
    """Deployments of every organization by status (for metrics)."""
    rows = await conn.execute(sa.select(deployments.c.status, sa.func.count()).group_by(deployments.c.status))
    return {r[0]: int(r[1]) for r in rows}


async def completed_provisions(conn: AsyncConnection, instance_id: str, limit: int = 100) -> list[Deployment]:
    """The instance's COMPLETED PROVISION deployments, newest first: the runs it could return to."""
    rows = await conn.execute(_COMPLETED_PROVISIONS, {"instance_id": instance_id, "limit": limit})
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


# One approval in one round trip: the approval recorded, the deployment PENDING if the tally says so
# ($13, decided by server/domain/approvals.py on facts read under the locks), and its events appended.
def _approve_statement(audited: bool) -> str:
    return events.append_statement(
        before="approval AS (INSERT INTO approvals (deployment_id, principal) VALUES ($2, $12)), "
        + (audit_store.written_with(14) if audited else ""),
        set_deployment=f""",
            status = CASE WHEN $13 THEN 'PENDING' ELSE status END,
            decided_by = CASE WHEN $13 THEN $12 ELSE decided_by END,
            decide_time = CASE WHEN $13 THEN now() ELSE decide_time END,
            approve_order = CASE WHEN $13 THEN nextval('{approve_order.name}') ELSE approve_order END,
            update_time = CASE WHEN $13 THEN now() ELSE update_time END""",
        deployment_columns=sql.columns(deployments, named="d_"),
    )


_APPROVE, _APPROVE_AUDITED = _approve_statement(False), _approve_statement(True)


async def approve(
    conn: AsyncConnection,
    organization_id: str,
    deployment: Deployment,
    approver: str,
    pending: bool,
    new_events: list[NewEvent],
    audit: AuditRecord | None = None,
) -> Deployment:
    """Record `approver`'s approval of the (locked, PROPOSED) deployment with its events (and `audit`, its audit
    record); with `pending`, the deployment is approved: PENDING, decided by `approver`, next in the approval
    order. Returns it as updated."""
    args = events.append_args(organization_id, deployment.id, deployment.instance_id, new_events)
    statement = _APPROVE if audit is None else _APPROVE_AUDITED
    rows = await (await sql.raw(conn)).fetch(statement, *args, approver, pending, *audit_store.written_args(audit))
    assert rows, "a PROPOSED deployment takes events"
    return to_deployment({k[2:]: v for k, v in rows[0].items() if k.startswith("d_")})


# With the run's end: (for a switch) the instance's planned proposals marked stale, and the
# instance's first PENDING deployment (read from the statement's snapshot: the ended one was RUNNING).
_END = """
WITH stale AS (
    UPDATE deployments
    SET plan = plan || jsonb_build_object(
            'stale', true, 'warnings', coalesce(plan->'warnings', '[]'::jsonb) || to_jsonb(CAST($5 AS text)))
    WHERE $4 AND instance_id = $6 AND status = 'PROPOSED' AND plan IS NOT NULL
      AND NOT coalesce((plan->>'stale')::boolean, false)
), ended AS (
    UPDATE deployments SET status = $2, error = coalesce($3, error), lease_owner = NULL, lease_expires_at = NULL,
        update_time = now()
    WHERE id = $1
)
SELECT (SELECT id::text FROM deployments WHERE instance_id = $6 AND status = 'PENDING'
        ORDER BY approve_order LIMIT 1) AS next_pending
"""


async def end(
    conn: AsyncConnection,
    deployment_id: str,
    instance_id: str,
    status: Status,
    error: str | None = None,
    stale_warning: str | None = None,
) -> str | None:
    """The run is over (COMPLETED, or FAILED with `error`): the lease ends with it. With `stale_warning`
    the instance's planned proposals are marked stale (mark_plans_stale). Returns the first PENDING
    deployment of the instance."""
    next_id: str | None = await (await sql.raw(conn)).fetchval(
        _END, deployment_id, status.value, error, stale_warning is not None, stale_warning or "", instance_id
    )
    return next_id


async def reject(conn: AsyncConnection, deployment_id: str, status: Status, decided_by: str, reason: str) -> Deployment:
    """Record the rejection (`status` is what the state machine says it leads to)."""
    return await update(
        conn,
        deployment_id,
        {
            "status": status.value,
            "decided_by": decided_by,
            "decide_time": sa.func.now(),
            "reject_reason": reason,
        },
    )


_RUNNING_AND_HEAD = """
    SELECT (SELECT id::text FROM deployments WHERE instance_id = $1 AND status = 'RUNNING') AS running,
           (SELECT id::text FROM deployments WHERE instance_id = $1 AND status = 'PENDING'
            ORDER BY approve_order LIMIT 1) AS head
"""


async def running_and_first_pending(conn: AsyncConnection, instance_id: str) -> tuple[str | None, str | None]:
    """The RUNNING deployment of the instance and its first PENDING one, in one round trip."""
    row = await (await sql.raw(conn)).fetchrow(_RUNNING_AND_HEAD, instance_id)
    assert row is not None
    return row["running"], row["head"]


async def first_pending(conn: AsyncConnection, instance_id: str) -> str | None:
    """The PENDING deployment of the instance that was approved first."""
    found: str | None = await (await sql.raw(conn)).fetchval(_FIRST_PENDING, instance_id)
    return found


# The run step recorded once the driver step is done (with the PROVISIONED event): a run taken
# over after it goes on from its runtime instances instead of provisioning again.
STEP_PROVISIONED = "provisioned"


def _lease_until(lease_seconds: float) -> sa.ColumnElement[Any]:
    return sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds)


_START = events.append_statement(
    set_deployment=""", status = 'RUNNING', lease_owner = $12, lease_expires_at = now() + make_interval(secs => $13),
        attempt = 1, update_time = now()""",
    deployment_columns=sql.columns(deployments, named="d_"),
)


async def start(
    conn: AsyncConnection, deployment: Deployment, lease_owner: str, lease_seconds: float, new_events: list[NewEvent]
) -> Deployment:
    """The (locked, PENDING) deployment RUNNING under `lease_owner`'s lease, with its first events (at least
    one): one statement. Returns it as updated."""
    args = events.append_args(deployment.organization_id, deployment.id, deployment.instance_id, new_events)
    rows = await (await sql.raw(conn)).fetch(_START, *args, lease_owner, lease_seconds)
    assert rows, "a PENDING deployment takes events"
    return to_deployment({k[2:]: v for k, v in rows[0].items() if k.startswith("d_")})


@dataclass(frozen=True)
class Takeover:
    deployment: Deployment
    attempt: int
    run_step: str


_TAKE_OVER = (
    deployments.update()
    .where(
        deployments.c.id == sa.bindparam("did"),
        deployments.c.status == Status.RUNNING.value,
        sa.or_(deployments.c.lease_owner.is_(None), deployments.c.lease_expires_at < sa.func.now()),
    )
    .values(
        lease_owner=sa.bindparam("owner"),
        lease_expires_at=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.bindparam("seconds")),
        attempt=deployments.c.attempt + 1,
        update_time=sa.func.now(),
    )
    .returning(deployments)
)


async def take_over(conn: AsyncConnection, deployment_id: str, lease_owner: str, lease_seconds: float) -> Takeover | None:
    """Take the lease of a RUNNING deployment whose worker stopped renewing it; None while it is held."""
    row = (await conn.execute(_TAKE_OVER, {"did": deployment_id, "owner": lease_owner, "seconds": lease_seconds})).first()
    if row is None:
        return None
    return Takeover(to_deployment(row), row._mapping["attempt"], row._mapping["run_step"])


async def hand_back(conn: AsyncConnection, deployment_id: str, lease_owner: str) -> bool:
    """End our lease now, so that another worker may take the run over at once."""
    result = await conn.execute(
        deployments.update()
        .where(
            deployments.c.id == deployment_id,
            deployments.c.status == Status.RUNNING.value,
            deployments.c.lease_owner == lease_owner,
        )
        .values(lease_expires_at=sa.func.now() - sa.text("interval '1 second'"))
    )
    return bool(result.rowcount)


async def mark_step(conn: AsyncConnection, deployment_id: str, lease_owner: str, step: str) -> bool:
    result = await conn.execute(
        deployments.update()
        .where(
            deployments.c.id == deployment_id,
            deployments.c.status == Status.RUNNING.value,
            deployments.c.lease_owner == lease_owner,
        )
        .values(run_step=step)
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class Lease:
    status: Status
    owner: str | None
    expired: bool
    attempt: int


_FIRST_PENDING = "SELECT id::text FROM deployments WHERE instance_id = $1 AND status = 'PENDING' ORDER BY approve_order LIMIT 1"
_LEASE = sa.select(
    deployments.c.status,
    deployments.c.lease_owner,
    (deployments.c.lease_expires_at < sa.func.now()).label("expired"),
    deployments.c.attempt,
).where(deployments.c.id == sa.bindparam("id"))


async def lease(conn: AsyncConnection, deployment_id: str) -> Lease | None:
    """Who runs the deployment; read under the caller's locks (server/store/locking.py)."""
    row = (await conn.execute(_LEASE, {"id": deployment_id})).first()
    if row is None:
        return None
    return Lease(Status(row.status), row.lease_owner, bool(row.expired), row.attempt)


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


async def mark_plans_stale(conn: AsyncConnection, instance_id: str, warning: str) -> None:
    """The instance's planned proposals were planned against what was live before a switch."""
    await conn.execute(_STALE_PLANS, {"instance_id": instance_id, "warning": warning})


async def renew_lease(conn: AsyncConnection, deployment_id: str, lease_owner: str, lease_seconds: float) -> bool:
    result = await conn.execute(
        deployments.update()
        .where(
            deployments.c.id == deployment_id,
            deployments.c.status == Status.RUNNING.value,
            deployments.c.lease_owner == lease_owner,
        )
        .values(lease_expires_at=_lease_until(lease_seconds))
    )
    return bool(result.rowcount)


async def expired_leases(conn: AsyncConnection, limit: int = 100) -> list[tuple[str, int]]:
    """(deployment id, attempt) of RUNNING deployments whose worker stopped renewing its lease."""
    rows = await conn.execute(
        sa.select(deployments.c.id, deployments.c.attempt)
        .where(deployments.c.status == Status.RUNNING.value, deployments.c.lease_expires_at < sa.func.now())
        .order_by(deployments.c.lease_expires_at)
        .limit(limit)
    )
    return [(r.id, r.attempt) for r in rows]


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
