"""`python -m server`: run the gRPC server (PostgreSQL and Redis from ROLLOUT_* settings)."""

from __future__ import annotations

import asyncio
import logging

from server.api.server import serve
from server.app.installation import WrongStore
from server.config import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="rollout-server: %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(Settings.from_env()))
    except WrongStore as exc:
        logging.getLogger("server").error("refusing to start: %s", exc)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
