"""grpc.health.v1: SERVING only while PostgreSQL and Redis both answer."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2

from server.app.context import Services

log = logging.getLogger(__name__)

SERVICE = "rollout.v1.RolloutService"


async def backends_answer(services: Services, timeout: float = 2.0) -> bool:
    async def check() -> None:
        async with services.reader.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        await services.queue.redis.ping()

    try:
        await asyncio.wait_for(check(), timeout)
        return True
    except Exception as exc:  # Any failure means "not serving"; the reason is logged.
        log.warning("health check failed: %s", exc)
        return False


async def watch_backends(servicer: health.aio.HealthServicer, services: Services, period: float = 1.0) -> None:
    last: bool | None = None
    while True:
        ok = await backends_answer(services)
        if ok != last:
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", SERVICE):
                await servicer.set(name, status)
            last = ok
        await asyncio.sleep(period)
