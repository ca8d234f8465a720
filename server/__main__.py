"""`python -m server`: run the gRPC server (PostgreSQL and Redis from ROLLOUT_* settings)."""

from __future__ import annotations

import asyncio
import logging

from server import event_loop
from server.app.installation import WrongStore
from server.config import Settings
from server.telemetry import logs, traces


def main() -> None:
    logs.configure("server")
    event_loop.install()
    traces.configure("rollout-server")  # before the server exists: it instruments grpc.aio
    from server.api.server import serve

    try:
        asyncio.run(serve(Settings.from_env()))
    except WrongStore as exc:
        logging.getLogger("server").error("refusing to start: %s", exc)
        raise SystemExit(1) from None
    finally:
        traces.shutdown()


if __name__ == "__main__":
    main()
