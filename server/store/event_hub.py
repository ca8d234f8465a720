"""In-process fan-out of live deployment events, fed by PostgreSQL LISTEN.

One LISTEN connection per server process receives every event committed by
any process (workers on other machines included) and hands it to the
matching subscribers' bounded queues. A subscriber that falls too far behind
is told so and ended; the client resumes from its last sequence. If the
LISTEN connection drops, every subscriber is told to re-read from the
database, where nothing is ever missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg

from server.domain.models import Event
from server.store.db import asyncpg_dsn
from server.store.events import CHANNEL, from_notification

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


class Resync:
    """Marker: live events may have been missed; re-read the database."""


# Why a subscription was closed: clients branch on these reasons (both mean "resume elsewhere or later").
FELL_BEHIND = "WATCH_FELL_BEHIND"
SHUTTING_DOWN = "SERVER_SHUTTING_DOWN"


class Closed:
    """Marker: the hub is shutting down or the subscriber fell behind."""

    def __init__(self, message: str, reason: str) -> None:
        self.message = message
        self.reason = reason


Item = Event | Resync | Closed


@dataclass(eq=False)
class Subscription:
    key: str
    queue: asyncio.Queue[Item] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT + 1))

    def offer(self, item: Item) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT and not isinstance(item, Closed):
            # Keep the one slot left for the news that this subscriber is too slow.
            if self.queue.qsize() == QUEUE_LIMIT:
                self.queue.put_nowait(Closed("the client fell too far behind", FELL_BEHIND))
            return
        self.queue.put_nowait(item)


def organization_key(organization_id: str) -> str:
    """The subscription key of every event of an organization (WatchRoutes follows them all)."""
    return f"organization/{organization_id}"


class EventHub:
    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen in the background; a database that is down now is retried, not fatal."""
        self._task = asyncio.create_task(self._listen())

    async def close(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.offer(Closed("the server is shutting down", SHUTTING_DOWN))
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def subscribe(self, key: str):  # type: ignore[no-untyped-def]
        """Subscribe to the events of one deployment or instance, by its id, or of an organization (organization_key)."""
        sub = Subscription(key)
        self._subs[key].add(sub)
        try:
            yield sub
        finally:
            self._subs[key].discard(sub)
            if not self._subs[key]:
                del self._subs[key]

    def _dispatch(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            organization_id, event = from_notification(str(payload))
        except (ValueError, KeyError):
            log.warning("ignored a malformed notification")
            return
        for key in (event.deployment_id, event.instance_id, organization_key(organization_id)):
            for sub in self._subs.get(key, ()):
                sub.offer(event)

    def _resync_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.offer(Resync())

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._dispatch)
                # Anything committed while we were not listening is in the table.
                self._resync_all()
                delay = 0.1
                await lost.wait()
                log.warning("event LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("event LISTEN connection failed: %s", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=1))
            self._resync_all()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
