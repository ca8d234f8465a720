"""grpc.health.v1: SERVING only while PostgreSQL and Redis both answer.

Our own servicer because the one in grpcio-health-checking 1.85 has no `List`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2

from server.api.errors import to_status
from server.app.context import Services
from server.domain.errors import NotFound

log = logging.getLogger(__name__)

SERVICE_DESCRIPTOR = health_pb2.DESCRIPTOR.services_by_name["Health"]
Status = int  # HealthCheckResponse.ServingStatus
# The stubs (types-grpcio-health-checking) predate List: its messages are taken from the descriptor.
ListResponse = GetMessageClass(descriptor_pool.Default().FindMessageTypeByName("grpc.health.v1.HealthListResponse"))
Context = grpc.aio.ServicerContext[Any, Any]


class HealthServicer:
    """Every name it knows (the server as "" and each service) shares one status, NOT_SERVING until
    the backends first answer."""

    def __init__(self, names: Iterable[str]) -> None:
        self._status: dict[str, Status] = {name: health_pb2.HealthCheckResponse.NOT_SERVING for name in names}
        self._version = 0
        self._changed = asyncio.Condition()
        self._shutting_down = False

    async def Check(self, request: health_pb2.HealthCheckRequest, context: Context) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            await context.abort_with_status(to_status(NotFound("no such service; Health/List names them")))
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: Context
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        seen, last = -1, None
        while True:
            async with self._changed:
                while self._version == seen:
                    await self._changed.wait()
                seen = self._version
            status = self._status.get(request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            if status != last:
                last = status
                yield health_pb2.HealthCheckResponse(status=status)

    async def List(self, request: Message, context: Context) -> Message:
        statuses = {name: health_pb2.HealthCheckResponse(status=status) for name, status in self._status.items()}
        return ListResponse(statuses=statuses)

    async def set_all(self, status: Status) -> None:
        if self._shutting_down:
            return
        async with self._changed:
            self._status = dict.fromkeys(self._status, status)
            self._version += 1
            self._changed.notify_all()

    async def enter_graceful_shutdown(self) -> None:
        """NOT_SERVING from now on, whatever the backends say."""
        await self.set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        self._shutting_down = True


async def backends_answer(services: Services, timeout: float = 2.0) -> bool:
    async def check() -> None:
        await services.ping()

    try:
        await asyncio.wait_for(check(), timeout)
        return True
    except Exception as exc:  # Any failure means "not serving"; the reason is logged.
        log.warning("health check failed: %s", exc)
        return False


async def watch_backends(servicer: HealthServicer, services: Services, period: float = 1.0) -> None:
    last: bool | None = None
    while True:
        ok = await backends_answer(services)
        if ok != last:
            await servicer.set_all(
                health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            last = ok
        await asyncio.sleep(period)
