"""`python -m router`: the edge router on ROLLOUT_ROUTER_LISTEN (default 127.0.0.1:8080); docs/router.md."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from router.config import RouterSettings
from router.proxy import create_app
from server import event_loop
from server.artifacts import ArtifactStore, open_store
from server.config import ArtifactSettings

log = logging.getLogger("router")


def artifact_store(env: dict[str, str]) -> ArtifactStore:
    """The store the control plane keeps artifacts in: ROLLOUT_ARTIFACT_STORE and the AWS_* variables,
    read exactly as servers and workers read them (STATIC files are read from it, never written)."""
    return open_store(ArtifactSettings.from_env(env))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings = RouterSettings.from_env()
    event_loop.install()
    app = create_app(settings, artifact_store(dict(os.environ)))
    banner = f"router listening on http://{settings.listen} (routes from {settings.server}, organization {settings.organization_id})"
    # SIGTERM/SIGINT: stop accepting, let requests in flight finish (up to 10 s), then exit.
    web.run_app(
        app, host=settings.host, port=settings.port, shutdown_timeout=10.0, access_log=None,
        print=lambda _: print(banner, flush=True),  # called once the socket listens
    )


if __name__ == "__main__":
    main()
