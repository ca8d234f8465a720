"""The router's configuration, read once from the environment in main()."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:8080"


@dataclass(frozen=True)
class RouterSettings:
    # Where it serves HTTP (ROLLOUT_ROUTER_LISTEN).
    listen: str = DEFAULT_LISTEN
    # The rollout gRPC server it follows routes from (ROLLOUT_ROUTER_SERVER, else ROLLOUT_LISTEN).
    server: str = "127.0.0.1:50051"
    # The organization it serves, and a token of a principal allowed `instance:read` on it.
    organization_id: str = "acme"
    token: str = field(default="", repr=False)
    # Artifacts of STATIC instances are unpacked here once per release (ROLLOUT_DATA_DIR/router).
    cache_dir: Path = Path(".rollout/router")
    # How often the server sends a whole snapshot even when nothing changed (WatchRoutesRequest.resync_seconds).
    resync_seconds: int = 30
    # A backend that refused a connection is skipped for this long (unless every backend is).
    down_seconds: float = 1.0
    connect_timeout_seconds: float = 2.0
    # A backend's whole answer must come within this time, else 504.
    upstream_timeout_seconds: float = 300.0

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]") or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RouterSettings:
        env = dict(os.environ if env is None else env)
        data = Path(env.get("ROLLOUT_DATA_DIR") or ".rollout")
        token = env.get("ROLLOUT_ROUTER_TOKEN", "")
        token_file = Path(env.get("ROLLOUT_ROUTER_TOKEN_FILE") or data / "router.token")
        if not token:
            try:
                token = token_file.read_text().strip()
            except OSError as exc:
                raise SystemExit(
                    f"router: no token: set ROLLOUT_ROUTER_TOKEN, or ROLLOUT_ROUTER_TOKEN_FILE ({token_file}: {exc.strerror}); "
                    "`make run` writes <data dir>/router.token"
                ) from None
        return cls(
            listen=env.get("ROLLOUT_ROUTER_LISTEN") or DEFAULT_LISTEN,
            server=env.get("ROLLOUT_ROUTER_SERVER") or env.get("ROLLOUT_LISTEN") or cls.server,
            organization_id=env.get("ROLLOUT_ROUTER_ORGANIZATION") or env.get("ROLLOUT_ORGANIZATION") or cls.organization_id,
            token=token,
            cache_dir=data / "router",
            resync_seconds=int(env.get("ROLLOUT_ROUTER_RESYNC_SECONDS") or cls.resync_seconds),
        )
