"""WatchRoutes (docs/router.md): an organization's route table for edge routers, then the routes that change.

The stream subscribes to every event of the organization before it reads the
first snapshot, so a change committed meanwhile is either in the snapshot or
arrives after it. Only events that change a route make it re-read: a switch
(SWITCHED) and a runtime instance that failed after it served
(RUNTIME_FAILED); every change re-reads the instance's whole route, so two
switches read at once lose nothing. When the server's LISTEN connection
dropped (it may have missed events) and every `resync_seconds` (renames and
moves change hosts without an event), it sends a whole snapshot again.
Routes are read from the primary: a replica's lag could hand a router a
generation older than one it already serves (the router ignores those too).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.app.context import Caller, Services
from server.domain.errors import Unavailable
from server.domain.models import EventType
from server.domain.routes import Route
from server.store import routes as store
from server.store.event_hub import Closed, EventHub, Resync, Subscription, organization_key

DEFAULT_RESYNC_SECONDS = 30
ROUTE_EVENTS = frozenset({EventType.SWITCHED, EventType.RUNTIME_FAILED})


@dataclass(frozen=True)
class RoutesUpdate:
    snapshot: bool  # True: `routes` is the whole table
    routes: list[Route]


async def table(svc: Services, organization_id: str, instance_ids: list[str] | None = None) -> list[Route]:
    async with svc.engine.connect() as conn:
        return await store.routes(conn, organization_id, svc.public_domain, instance_ids)


async def watch(svc: Services, hub: EventHub, caller: Caller, resync_seconds: int) -> AsyncIterator[RoutesUpdate]:
    organization_id = caller.organization_id
    period = resync_seconds or DEFAULT_RESYNC_SECONDS
    loop = asyncio.get_running_loop()
    with hub.subscribe(organization_key(organization_id)) as sub:
        while True:
            yield RoutesUpdate(True, await table(svc, organization_id))
            resync_at = loop.time() + period
            while (changed := await _changes(sub, resync_at - loop.time())) is not None:
                if changed:
                    yield RoutesUpdate(False, await table(svc, organization_id, sorted(changed)))


async def _changes(sub: Subscription, timeout: float) -> set[str] | None:
    """Instances whose route changed, from what is queued now (waiting for at least one item);
    None when a whole snapshot is due (a resync, or the period is over)."""
    try:
        first = await asyncio.wait_for(sub.queue.get(), max(0.0, timeout))
    except TimeoutError:
        return None
    changed: set[str] = set()
    item = first
    while True:
        if isinstance(item, Closed):
            raise Unavailable(f"{item.message}; reconnect (a new stream starts with a snapshot)", item.reason)
        if isinstance(item, Resync):
            return None
        if item.type in ROUTE_EVENTS:
            changed.add(item.instance_id)
        if sub.queue.empty():
            return changed
        item = sub.queue.get_nowait()
