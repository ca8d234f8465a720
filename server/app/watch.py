"""Watching progress (docs/product.md §2): replay stored events after a sequence, then tail live ones.

Subscribing happens before the replay, so an event committed while the
replay runs is either read from the database or received live; sequences
already sent are skipped and gaps are filled from the database. The result
is every event exactly once, in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from server.app.context import Caller, Services
from server.domain.deployments import TERMINAL
from server.domain.errors import NotFound, Unavailable
from server.domain.models import Event, Status
from server.store import events
from server.store import instances as instance_store
from server.store.event_hub import Closed, EventHub, Resync


async def _stored(
    stored_after: Callable[[int], Awaitable[list[Event]]], after: int, position: Callable[[Event], int]
) -> AsyncIterator[Event]:
    """Every stored event after `after`, page by page."""
    while True:
        page = await stored_after(after)
        for event in page:
            after = position(event)
            yield event
        if len(page) < events.PAGE_SIZE:
            return


async def _stream(
    hub: EventHub,
    key: str,
    after: int,
    position: Callable[[Event], int],
    stored_after: Callable[[int], Awaitable[list[Event]]],
    ends: Callable[[Event], bool],
    ended: Callable[[], bool] = lambda: False,
) -> AsyncIterator[Event]:
    """`ended`, asked after the first replay: whether nothing more can happen (the stream ends there)."""
    last = after
    with hub.subscribe(key) as sub:
        async for event in _stored(stored_after, last, position):
            last = position(event)
            yield event
            if ends(event):
                return
        if ended():
            return
        while True:
            item = await sub.queue.get()
            if isinstance(item, Closed):
                raise Unavailable(f"{item.message}; resume with the last sequence seen ({last})", item.reason)
            if isinstance(item, Resync) or position(item) > last + 1:
                async for event in _stored(stored_after, last, position):
                    last = position(event)
                    yield event
                    if ends(event):
                        return
                continue
            if position(item) <= last:
                continue
            last = position(item)
            yield item
            if ends(item):
                return


async def deployment_events(
    svc: Services, hub: EventHub, caller: Caller, deployment_id: str, after_sequence: int
) -> AsyncIterator[Event]:
    status: Status | None = None  # as first read, with the first page of events

    async def stored_after(sequence: int) -> list[Event]:
        nonlocal status
        async with svc.reads() as conn:
            if status is not None:
                return await events.after(conn, deployment_id, sequence)
            found = await events.of_deployment(conn, caller.organization_id, deployment_id, sequence)
        if found is None:
            raise NotFound(f"deployment {deployment_id} not found")
        status, page = found
        return page

    async for event in _stream(
        hub, deployment_id, after_sequence, lambda e: e.sequence, stored_after, lambda e: e.status in TERMINAL,
        # A deployment that had ended: nothing more will happen once what is stored is replayed.
        lambda: status in TERMINAL,
    ):
        yield event


async def instance_events(
    svc: Services, hub: EventHub, caller: Caller, instance_id: str, after_sequence: int
) -> AsyncIterator[Event]:
    async with svc.reads() as conn:
        found = await instance_store.get(conn, caller.organization_id, instance_id)
    if found is None:
        raise NotFound(f"instance {instance_id} not found")

    async def stored_after(sequence: int) -> list[Event]:
        async with svc.reader.connect() as conn:
            return await events.after_on_instance(conn, instance_id, sequence)

    async for event in _stream(
        hub, instance_id, after_sequence, lambda e: e.instance_sequence, stored_after, lambda e: False
    ):
        yield event
