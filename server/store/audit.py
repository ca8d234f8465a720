"""Appending to and reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.audit import AuditEntry, AuditRecord, canonical, new_record
from server.domain.listing import Cursor, Term
from server.store import sql
from server.store.paging import keyset_sql
from server.store.tables import audit_events


def to_record(row: Any) -> AuditRecord:
    m = row._mapping if isinstance(row, sa.Row) else row  # SQLAlchemy's row, or asyncpg's
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
    record = new_record(organization_id, entry, actor, actor_kind, request_id, attribution, outcome)
    await (await sql.raw(conn)).execute(_INSERT, *written_args(record))


# Every field but the sequence (assigned at commit), and the canonical text the seal hashes.
_FIELDS = tuple(name for name in AuditRecord.__dataclass_fields__ if name != "sequence")
_NAMES = ", ".join((*_FIELDS, "pending_body"))
_INSERT = f"INSERT INTO audit_events ({_NAMES}) VALUES ({', '.join(f'${n}' for n in range(1, len(_FIELDS) + 2))})"


def written_with(first: int) -> str:
    """`audit AS (INSERT …), `: a CTE for another statement that writes a record with its own change (one round trip
    less), its parameters `$first` on (`written_args`)."""
    placeholders = ", ".join(f"${n}" for n in range(first, first + len(_FIELDS) + 1))
    return f"audit AS (INSERT INTO audit_events ({_NAMES}) VALUES ({placeholders})), "


def written_args(record: AuditRecord | None) -> list[Any]:
    """The parameters of `written_with` (none without a record)."""
    if record is None:
        return []
    return [getattr(record, name) for name in _FIELDS] + [canonical(record)]


async def list_page(
    conn: sql.Conn, organization_id: str, terms: list[Term], desc: bool, after: Cursor | None, limit: int
) -> list[AuditRecord]:
    where: list[tuple[str, str, object]] = [("organization_id", "=", organization_id)]
    for term in terms:
        value: object = datetime.fromisoformat(term.value) if term.field == "create_time" else term.value
        where.append((audit_events.c[term.field].name, term.op, value))
    statement, args = keyset_sql(f"SELECT {_LISTED} FROM audit_events", where, desc, after, limit)
    return [to_record(r) for r in await (await sql.raw(conn)).fetch(statement, *args)]


_LISTED = sql.columns(audit_events)


async def chain(conn: AsyncConnection, organization_id: str, after_sequence: int, limit: int) -> list[AuditRecord]:
    rows = await conn.execute(
        sa.select(audit_events)
        .where(audit_events.c.organization_id == organization_id, audit_events.c.sequence > after_sequence)
        .order_by(audit_events.c.sequence)
        .limit(limit)
    )
    return [to_record(r) for r in rows]


PURGE_ACTION = "audit.purge"
_PURGE = sa.text(
    """
    WITH gone AS (
        DELETE FROM audit_events
        WHERE organization_id = :org AND create_time < :before AND sequence IS NOT NULL
          AND sequence < (SELECT max(sequence) FROM audit_events WHERE organization_id = :org)
        RETURNING sequence
    )
    SELECT max(sequence) AS last FROM gone
    """
)


async def purge(conn: AsyncConnection, organization_id: str, before: datetime) -> int | None:
    """Delete the organization's records older than `before`, always keeping the newest (the chain
    continues from it); the highest sequence deleted, or None."""
    await conn.execute(sa.text("SET LOCAL rollout.audit_purge = 'on'"))
    last = (await conn.execute(_PURGE, {"org": organization_id, "before": before})).scalar()
    await conn.execute(sa.text("SET LOCAL rollout.audit_purge = 'off'"))
    return int(last) if last is not None else None


async def organizations_with_records_before(conn: AsyncConnection, before: datetime) -> list[str]:
    rows = await conn.execute(
        sa.select(audit_events.c.organization_id).where(audit_events.c.create_time < before).distinct()
    )
    return [r.organization_id for r in rows]


async def declared_purge(conn: AsyncConnection, organization_id: str) -> int:
    """The sequence the latest purge record says it deleted through (0 if never purged)."""
    resource = (
        await conn.execute(
            sa.select(audit_events.c.resource)
            .where(audit_events.c.organization_id == organization_id, audit_events.c.action == PURGE_ACTION)
            .order_by(audit_events.c.sequence.desc())
            .limit(1)
        )
    ).scalar()
    return int(str(resource).rsplit("/", 1)[1]) if resource else 0
