"""Reading the audit log and checking its hash chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from server.app.context import Caller, Services
from server.domain import listing
from server.domain.audit import AuditEntry, AuditRecord, ChainCheck, verify
from server.store import audit as store

FILTER_RULES = {
    "resource": listing.FieldRule(frozenset({"="}), listing.plain),
    "actor": listing.FieldRule(frozenset({"="}), listing.plain),
    "action": listing.FieldRule(frozenset({"="}), listing.plain),
    "outcome": listing.FieldRule(frozenset({"="}), listing.plain),
    "create_time": listing.FieldRule(frozenset({">=", "<", ">", "<="}), listing.timestamp),
}
CHAIN_PAGE = 5000


async def list_page(
    svc: Services, caller: Caller, filter_text: str, order_by: str, page_size: int, page_token: str
) -> tuple[list[AuditRecord], str]:
    q = listing.query(
        ("audit", caller.organization_id), FILTER_RULES, filter_text, order_by, page_size, page_token, default_desc=True
    )
    async with svc.reads() as conn:
        rows = await store.list_page(conn, caller.organization_id, q.terms, q.desc, q.cursor, q.limit + 1)
    return q.page(rows)


async def verify_chain(svc: Services, caller: Caller) -> ChainCheck:
    """Walks the organization's chain from its first kept record; the first broken link, if any.

    After a retention purge the chain starts at the record after the one the
    latest purge record names; a chain starting anywhere else lost rows.
    """
    checked = 0
    async with svc.reader.connect() as conn:
        page = await store.chain(conn, caller.organization_id, 0, CHAIN_PAGE)
        if not page:
            return ChainCheck(0, None, "")
        declared = await store.declared_purge(conn, caller.organization_id)
        if page[0].sequence != declared + 1:
            return ChainCheck(
                0, page[0].id, f"the chain starts at {page[0].sequence}, not {declared + 1}: records are missing"
            )
        prev_hash, sequence = page[0].prev_hash, page[0].sequence - 1
        while True:
            result = verify(page, prev_hash, sequence + 1)
            if result.first_broken_id is not None:
                return ChainCheck(checked + result.checked, result.first_broken_id, result.detail)
            checked += result.checked
            if len(page) < CHAIN_PAGE:
                return ChainCheck(checked, None, "")
            prev_hash, sequence = page[-1].hash, page[-1].sequence
            page = await store.chain(conn, caller.organization_id, sequence, CHAIN_PAGE)


async def purge(engine: AsyncEngine, organization_id: str, before: datetime) -> int | None:
    """Retention: delete the organization's records older than `before`, and record that it did."""
    async with engine.begin() as conn:
        last = await store.purge(conn, organization_id, before)
        if last is not None:
            await store.append(
                conn, organization_id, AuditEntry(store.PURGE_ACTION, f"audit_events/through/{last}"),
                actor="retention", actor_kind="service", request_id="", attribution="", outcome="ok",
            )
        return last


async def purge_expired(engine: AsyncEngine, retention_days: float) -> int:
    """The sweeper's retention pass over every organization; how many were purged."""
    before = datetime.now(UTC) - timedelta(days=retention_days)
    async with engine.connect() as conn:
        organizations = await store.organizations_with_records_before(conn, before)
    return sum([await purge(engine, org, before) is not None for org in organizations])
