"""The in-process fan-out and the replay-then-tail merge, without a database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from server.app.watch import _stream
from server.domain.errors import Unavailable
from server.domain.models import Event, EventType, Status
from server.store.event_hub import FELL_BEHIND, QUEUE_LIMIT, SHUTTING_DOWN, Closed, EventHub, Resync
from server.store.events import PAGE_SIZE

DEPLOYMENT = "00000000-0000-4000-8000-00000000000d"
INSTANCE = "00000000-0000-4000-8000-00000000000i"
T = datetime(2026, 1, 1, tzinfo=UTC)


def event(sequence: int, status: Status = Status.RUNNING) -> Event:
    return Event(DEPLOYMENT, INSTANCE, sequence, sequence, EventType.STARTED, status, f"e{sequence}", 0, 0, T)


def payload(e: Event) -> str:
    return json.dumps({
        "o": "acme", "d": e.deployment_id, "i": e.instance_id, "s": e.sequence, "is": e.instance_sequence,
        "t": e.type.value, "st": e.status.value, "m": e.message, "pd": 0, "pt": 0, "ct": T.isoformat(),
    })


def test_a_subscriber_that_falls_behind_is_told_once_and_then_dropped() -> None:
    hub = EventHub("postgresql+asyncpg://unused/db")
    with hub.subscribe(DEPLOYMENT) as sub:
        for sequence in range(1, QUEUE_LIMIT + 50):
            hub._dispatch(None, 0, "rollout_events", payload(event(sequence)))
        items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert len(items) == QUEUE_LIMIT + 1
    assert [i.sequence for i in items[:-1]] == list(range(1, QUEUE_LIMIT + 1))  # type: ignore[union-attr]
    assert isinstance(items[-1], Closed) and items[-1].reason == FELL_BEHIND and "behind" in items[-1].message


def test_events_reach_subscribers_of_their_deployment_and_instance_only() -> None:
    hub = EventHub("postgresql+asyncpg://unused/db")
    with hub.subscribe(DEPLOYMENT) as by_deployment, hub.subscribe(INSTANCE) as by_instance, hub.subscribe("other") as other:
        hub._dispatch(None, 0, "rollout_events", payload(event(1)))
        hub._dispatch(None, 0, "rollout_events", "not json")
        assert (by_deployment.queue.qsize(), by_instance.queue.qsize(), other.queue.qsize()) == (1, 1, 0)
    assert hub._subs == {}


def run_stream(stored: list[Event], steps: list[object], after: int = 0) -> list[int]:
    """Run `_stream` over a store; each step is a live item to offer, or a list of events that get stored."""

    async def scenario() -> list[int]:
        hub = EventHub("postgresql+asyncpg://unused/db")
        store = list(stored)

        async def stored_after(sequence: int) -> list[Event]:
            return [e for e in store if e.sequence > sequence][:PAGE_SIZE]

        out: list[int] = []

        async def consume() -> None:
            async for e in _stream(hub, DEPLOYMENT, after, lambda e: e.sequence, stored_after,
                                   lambda e: e.status is Status.COMPLETED):
                out.append(e.sequence)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)  # subscribed and replayed
        for step in steps:
            if isinstance(step, list):
                store.extend(step)
                continue
            for sub in hub._subs.get(DEPLOYMENT, ()):
                sub.offer(step)  # type: ignore[arg-type]
            await asyncio.sleep(0)
        await asyncio.wait_for(task, 1)
        return out

    return asyncio.run(scenario())


def test_live_events_already_replayed_are_skipped() -> None:
    assert run_stream([event(1), event(2)], [event(2), event(3, Status.COMPLETED)]) == [1, 2, 3]


def test_a_gap_in_live_events_is_filled_from_the_store() -> None:
    # Event 2 committed but its notification was lost; 3 arrives live and 2 is read from the store.
    steps: list[object] = [[event(2), event(3)], event(3), [event(4, Status.COMPLETED)], event(4, Status.COMPLETED)]
    assert run_stream([event(1)], steps) == [1, 2, 3, 4]


def test_resync_rereads_the_store() -> None:
    # The LISTEN connection dropped: nothing arrives live, the store has everything.
    steps: list[object] = [[event(2), event(3, Status.COMPLETED)], Resync()]
    assert run_stream([event(1)], steps) == [1, 2, 3]


def test_replay_starts_after_the_given_sequence() -> None:
    assert run_stream([event(1), event(2), event(3, Status.COMPLETED)], [], after=1) == [2, 3]


def test_falling_behind_ends_the_stream_with_unavailable() -> None:
    with pytest.raises(Unavailable) as exc_info:
        run_stream([event(1)], [Closed("the client fell too far behind", FELL_BEHIND)])
    assert exc_info.value.reason == FELL_BEHIND
    assert "resume with the last sequence seen (1)" in exc_info.value.message


def test_a_replay_longer_than_a_page_reads_every_page() -> None:
    stored = [event(n) for n in range(1, 2 * PAGE_SIZE + 500)] + [event(2 * PAGE_SIZE + 500, Status.COMPLETED)]
    assert run_stream(stored, []) == list(range(1, 2 * PAGE_SIZE + 501))


def test_server_shutdown_ends_the_stream_with_its_own_reason() -> None:
    async def scenario() -> Unavailable:
        hub = EventHub("postgresql+asyncpg://unused/db")

        async def stored_after(sequence: int) -> list[Event]:
            return [event(1)] if sequence < 1 else []

        async def consume() -> None:
            async for _ in _stream(hub, DEPLOYMENT, 0, lambda e: e.sequence, stored_after, lambda e: False):
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        await hub.close()
        with pytest.raises(Unavailable) as exc_info:
            await asyncio.wait_for(task, 1)
        return exc_info.value

    refused = asyncio.run(scenario())
    assert refused.reason == SHUTTING_DOWN and refused.reason != FELL_BEHIND
    assert "resume with the last sequence seen (1)" in refused.message
