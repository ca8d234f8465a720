"""`python -m workers`: run one arq worker process."""

from __future__ import annotations

import logging

from arq.worker import Worker

from server.config import Settings
from workers.settings import worker_options


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="rollout-worker: %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    Worker(**worker_options(settings)).run()


if __name__ == "__main__":
    main()
