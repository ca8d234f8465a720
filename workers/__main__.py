"""`python -m workers`: run one arq worker process.

A Redis outage does not stop the worker: its poll loop waits for Redis to
answer again (with backoff) while the jobs it runs go on, and anything
approved meanwhile is PENDING in PostgreSQL, where the sweeper finds it. If
Redis is not there at start, the worker keeps trying to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.worker import Worker
from redis.exceptions import RedisError

from server import event_loop
from server.app.installation import WrongStore
from server.app.queue import wake_channel
from server.config import Settings
from server.store.faults import is_transient
from server.telemetry import logs, traces
from workers.settings import worker_options

log = logging.getLogger("workers")

CLOSE_SECONDS = 2.0  # the most a stopping worker waits on Redis


class RidingWorker(Worker):
    """An arq worker whose poll loop rides out a Redis outage instead of ending (and then waiting,
    in arq's close(), for the jobs that still run: a deadlock when they wait on Redis themselves).

    It polls every `poll_delay` seconds, and at once when an enqueue publishes on the queue's wake
    channel (server/app/queue.py): pickup without the idle CPU of a fast poll. A lost wake-up costs
    at most one poll interval; arq stays the queue, so a job is still taken exactly as before.
    """

    _outage = 0.0
    _wake: asyncio.Event | None = None
    _listener: asyncio.Task[None] | None = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # arq's loop would sleep out the rest of its interval after every iteration, woken or not:
        # the wait is in _poll_iteration instead, and a wake-up ends it.
        self._interval, self.poll_delay_s = self.poll_delay_s, 0

    async def _poll_iteration(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self._wake))
        self._wake.clear()
        try:
            await super()._poll_iteration()
            self._outage = 0.0
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._outage = min(max(self._outage * 2, 0.2), 5.0)
            log.warning("Redis unavailable (%s); polling again in %.1fs", type(exc).__name__, self._outage)
            await asyncio.sleep(self._outage)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._interval)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq checks every queued id with three round trips of its own, the ones already running here
        or on another worker included (they stay queued until done): with 32 jobs running, each poll
        cost ~100 round trips and a new job waited behind them (bench: 0.8 s mean pickup). One MGET of
        their in-progress keys first leaves arq only the ids nobody runs; arq still takes each of those
        with its WATCH/MULTI, so a job is taken exactly as before."""
        if len(job_ids) > 1:
            running = await self.pool.mget([in_progress_key_prefix + j.decode() for j in job_ids])
            job_ids = [j for j, taken in zip(job_ids, running, strict=True) if taken is None]
        await super().start_jobs(job_ids)

    async def _listen(self, wake: asyncio.Event) -> None:
        """Set `wake` on every message of the wake channel; subscribe again after a Redis fault."""
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(wake_channel(self.queue_name))
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            wake.set()
            except Exception as exc:
                if not is_transient(exc):
                    raise
            await asyncio.sleep(1.0)  # until Redis is back; the poll goes on meanwhile

    async def close(self) -> None:
        """arq's close, with its one Redis call bounded: deleting the health-check key waited out the
        client's retries while Redis was down, so a SIGTERM then ended only in a SIGKILL."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._pool is None:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)  # cancelled by handle_sig
        with contextlib.suppress(Exception):  # the key expires by itself
            await asyncio.wait_for(self.pool.delete(self.health_check_key), CLOSE_SECONDS)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.close(close_connection_pool=True), CLOSE_SECONDS)
        self._pool = None


def main() -> None:
    logs.configure("worker")
    event_loop.install()
    traces.configure("rollout-worker")
    settings = Settings.from_env()
    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            RidingWorker(**worker_options(settings)).run()
            return  # stopped by SIGTERM/SIGINT
        except WrongStore as exc:
            log.error("refusing to start: %s", exc)
            raise SystemExit(1) from None
        except (RedisError, OSError) as exc:
            if time.monotonic() - started > 60:
                delay = 0.5  # it had been running fine: this is a new outage
            log.warning("cannot reach Redis (%s); starting again in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


if __name__ == "__main__":
    main()
