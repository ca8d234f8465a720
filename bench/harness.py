"""Starts everything the benchmark measures, on this machine: PostgreSQL, Valkey, rollout, the floor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.counters import children
from server.config import ArtifactSettings
from server.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from server.embedded.launcher import process_counts
from server.first_admin import create_admin
from server.migrate import migrate
from server.store.db import create_engine

ORGANIZATION = "bench"
AUDIT_ORGANIZATION = "bench-audit"  # where ListAuditEvents is measured over a large log


@dataclass
class Harness:
    workdir: Path
    durable: bool
    stack: ExitStack = field(default_factory=ExitStack)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    product: str = ""
    floor: str = ""
    token: str = ""
    audit_organization: str = AUDIT_ORGANIZATION
    audit_token: str = ""
    # How many server and worker processes each side runs (the same for rollout and the floor):
    # ROLLOUT_SERVER_PROCESSES / ROLLOUT_WORKER_PROCESSES, by default what `make run` starts.
    servers: int = 0
    workers: int = 0
    server_pids: list[int] = field(default_factory=list)
    worker_pids: list[int] = field(default_factory=list)
    floor_server_pids: list[int] = field(default_factory=list)
    floor_worker_pids: list[int] = field(default_factory=list)
    pg_log: Path = Path()
    pg_pid: int = 0
    metrics_dir: Path = Path()

    def start(self) -> None:
        pg = self.stack.enter_context(EmbeddedPostgres(self.workdir / "postgres", durable=self.durable))
        valkey = self.stack.enter_context(EmbeddedValkey())
        self.pg_log = pg.log_file
        self.pg_pid = pg.pid or 0
        self.metrics_dir = self.workdir / "metrics"
        self.metrics_dir.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        self.env.update(
            ROLLOUT_DATABASE_URL=pg.url,
            ROLLOUT_REDIS_URL=valkey.url,
            ROLLOUT_DATA_DIR=str(self.workdir / "data"),
            ROLLOUT_DB_POOL_SIZE="20",
            ROLLOUT_DRIVER="simulated",
            # The workers' job pickup histogram is read from here (bench/counters.py).
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir),
        )
        migrate(pg.url, ArtifactSettings.from_env(self.env))
        self.token = asyncio.run(_admin_token(pg.url, ORGANIZATION))
        self.audit_token = asyncio.run(_admin_token(pg.url, AUDIT_ORGANIZATION))
        self.servers, self.workers = process_counts(os.environ, len(os.sched_getaffinity(0)))
        self.product = f"127.0.0.1:{free_port()}"
        self.floor = f"127.0.0.1:{free_port()}"
        floor_port = self.floor.rsplit(":", 1)[1]
        # Several servers share one port (SO_REUSEPORT): the kernel spreads connections over them.
        for n in range(1, self.servers + 1):
            self.server_pids.append(self._spawn(
                f"server-{n}", [sys.executable, "-m", "server"], ROLLOUT_LISTEN=self.product, ROLLOUT_SHARE_PORT="1").pid)
            self.floor_server_pids.append(
                self._spawn(f"floor-server-{n}", [sys.executable, "-m", "bench.floor", "server", floor_port]).pid)
        for n in range(1, self.workers + 1):
            self.worker_pids.append(self._spawn(f"worker-{n}", [sys.executable, "-m", "workers"]).pid)
            self.floor_worker_pids.append(self._spawn(f"floor-worker-{n}", [sys.executable, "-m", "bench.floor", "worker"]).pid)
        _wait_serving(self.product)
        _wait_port(self.floor)
        for n in range(1, self.servers + 1):  # every process on the shared ports listens, not just the first
            _wait_logged(self.workdir / f"server-{n}.log", b"serving rollout.v1.RolloutService")
            _wait_logged(self.workdir / f"floor-server-{n}.log", b"floor server ready")

    def _spawn(self, name: str, argv: list[str], **extra: str) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("wb") as log:
            child = subprocess.Popen(argv, env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    @contextlib.contextmanager
    def floor_paused(self) -> Iterator[None]:
        """The floor's workers stopped (SIGSTOP) for the block: they poll every 5 ms even when idle (arq's
        own way, ~10 % of a core each), CPU that rollout's rows would otherwise lose to them."""
        for pid in self.floor_worker_pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in self.floor_worker_pids:
                os.kill(pid, signal.SIGCONT)

    def cpu_groups(self) -> dict[str, Callable[[], list[int]]]:
        """The processes whose CPU the bench reports, by group (bench/counters.py Busy)."""
        return {
            "client": lambda: [os.getpid()],
            "servers": lambda: self.server_pids,
            "workers": lambda: self.worker_pids,
            "floor servers": lambda: self.floor_server_pids,
            "floor workers": lambda: self.floor_worker_pids,
            "postgres": lambda: [self.pg_pid, *children(self.pg_pid)],
        }

    @property
    def dsn(self) -> str:
        return self.env["ROLLOUT_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)

    def rss_kib(self, pids: list[int] | None = None) -> int:
        """Resident memory of rollout's server processes (or of `pids`), summed."""
        return sum(_rss_kib(pid) for pid in (self.server_pids if pids is None else pids))

    def stop(self) -> None:
        for pid in self.floor_worker_pids:  # a stopped process would not see its SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        self.stack.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def channels(address: str, count: int) -> list[grpc.aio.Channel]:
    """`count` channels with a connection each (no subchannel shared between them), so the kernel
    spreads them over the processes that share the port, as it would separate clients."""
    return [grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(count)]


async def _admin_token(url: str, organization: str) -> str:
    engine = create_engine(url, 1)
    try:
        return await create_admin(engine, organization)
    finally:
        await engine.dispose()


def _wait_serving(address: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{address} did not become SERVING")


def _wait_logged(path: Path, text: bytes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_bytes():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.name} did not log {text.decode()!r}")
        time.sleep(0.05)


def _wait_port(address: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise RuntimeError(f"{address} did not start") from None
    assert time.monotonic() <= deadline
