"""Periodic safety net: hand runs whose worker died to another worker, enqueue PENDING ones whose job was lost,
purge expired idempotency keys and (with a retention set) old audit records.

It is a queued cron job, so it runs on any one worker each round; what only a
worker on a runtime instance's host can do (drains, health checks) is in
workers/upkeep.py, which every worker runs.
"""

from __future__ import annotations

import time
from typing import Any

from server.app import audit, runs
from server.app.context import Services
from server.config import Settings
from server.store import idempotency


async def sweep(ctx: dict[str, Any]) -> int:
    svc: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    # Job ids carry the round, so repeats within a round are deduplicated but a job lost with Redis
    # (its id may outlive it) never blocks the next round's.
    retry_round = int(time.time() // max(settings.stall_seconds, 1))
    # A run whose worker stopped renewing its lease is taken over by the job asked for here.
    expired = await runs.expired(svc.engine)
    for deployment_id, attempt in expired:
        await svc.queue.enqueue_provision(deployment_id, f"resume-{attempt}-{retry_round}")
    stalled = await runs.stalled(svc.engine, settings.stall_seconds)
    for deployment_id in stalled:
        await svc.queue.enqueue_provision(deployment_id, f"sweep-{retry_round}")
    async with svc.engine.begin() as conn:
        purged = await idempotency.purge_expired(conn)
    if settings.audit_retention_days > 0:
        purged += await audit.purge_expired(svc.engine, settings.audit_retention_days)
    return len(expired) + len(stalled) + purged
