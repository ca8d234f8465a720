"""`python -m workers`: run one arq worker process.

If Redis goes away, arq's worker stops with a connection error; this process
then starts a new one as soon as Redis answers again (with backoff), so an
outage of the queue never needs a human to restart workers. Anything approved
meanwhile is PENDING in PostgreSQL and the sweeper enqueues it again.
"""

from __future__ import annotations

import logging
import time

from arq.worker import Worker
from redis.exceptions import RedisError

from server.config import Settings
from workers.settings import worker_options

log = logging.getLogger("workers")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="rollout-worker: %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            Worker(**worker_options(settings)).run()
            return  # stopped by SIGTERM/SIGINT
        except (RedisError, OSError) as exc:
            if time.monotonic() - started > 60:
                delay = 0.5  # it had been running fine: this is a new outage
            log.warning("lost Redis (%s); starting again in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


if __name__ == "__main__":
    main()
