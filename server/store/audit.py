"""Appending to and reading the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.audit import AuditEntry, AuditRecord, canonical, chain_hash
from server.domain.listing import Cursor, Term
from server.store.tables import audit_events

# Serializes appends within one organization for the length of the transaction, so the
# chain has one order. Taken just before the insert, at the end of the transaction.
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:org, 7305447))")
_LAST = sa.text(
    "SELECT sequence, hash FROM audit_events WHERE organization_id = :org ORDER BY sequence DESC LIMIT 1"
)


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
) -> AuditRecord:
    await conn.execute(_LOCK, {"org": organization_id})
    last = (await conn.execute(_LAST, {"org": organization_id})).first()
    unsealed = AuditRecord(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        sequence=(last.sequence if last else 0) + 1,
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
        prev_hash=last.hash if last else "",
        hash="",
    )
    record = AuditRecord(
        **{**unsealed.__dict__, "hash": chain_hash(unsealed.prev_hash, canonical(unsealed))}
    )
    await conn.execute(audit_events.insert().values(**record.__dict__))
    return record


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
    key = sa.tuple_(audit_events.c.create_time, audit_events.c.id)
    if after is not None:
        query = query.where(key < (after.create_time, after.id) if desc else key > (after.create_time, after.id))
    order = (
        [audit_events.c.create_time.desc(), audit_events.c.id.desc()]
        if desc
        else [audit_events.c.create_time, audit_events.c.id]
    )
    rows = await conn.execute(query.order_by(*order).limit(limit))
    return [to_record(r) for r in rows]


async def chain(conn: AsyncConnection, organization_id: str, after_sequence: int, limit: int) -> list[AuditRecord]:
    rows = await conn.execute(
        sa.select(audit_events)
        .where(audit_events.c.organization_id == organization_id, audit_events.c.sequence > after_sequence)
        .order_by(audit_events.c.sequence)
        .limit(limit)
    )
    return [to_record(r) for r in rows]
