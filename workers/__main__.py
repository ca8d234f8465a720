"""`python -m workers`: run one arq worker process.

A Redis outage does not stop the worker: its poll loop waits for Redis to
answer again (with backoff) while the jobs it runs go on, and anything
approved meanwhile is PENDING in PostgreSQL, where the sweeper finds it. If
Redis is not there at start, the worker keeps trying to start.
"""

from __future__ import annotations

import asyncio
import logging
import time

from arq.worker import Worker
from redis.exceptions import RedisError

from server.app.installation import WrongStore
from server.config import Settings
from server.store.faults import is_transient
from server.telemetry import logs, traces
from workers.settings import worker_options

log = logging.getLogger("workers")


class RidingWorker(Worker):
    """An arq worker whose poll loop rides out a Redis outage instead of ending (and then waiting,
    in arq's close(), for the jobs that still run: a deadlock when they wait on Redis themselves)."""

    _outage = 0.0

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
            self._outage = 0.0
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._outage = min(max(self._outage * 2, 0.2), 5.0)
            log.warning("Redis unavailable (%s); polling again in %.1fs", type(exc).__name__, self._outage)
            await asyncio.sleep(self._outage)


def main() -> None:
    logs.configure("worker")
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
