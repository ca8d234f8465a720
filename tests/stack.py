"""A real stack for integration tests: PostgreSQL, Valkey, and rollout server/worker processes.

Servers and workers run as separate processes (`python -m server`,
`python -m workers`), exactly as in production, so tests talk to them only
through a real gRPC channel and may kill them like a real failure would.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.embedded import free_port

# Seals the instance secrets the suite stores (server/keyring); a new one each session.
TEST_SECRETS_KEY = base64.b64encode(os.urandom(32)).decode()

# Short lease and sweep periods so recovery from a killed worker takes seconds.
TEST_SETTINGS = {
    "ROLLOUT_LEASE_SECONDS": "2",
    "ROLLOUT_SWEEP_SECONDS": "1",
    "ROLLOUT_STALL_SECONDS": "1",
    "ROLLOUT_GRACE_SECONDS": "1",
    # No ROLLOUT_POLL_DELAY: workers poll at the default and an enqueue wakes them at once
    # (workers/__main__.py), as in production. A fast poll only made each idle worker burn CPU
    # that every test waits for; the deferred retries and sweeps it would hasten wait a second anyway.
    # DRAINING → stopped: short, so tests that wait for a drain wait little (the router's tests set their own).
    "ROLLOUT_DRAIN_GRACE_SECONDS": "0.5",
    # The tests inject delays and failures through the simulated driver (workers/drivers/simulated.py).
    "ROLLOUT_DRIVER": "simulated",
}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            self.popen.send_signal(sig)
        self.popen.wait(timeout=15)

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            self.wait_stopped()

    def wait_stopped(self) -> None:
        """Until it has ended after a SIGTERM; SIGKILL after 15 s."""
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    """Starts rollout processes against one PostgreSQL and one Redis."""

    database_url: str
    redis_url: str
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        env.update(TEST_SETTINGS)
        env.update(
            ROLLOUT_DATABASE_URL=self.database_url,
            ROLLOUT_REDIS_URL=self.redis_url,
            ROLLOUT_DATA_DIR=str(self.workdir / "data"),
            ROLLOUT_SECRETS_KEY=TEST_SECRETS_KEY,
        )
        env.update(overrides)
        return env

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> Process:
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            popen = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT)
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def spawn(self, module: str, **overrides: str) -> Process:
        """`python -m <module>` (server, workers) with this stack's settings, not waiting for anything."""
        overrides.setdefault("ROLLOUT_LISTEN", f"127.0.0.1:{free_port()}")  # never a port someone else uses
        return self._spawn(module, module, self.env(**overrides))

    def start_server(
        self,
        wait: bool = True,
        credentials: grpc.ChannelCredentials | None = None,
        address: str | None = None,
        **overrides: str,
    ) -> tuple[Process, str]:
        """A server process (on `address`, e.g. again where a stopped one listened, or on a free port);
        with `wait`, returns once it reports SERVING, else once it listens."""
        address = address or f"127.0.0.1:{free_port()}"
        process = self._spawn("server", "server", self.env(ROLLOUT_LISTEN=address, **overrides))
        wait_serving(address, process, require_serving=wait, credentials=credentials)
        return process, address

    def migrate(self, check: bool = True, **overrides: str) -> subprocess.CompletedProcess[str]:
        """`python -m server.migrate` with this stack's settings: the schema, then the installation and its
        marker in the artifact store (what every server and worker proves at start)."""
        done = subprocess.run(
            [sys.executable, "-m", "server.migrate"], env=self.env(**overrides), capture_output=True, text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"migration failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def start_worker(self, wait: bool = True, **overrides: str) -> Process:
        """A worker process; with `wait`, returns once it has started on its queue."""
        process = self._spawn("worker", "workers", self.env(**overrides))
        if not wait:
            return process
        marker = "started on queue"
        deadline = time.monotonic() + 30
        while marker not in process.log.read_text(errors="replace"):
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{process.log_tail()}")
            time.sleep(0.05)
        return process

    def stop(self, processes: list[Process]) -> None:
        """SIGTERM to each of `processes`, then wait for each: their graceful shutdowns overlap."""
        running = [p for p in processes if p.alive()]
        for process in running:
            process.popen.send_signal(signal.SIGTERM)
        for process in running:
            process.wait_stopped()

    def stop_all(self) -> None:
        self.stop(self.processes[::-1])


def wait_serving(
    address: str,
    process: Process,
    timeout: float = 30,
    require_serving: bool = True,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    channel = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    with channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            if not process.alive():
                raise RuntimeError(f"server exited:\n{process.log_tail()}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING or not require_serving:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not SERVING after {timeout}s:\n{process.log_tail()}")
            time.sleep(0.05)
