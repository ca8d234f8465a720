"""Following the control plane's route table through WatchRoutes (rollout_service.proto).

A stream starts with a whole snapshot, then brings the routes that change.
When it ends for any reason (the server stopped, the network dropped, the
server's own LISTEN connection was lost) the router connects again, and the
new stream starts with a snapshot: nothing missed while disconnected is lost.
Until the first snapshot, requests get 503. What the router serves meanwhile
is the table it has; it never goes back to a lower route generation
(router/table.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from router.config import RouterSettings
from router.table import RouteTable
from server.domain.models import Kind, RuntimeState
from server.domain.routes import Backend, Route

log = logging.getLogger(__name__)

# Reconnect delays: quick at first (a server restart), then at most this.
FIRST_DELAY, MAX_DELAY = 0.05, 2.0
# Codes that no reconnect cures by itself: said loudly, retried slowly.
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT}


def route(message: pb.Route) -> Route:
    return Route(
        instance_id=message.instance_id,
        host=message.host,
        kind=Kind(pb.Instance.Kind.Name(message.kind).removeprefix("KIND_")),
        route_generation=message.route_generation,
        active_deployment_id=message.active_deployment_id,
        release_id=message.release_id,
        version=message.version,
        artifact_uri=message.artifact_uri,
        backends=tuple(
            Backend(b.runtime_instance_id, b.address, RuntimeState(pb.RuntimeInstance.State.Name(b.state).removeprefix("STATE_")))
            for b in message.backends
        ),
    )


class Feed:
    def __init__(self, settings: RouterSettings, table: RouteTable, on_routes: Callable[[list[Route]], None]) -> None:
        self.settings, self.table, self.on_routes = settings, table, on_routes
        self.streams = 0  # streams opened (each starts with a snapshot)
        self.connected = asyncio.Event()

    async def forever(self) -> None:
        delay = FIRST_DELAY
        while True:
            try:
                await self._follow()
                delay = FIRST_DELAY
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() in REFUSED:
                    log.error("router: WatchRoutes refused: %s %s; check the router's token", exc.code().name, exc.details())
                    delay = MAX_DELAY
                else:
                    log.warning("router: route stream ended (%s: %s); reconnecting", exc.code().name, exc.details())
            except Exception:
                log.exception("router: route stream failed; reconnecting")
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    async def _follow(self) -> None:
        async with grpc.aio.insecure_channel(self.settings.server) as channel:
            stub: Any = api_grpc.RolloutServiceStub(channel)  # type: ignore[no-untyped-call]
            request = api.WatchRoutesRequest(
                organization_id=self.settings.organization_id, resync_seconds=self.settings.resync_seconds
            )
            stream = stub.WatchRoutes(request, metadata=(("authorization", f"Bearer {self.settings.token}"),))
            async for message in stream:
                routes = [route(r) for r in message.routes]
                if message.snapshot:
                    if not self.connected.is_set():
                        self.streams += 1
                        self.connected.set()
                        log.info("router: route snapshot %d: %d instances", self.streams, len(routes))
                    self.table.replace(routes)
                else:
                    self.table.update(routes)
                self.on_routes(routes)
