"""Settings: one frozen value built once in main() from the environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_LISTEN = "127.0.0.1:50051"
LOOPBACK_HOSTS = ("localhost", "::1")


@dataclass(frozen=True)
class ArtifactSettings:
    """Where artifacts live (server/artifacts): `file:///…` or `s3://bucket/prefix`, and for S3 the
    standard AWS settings. Credentials are never shown in a repr."""

    store: str
    endpoint: str = ""
    region: str = ""
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    # Bounds each store request (connect, and each read) and its retries: past it, a store that does not
    # answer is a backend fault (UNAVAILABLE), not a hang.
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ArtifactSettings:
        """ROLLOUT_ARTIFACT_STORE (default: the folder `<data dir>/artifacts`) and the AWS_* variables."""
        store = env.get("ROLLOUT_ARTIFACT_STORE") or default_store(data_dir_of(env))
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or ""
        problem = _store_problem(store) or _endpoint_problem(endpoint)
        if problem:
            raise SystemExit(f"rollout: {problem}")
        raw_timeout = env.get("ROLLOUT_ARTIFACT_STORE_TIMEOUT_SECONDS") or str(cls.timeout_seconds)
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise SystemExit(f"rollout: ROLLOUT_ARTIFACT_STORE_TIMEOUT_SECONDS={raw_timeout!r} is not a number") from None
        return cls(
            store=store.rstrip("/") if store.startswith("s3://") else store,
            endpoint=endpoint,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
            access_key_id=env.get("AWS_ACCESS_KEY_ID", ""),
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
            session_token=env.get("AWS_SESSION_TOKEN", ""),
            timeout_seconds=max(0.1, timeout),
        )


def data_dir_of(env: Mapping[str, str]) -> Path:
    return Path(env.get("ROLLOUT_DATA_DIR") or ".rollout")


def default_store(data_dir: Path) -> str:
    return (data_dir.absolute() / "artifacts").as_uri()


def _store_problem(store: str) -> str | None:
    parsed = urlsplit(store)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            return f"ROLLOUT_ARTIFACT_STORE={store!r} must be an absolute file:///path"
        return None
    if parsed.scheme == "s3":
        if not parsed.netloc or parsed.query or parsed.fragment:
            return f"ROLLOUT_ARTIFACT_STORE={store!r} must be s3://bucket or s3://bucket/prefix"
        return None
    return f"ROLLOUT_ARTIFACT_STORE={store!r}: use file:///absolute/folder or s3://bucket/prefix"


def _endpoint_problem(endpoint: str) -> str | None:
    """Plain http only to this machine: credentials and artifacts cross no network unencrypted."""
    if not endpoint:
        return None
    parsed = urlsplit(endpoint)
    if parsed.scheme == "https":
        return None
    host = parsed.hostname or ""
    if parsed.scheme == "http" and (host in LOOPBACK_HOSTS or host.startswith("127.")):
        return None
    return f"AWS_ENDPOINT_URL={endpoint!r} must be https:// (plain http only for a loopback endpoint)"


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    listen: str = DEFAULT_LISTEN
    data_dir: Path = Path(".rollout")
    # arq polls Redis for jobs this often; an enqueue also wakes the workers at once (workers/__main__.py),
    # so this bounds only a lost wake-up and a deferred retry, at a fraction of a fast poll's idle CPU.
    poll_delay: float = 0.25
    # A RUNNING deployment whose worker stops renewing this lease is failed by the reaper.
    lease_seconds: float = 15.0
    # How often the sweeper re-enqueues stalled PENDING deployments and reaps expired leases.
    sweep_seconds: int = 5
    # A PENDING deployment older than this with no job is re-enqueued by the sweeper.
    stall_seconds: float = 5.0
    job_timeout_seconds: int = 3600
    # A run whose workers stopped this many times (each time taken over by another) is failed.
    max_attempts: int = 5
    # Which driver runs deployments: `local`, `simulated` or `package.module:factory` (docs/drivers.md).
    driver: str = "local"
    # This machine, as runtime instances record it: only workers with the same id act on the local
    # processes started here (the local driver). Defaults to the hostname.
    host_id: str = ""
    # Stopping a runtime instance: SIGTERM to its process group, this long to exit, then SIGKILL.
    stop_grace_seconds: float = 10.0
    # Simulated driver: how long provisioning takes, unless a deployment's params say otherwise.
    driver_delay_ms: int = 0
    db_pool_size: int = 20
    grace_seconds: float = 5.0
    queue_name: str = "rollout:queue"
    # Runtime instances of a release switched away from stay warm this long, then drain.
    warm_seconds: float = 900.0
    # A runtime instance being drained is marked DRAINING (edge routers stop sending it requests) and
    # stopped only this much later, so requests already sent to it finish (docs/router.md).
    drain_grace_seconds: float = 5.0
    # Instances' public_url is http://<name>.<project>.<environment>.<organization>.<this> (the router's).
    public_domain: str = "localhost:8080"
    # A DYNAMIC deployment fails if its runtime instances are not HEALTHY within this time.
    spawn_timeout_seconds: float = 600.0
    # Idempotency keys are remembered this long (docs/product.md §5), then purged by the sweeper.
    key_retention_seconds: float = 24 * 3600.0
    # Audit records older than this many days are purged by the sweeper; 0 keeps them forever.
    audit_retention_days: float = 0.0
    # TLS: server certificate and key (PEM files); with a client CA, clients must present a certificate.
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    # Serve Prometheus metrics on this host:port (servers only; every server of a host may bind it).
    metrics_listen: str = ""
    # Several server processes of one host listen on the same port (SO_REUSEPORT; the kernel spreads
    # connections over them). Off by default, so a port already taken is an error, not a silent share.
    share_port: bool = False
    # Keys of instance secrets (server/keyring): this list if set, else the key file, which
    # defaults to <data dir>/secrets.key. Never shown in a repr.
    secrets_key: str = field(default="", repr=False)
    secrets_key_file: Path | None = None
    # Where artifacts live (from_env always says; unset means the folder <data dir>/artifacts).
    artifacts: ArtifactSettings | None = None

    @property
    def artifact_store(self) -> ArtifactSettings:
        return self.artifacts or ArtifactSettings(default_store(self.data_dir))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        missing = [name for name in ("ROLLOUT_DATABASE_URL", "ROLLOUT_REDIS_URL") if not env.get(name)]
        if missing:
            raise SystemExit(f"rollout: set {' and '.join(missing)} (or use `make run`, which starts both)")

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return float(raw)
            except ValueError:
                raise SystemExit(f"rollout: {name}={raw!r} is not a number") from None

        return cls(
            database_url=env["ROLLOUT_DATABASE_URL"],
            redis_url=env["ROLLOUT_REDIS_URL"],
            listen=env.get("ROLLOUT_LISTEN") or DEFAULT_LISTEN,
            data_dir=data_dir_of(env),
            poll_delay=number("ROLLOUT_POLL_DELAY", cls.poll_delay),
            lease_seconds=number("ROLLOUT_LEASE_SECONDS", cls.lease_seconds),
            sweep_seconds=max(1, int(number("ROLLOUT_SWEEP_SECONDS", cls.sweep_seconds))),
            stall_seconds=number("ROLLOUT_STALL_SECONDS", cls.stall_seconds),
            job_timeout_seconds=int(number("ROLLOUT_JOB_TIMEOUT_SECONDS", cls.job_timeout_seconds)),
            max_attempts=max(1, int(number("ROLLOUT_MAX_ATTEMPTS", cls.max_attempts))),
            driver=env.get("ROLLOUT_DRIVER") or cls.driver,
            host_id=env.get("ROLLOUT_HOST_ID") or socket.gethostname(),
            stop_grace_seconds=number("ROLLOUT_STOP_GRACE_SECONDS", cls.stop_grace_seconds),
            driver_delay_ms=int(number("ROLLOUT_DRIVER_DELAY_MS", cls.driver_delay_ms)),
            db_pool_size=int(number("ROLLOUT_DB_POOL_SIZE", cls.db_pool_size)),
            grace_seconds=number("ROLLOUT_GRACE_SECONDS", cls.grace_seconds),
            queue_name=env.get("ROLLOUT_QUEUE_NAME") or cls.queue_name,
            warm_seconds=number("ROLLOUT_WARM_SECONDS", cls.warm_seconds),
            drain_grace_seconds=number("ROLLOUT_DRAIN_GRACE_SECONDS", cls.drain_grace_seconds),
            public_domain=env.get("ROLLOUT_PUBLIC_DOMAIN") or _router_domain(env.get("ROLLOUT_ROUTER_LISTEN", "")),
            spawn_timeout_seconds=number("ROLLOUT_SPAWN_TIMEOUT_SECONDS", cls.spawn_timeout_seconds),
            key_retention_seconds=number("ROLLOUT_IDEMPOTENCY_RETENTION_SECONDS", cls.key_retention_seconds),
            audit_retention_days=number("ROLLOUT_AUDIT_RETENTION_DAYS", cls.audit_retention_days),
            tls_cert=env.get("ROLLOUT_TLS_CERT", ""),
            tls_key=env.get("ROLLOUT_TLS_KEY", ""),
            tls_client_ca=env.get("ROLLOUT_TLS_CLIENT_CA", ""),
            metrics_listen=env.get("ROLLOUT_METRICS_LISTEN", ""),
            share_port=env.get("ROLLOUT_SHARE_PORT", "").lower() in ("1", "true", "yes"),
            secrets_key=env.get("ROLLOUT_SECRETS_KEY", ""),
            secrets_key_file=Path(env["ROLLOUT_SECRETS_KEY_FILE"]) if env.get("ROLLOUT_SECRETS_KEY_FILE") else None,
            artifacts=ArtifactSettings.from_env(env),
        )


def _router_domain(listen: str) -> str:
    """`localhost:<port>` of the router's ROLLOUT_ROUTER_LISTEN (default 127.0.0.1:8080): *.localhost is loopback."""
    port = listen.rpartition(":")[2] or "8080"
    return "localhost" if port == "80" else f"localhost:{port}"
