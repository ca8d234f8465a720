"""Periodic safety net: fail deployments whose worker died, enqueue PENDING ones whose job was lost."""

from __future__ import annotations

from typing import Any

from server.app import runs
from server.app.context import Services
from server.config import Settings


async def sweep(ctx: dict[str, Any]) -> int:
    svc: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    to_enqueue = await runs.reap_expired(svc.engine)
    to_enqueue += await runs.stalled(svc.engine, settings.stall_seconds)
    for deployment_id in dict.fromkeys(to_enqueue):
        await svc.queue.enqueue_provision(deployment_id)
    return len(to_enqueue)
