"""Reading the audit log and checking its hash chain."""

from __future__ import annotations

from server.app.context import Caller, Services
from server.domain import listing
from server.domain.audit import AuditRecord, ChainCheck, verify
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
    terms = listing.parse_filter(filter_text, FILTER_RULES)
    desc = listing.parse_order(order_by, default_desc=True)
    fingerprint = listing.query_fingerprint("audit", caller.organization_id, terms, desc)
    cursor = listing.decode_token(page_token, fingerprint)
    limit = listing.page_size(page_size)
    async with svc.reader.connect() as conn:
        rows = await store.list_page(conn, caller.organization_id, terms, desc, cursor, limit + 1)
    return listing.page_of(rows, limit, fingerprint)


async def verify_chain(svc: Services, caller: Caller) -> ChainCheck:
    """Walks the organization's whole chain; the first broken link, if any."""
    checked, prev_hash, sequence = 0, "", 0
    async with svc.reader.connect() as conn:
        while True:
            page = await store.chain(conn, caller.organization_id, sequence, CHAIN_PAGE)
            result = verify(page, prev_hash, sequence + 1)
            if result.first_broken_id is not None:
                return ChainCheck(checked + result.checked, result.first_broken_id, result.detail)
            checked += result.checked
            if len(page) < CHAIN_PAGE:
                return ChainCheck(checked, None, "")
            prev_hash, sequence = page[-1].hash, page[-1].sequence
