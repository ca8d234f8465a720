"""Durable, ordered deployment events, and their live notification.

Events are written in the same transaction as the state change they describe.
Each one gets the next `sequence` of its deployment and the next
`instance_sequence` of its instance (counters on those rows, so there are no
gaps), and is announced with pg_notify on the `rollout_events` channel: NOTIFY
is delivered only on commit, so a watcher never sees an event that was rolled
back. See docs/adr/004-event-fan-out.md.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.audit import AuditRecord
from server.domain.deployments import TERMINAL
from server.domain.models import Event, EventType, NewEvent, Status
from server.store import audit as audit_store
from server.store import sql
from server.store.tables import deployment_events

CHANNEL = "rollout_events"
MAX_MESSAGE = 1000
# Stored events are read back this many at a time (a short page is the last one).
PAGE_SIZE = 1000

def notify(channel: str) -> str:
    """The announcement of one recorded event (a row of the CTE `rows`) on the channel bound to `channel`:
    what `from_notification` reads."""
    return f"""pg_notify({channel}, json_build_object(
        'o', rows.organization_id, 'd', rows.deployment_id, 'i', rows.instance_id,
        's', rows.sequence, 'is', rows.instance_sequence, 't', rows.type, 'st', rows.status,
        'm', rows.message, 'pd', rows.progress_done, 'pt', rows.progress_total,
        'ct', rows.create_time)::text)"""


# A deployment whose terminal event is recorded takes no more events (`events_closed`): a late
# result (a spawn that finishes after its deployment FAILED) cannot extend a finished stream.
def append_statement(before: str = "", set_deployment: str = "", deployment_columns: str = "") -> str:
    """The append as a statement ($1–$11, see `append`) that may do more in the same round trip: `before`, CTEs
    ahead of it ("name AS (…), "); `set_deployment`, more of the deployment row's update (", col = …": it is the
    statement's one update of that row); `deployment_columns`, columns of the updated row, returned with each
    event (the update's RETURNING list, selected as `d.*` if given)."""
    returning = f", {deployment_columns}" if deployment_columns else ""
    return f"""
    WITH {before}d AS (
        UPDATE deployments SET event_seq = event_seq + $1, events_closed = $10{set_deployment}
        WHERE id = $2 AND NOT events_closed RETURNING event_seq{returning}
    ), i AS (
        UPDATE instances SET event_seq = instances.event_seq + $1 FROM d
        WHERE instances.id = $3 RETURNING instances.event_seq
    ), rows AS (
        INSERT INTO deployment_events (deployment_id, sequence, organization_id, instance_id,
                                       instance_sequence, type, status, message, progress_done, progress_total)
        SELECT CAST($2 AS uuid), d.event_seq - $1 + e.ord, $4, CAST($3 AS uuid),
               i.event_seq - $1 + e.ord, e.type, e.status, e.message, e.done, e.total
        FROM d, i, unnest(CAST($5 AS text[]), CAST($6 AS text[]), CAST($7 AS text[]),
                          CAST($8 AS int[]), CAST($9 AS int[]))
                   WITH ORDINALITY AS e(type, status, message, done, total, ord)
        RETURNING *
    )
    SELECT rows.*, {notify("$11")} AS notified{", d.*" if deployment_columns else ""}
    FROM rows{", d" if deployment_columns else ""} ORDER BY rows.sequence
    """


_APPEND = append_statement()
_APPEND_AUDITED = append_statement(before=audit_store.written_with(12))


_APPEND_TO_INSTANCE = f"""
    WITH i AS (
        UPDATE instances SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq
    ), rows AS (
        INSERT INTO deployment_events (organization_id, instance_id, instance_sequence, type, message,
                                       progress_done, progress_total)
        SELECT $3, CAST($2 AS uuid), i.event_seq - $1 + e.ord, e.type, e.message, e.done, e.total
        FROM i, unnest(CAST($4 AS text[]), CAST($5 AS text[]), CAST($6 AS int[]), CAST($7 AS int[]))
                   WITH ORDINALITY AS e(type, message, done, total, ord)
        RETURNING *
    )
    SELECT rows.*, {notify("$8")} AS notified
    FROM rows ORDER BY rows.instance_sequence
    """


def to_event(m: Any) -> Event:
    return Event(
        deployment_id=str(m["deployment_id"] or ""),
        instance_id=str(m["instance_id"]),
        sequence=m["sequence"] or 0,
        instance_sequence=m["instance_sequence"],
        type=EventType(m["type"]),
        status=Status(m["status"]) if m["status"] else None,
        message=m["message"],
        progress_done=m["progress_done"],
        progress_total=m["progress_total"],
        create_time=m["create_time"],
    )


async def append(
    conn: AsyncConnection,
    organization_id: str,
    deployment_id: str,
    instance_id: str,
    events: list[NewEvent],
    audit: AuditRecord | None = None,
) -> list[Event]:
    """Record the events (with the state change they describe, in the caller's transaction), and `audit` (the
    change's audit record) in the same statement.

    Returns them with their sequences; returns nothing, recording no event, if the deployment's
    terminal event is already recorded.
    """
    args = append_args(organization_id, deployment_id, instance_id, events) + audit_store.written_args(audit)
    rows = await (await sql.raw(conn)).fetch(_APPEND if audit is None else _APPEND_AUDITED, *args)
    return [to_event(r) for r in rows]


def append_args(organization_id: str, deployment_id: str, instance_id: str, events: list[NewEvent]) -> list[Any]:
    """$1–$11 of an `append_statement`."""
    return [
        len(events),
        deployment_id,
        instance_id,
        organization_id,
        [e.type.value for e in events],
        [e.status.value for e in events],
        [e.message[:MAX_MESSAGE] for e in events],
        [e.progress_done for e in events],
        [e.progress_total for e in events],
        any(e.status in TERMINAL for e in events),
        CHANNEL,
    ]


async def append_to_instance(
    conn: AsyncConnection, organization_id: str, instance_id: str, events: list[NewEvent]
) -> list[Event]:
    """Record events of the instance itself (no deployment): WatchInstance shows them."""
    rows = await (await sql.raw(conn)).fetch(
        _APPEND_TO_INSTANCE,
        len(events),
        instance_id,
        organization_id,
        [e.type.value for e in events],
        [e.message[:MAX_MESSAGE] for e in events],
        [e.progress_done for e in events],
        [e.progress_total for e in events],
        CHANNEL,
    )
    return [to_event(r) for r in rows]


_AFTER = f"""
SELECT {sql.columns(deployment_events)} FROM deployment_events
WHERE deployment_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3
"""


async def after(conn: sql.Conn, deployment_id: str, sequence: int, limit: int = PAGE_SIZE) -> list[Event]:
    rows = await (await sql.raw(conn)).fetch(_AFTER, deployment_id, sequence, limit)
    return [to_event(r) for r in rows]


_OF_DEPLOYMENT = f"""
SELECT d.status AS deployment_status, e.* FROM deployments d
LEFT JOIN LATERAL (
    SELECT {sql.columns(deployment_events)} FROM deployment_events
    WHERE deployment_id = d.id AND sequence > $3 ORDER BY sequence LIMIT $4
) e ON true
WHERE d.id = $1 AND d.organization_id = $2
"""


async def of_deployment(
    conn: sql.Conn, organization_id: str, deployment_id: str, sequence: int, limit: int = PAGE_SIZE
) -> tuple[Status, list[Event]] | None:
    """The deployment's status and its first page of events after `sequence`: one read (`after` for the next
    pages). None if the organization has no such deployment."""
    rows = await (await sql.raw(conn)).fetch(_OF_DEPLOYMENT, deployment_id, organization_id, sequence, limit)
    if not rows:
        return None
    return Status(rows[0]["deployment_status"]), [to_event(r) for r in rows if r["sequence"] is not None]


async def after_on_instance(
    conn: AsyncConnection, instance_id: str, sequence: int, limit: int = PAGE_SIZE
) -> list[Event]:
    rows = await conn.execute(
        sa.select(deployment_events)
        .where(deployment_events.c.instance_id == instance_id, deployment_events.c.instance_sequence > sequence)
        .order_by(deployment_events.c.instance_sequence)
        .limit(limit)
    )
    return [to_event(r._mapping) for r in rows]


def from_notification(payload: str) -> tuple[str, Event]:
    """(organization id, event) from a `rollout_events` notification."""
    m = json.loads(payload)
    from datetime import datetime

    event = Event(
        deployment_id=m["d"] or "",
        instance_id=m["i"],
        sequence=m["s"] or 0,
        instance_sequence=m["is"],
        type=EventType(m["t"]),
        status=Status(m["st"]) if m["st"] else None,
        message=m["m"],
        progress_done=m["pd"],
        progress_total=m["pt"],
        create_time=datetime.fromisoformat(m["ct"]),
    )
    return m["o"], event
