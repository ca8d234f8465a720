"""arq worker configuration, built from Settings (no settings object at import time)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from server.app import installation
from server.app.context import Services
from server.app.queue import PLAN_JOB, PROVISION_JOB, SPAWN_JOB
from server.config import Settings
from server.telemetry import metrics
from workers import drivers
from workers.planning import plan_deployment
from workers.provision import provision_deployment
from workers.runtime import spawn_runtime_instance
from workers.sweeper import sweep
from workers.upkeep import Upkeep

log = logging.getLogger(__name__)


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for arq.worker.Worker."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["services"] = services = await Services.open(settings)
        # A worker with another artifact store than its database's would fail runs with ARTIFACT_GONE.
        await installation.prove_patiently(services.reader, services.artifacts)
        ctx["driver"] = drivers.load(settings)
        ctx["worker_name"] = f"{os.uname().nodename}/{os.getpid()}"
        ctx["worker_id"] = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        ctx["upkeep"] = asyncio.create_task(Upkeep(ctx["services"], ctx["driver"], settings).forever())
        log.info("worker %s started on queue %s", ctx["worker_id"], settings.queue_name)

    async def on_job_start(ctx: dict[str, Any]) -> None:
        # Job ids start with what the job does: provision:…, spawn:…, plan:…, cron:sweep.
        job = str(ctx.get("job_id", "")).split(":", 1)[0]
        waited = (datetime.now(UTC) - ctx["enqueue_time"]).total_seconds()
        metrics.JOB_PICKUP.labels(job).observe(max(0.0, waited))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        upkeep: asyncio.Task[None] | None = ctx.get("upkeep")
        if upkeep is not None:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
        services: Services | None = ctx.get("services")
        if services is not None:
            await services.close()

    return {
        "functions": [
            # keep_result=0: a finished job leaves no result behind, so the same
            # deterministic job id can be enqueued again for a later hand-over.
            func(provision_deployment, name=PROVISION_JOB, keep_result=0, timeout=settings.job_timeout_seconds),
            func(plan_deployment, name=PLAN_JOB, keep_result=0),
            func(spawn_runtime_instance, name=SPAWN_JOB, keep_result=0, timeout=settings.spawn_timeout_seconds),
        ],
        "cron_jobs": [
            cron(sweep, second=set(range(0, 60, settings.sweep_seconds)), run_at_startup=True, keep_result=0),
        ],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.queue_name,
        "on_startup": on_startup,
        "on_job_start": on_job_start,
        "on_shutdown": on_shutdown,
        "poll_delay": settings.poll_delay,
        "job_timeout": settings.job_timeout_seconds,
        "keep_result": 0,
        "max_jobs": 50,
        "handle_signals": True,
    }
