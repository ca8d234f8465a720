"""Starts everything the benchmark measures, on this machine: PostgreSQL, Valkey, rollout, the floor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.config import ArtifactSettings
from server.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from server.first_admin import create_admin
from server.migrate import migrate
from server.store.db import create_engine

ORGANIZATION = "bench"


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
    server_pid: int = 0

    def start(self) -> None:
        pg = self.stack.enter_context(EmbeddedPostgres(self.workdir / "postgres", durable=self.durable))
        valkey = self.stack.enter_context(EmbeddedValkey())
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        self.env.update(
            ROLLOUT_DATABASE_URL=pg.url,
            ROLLOUT_REDIS_URL=valkey.url,
            ROLLOUT_DATA_DIR=str(self.workdir / "data"),
            ROLLOUT_DB_POOL_SIZE="20",
            ROLLOUT_DRIVER="simulated",
        )
        migrate(pg.url, ArtifactSettings.from_env(self.env))
        self.token = asyncio.run(_admin_token(pg.url))
        self.product = f"127.0.0.1:{free_port()}"
        self.floor = f"127.0.0.1:{free_port()}"
        server = self._spawn("server", [sys.executable, "-m", "server"], ROLLOUT_LISTEN=self.product)
        self.server_pid = server.pid
        self._spawn("worker", [sys.executable, "-m", "workers"])
        self._spawn("floor-server", [sys.executable, "-m", "bench.floor", "server", self.floor.rsplit(":", 1)[1]])
        self._spawn("floor-worker", [sys.executable, "-m", "bench.floor", "worker"])
        _wait_serving(self.product)
        _wait_port(self.floor)

    def _spawn(self, name: str, argv: list[str], **extra: str) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("wb") as log:
            child = subprocess.Popen(argv, env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.server_pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        self.stack.close()


async def _admin_token(url: str) -> str:
    engine = create_engine(url, 1)
    try:
        return await create_admin(engine, ORGANIZATION)
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


def _wait_port(address: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise RuntimeError(f"{address} did not start") from None
    assert time.monotonic() <= deadline
