"""Periodic safety net: fail deployments whose worker died, enqueue PENDING ones whose job was lost,
drain runtime instances whose warm window is over, purge expired idempotency keys and (with a
retention set) old audit records."""

from __future__ import annotations

import time
from typing import Any

from server.app import audit, runs
from server.app.context import Services
from server.config import Settings
from server.store import idempotency
from workers.runtime import drain_due


async def sweep(ctx: dict[str, Any]) -> int:
    svc: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    to_enqueue = await runs.reap_expired(svc.engine)
    to_enqueue += await runs.stalled(svc.engine, settings.stall_seconds)
    retry_round = f"sweep-{int(time.time() // max(settings.stall_seconds, 1))}"
    for deployment_id in dict.fromkeys(to_enqueue):
        await svc.queue.enqueue_provision(deployment_id, retry_round)
    drained = await drain_due(svc, ctx["driver"])
    async with svc.engine.begin() as conn:
        purged = await idempotency.purge_expired(conn)
    if settings.audit_retention_days > 0:
        purged += await audit.purge_expired(svc.engine, settings.audit_retention_days)
    return len(to_enqueue) + drained + purged
