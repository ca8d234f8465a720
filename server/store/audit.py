"""Appending to and reading the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.audit import AuditEntry, AuditRecord, canonical
from server.domain.listing import Cursor, Term
from server.store.paging import keyset
from server.store.tables import audit_events

def to_record(row: Any) -> AuditRecord:
    m = row._mapping
    return AuditRecord(**{k: m[k] for k in AuditRecord.__dataclass_fields__})


async def append(
    conn: AsyncConnection,
    organization_id: str,
    entry: AuditEntry,
    actor: str,
    actor_kind: str,
    request_id: str,
    attribution: str,
    outcome: str,
) -> None:
    """Insert the record; the database chains it (sequence, hashes) when the transaction commits."""
    record = AuditRecord(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        sequence=0,  # assigned by the database at commit
        create_time=datetime.now(UTC),
        actor=actor,
        actor_kind=actor_kind,
        action=entry.action,
        resource=entry.resource,
        previous_deployment_id=entry.previous_deployment_id,
        new_deployment_id=entry.new_deployment_id,
        previous_release_id=entry.previous_release_id,
        new_release_id=entry.new_release_id,
        request_id=request_id,
        attribution=attribution,
        outcome=outcome,
        prev_hash="",
        hash="",
    )
    values = {k: v for k, v in record.__dict__.items() if k != "sequence"}
    await conn.execute(audit_events.insert().values(**values, pending_body=canonical(record)))


async def list_page(
    conn: AsyncConnection, organization_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[AuditRecord]:
    query = sa.select(audit_events).where(audit_events.c.organization_id == organization_id)
    for term in terms:
        column = audit_events.c[term.field]
        value: object = datetime.fromisoformat(term.value) if term.field == "create_time" else term.value
        query = query.where(
            {"=": column == value, ">=": column >= value, "<": column < value, ">": column > value, "<=": column <= value}[
                term.op
            ]
        )
    rows = await conn.execute(keyset(query, audit_events, desc, after, limit))
    return [to_record(r) for r in rows]


async def chain(conn: AsyncConnection, organization_id: str, after_sequence: int, limit: int) -> list[AuditRecord]:
    rows = await conn.execute(
        sa.select(audit_events)
        .where(audit_events.c.organization_id == organization_id, audit_events.c.sequence > after_sequence)
        .order_by(audit_events.c.sequence)
        .limit(limit)
    )
    return [to_record(r) for r in rows]
