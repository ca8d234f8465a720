"""The stack under test, started by the campaign alone: a durable PostgreSQL and Valkey on fixed ports,
server and worker processes, each in its own process group so it can be killed, and only it.

Nothing here looks processes up by name: every signal goes to a pid or a
process group this module started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaos import FORK_SUPPORT_SET_HERE
from server.embedded import EmbeddedPostgres, EmbeddedValkey, free_port

# Short lease and sweep periods, as in the integration tests, so recovery takes seconds.
SETTINGS = {
    "ROLLOUT_LEASE_SECONDS": "3",
    "ROLLOUT_SWEEP_SECONDS": "1",
    "ROLLOUT_STALL_SECONDS": "2",
    "ROLLOUT_POLL_DELAY": "0.01",
    "ROLLOUT_GRACE_SECONDS": "1",
    "ROLLOUT_WARM_SECONDS": "30",
    "ROLLOUT_SPAWN_TIMEOUT_SECONDS": "20",
    "ROLLOUT_DRIVER": "simulated",  # delays and injected failures
}
_READY_TIMEOUT = 60.0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    killed: bool = False  # by the campaign; an exit without this is a crash
    ready: bool = False  # a worker that said it started, a server that answered SERVING

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL its process group and reap it."""
        self.killed = True
        _signal_group(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=15)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM its group, SIGKILL it after `timeout`. Signals go only to a group whose leader is
        not reaped yet, so the group id cannot belong to anyone else."""
        if not self.alive():
            return
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.popen.wait(timeout)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Stack:
    workdir: Path
    servers: int = 2
    pg: EmbeddedPostgres | None = None
    valkey: EmbeddedValkey | None = None
    addresses: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)  # every one ever started, in order
    _serving: dict[int, Process] = field(default_factory=dict)  # server slot -> process
    stopping: bool = False  # set on interruption: waits give up, nothing new starts
    _lock: threading.Lock = field(default_factory=threading.Lock)  # processes start from several threads

    # Backends

    def start_backends(self) -> None:
        pg_port, valkey_port = free_port(), free_port()
        self.pg = EmbeddedPostgres(self.workdir / "postgres", port=pg_port, durable=True)
        self.pg.start()
        self.valkey = EmbeddedValkey(self.workdir / "valkey", port=valkey_port)
        self.valkey.start()
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(self.servers)]

    @property
    def database_url(self) -> str:
        assert self.pg is not None
        return self.pg.url

    @property
    def postgres_log(self) -> Path:
        assert self.pg is not None
        return self.pg.data_dir / "server.log"

    def postgres_crash(self, sig: signal.Signals, down_seconds: float) -> None:
        """Stop PostgreSQL with `sig` (SIGQUIT: immediate shutdown; SIGKILL: kill -9), then start it on its port."""
        pg = self.pg
        assert pg is not None and pg.pid is not None
        pid = pg.pid
        os.kill(pid, sig)
        _wait_exited(pid, 30)
        pg.stop()  # reaps the postmaster: it is gone already
        # After kill -9 its backends notice the postmaster died and exit by themselves;
        # anything still in its group after that is killed (they are ours: one session).
        if not _group_gone(pid, 10):
            _signal_group(pid, signal.SIGKILL)
            _group_gone(pid, 10)
        time.sleep(down_seconds)
        _retry(pg.start, attempts=5, what="PostgreSQL restart")

    def valkey_crash(self, down_seconds: float) -> None:
        valkey = self.valkey
        assert valkey is not None and valkey.pid is not None
        pid = valkey.pid
        os.kill(pid, signal.SIGKILL)
        _wait_exited(pid, 15)
        valkey.stop()
        time.sleep(down_seconds)
        _retry(valkey.start, attempts=5, what="Valkey restart")

    # rollout processes

    def env(self, **overrides: str) -> dict[str, str]:
        assert self.pg is not None and self.valkey is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        if FORK_SUPPORT_SET_HERE:
            env.pop("GRPC_ENABLE_FORK_SUPPORT", None)
        env.update(SETTINGS)
        env.update(
            ROLLOUT_DATABASE_URL=self.pg.url,
            ROLLOUT_REDIS_URL=self.valkey.url,
            ROLLOUT_DATA_DIR=str(self.workdir / "data"),
        )
        env.update(overrides)
        return env

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> Process:
        with self._lock:
            if self.stopping:
                raise RuntimeError("the stack is stopping")
            log = self.workdir / f"{name}-{len(self.processes)}.log"
            with log.open("wb") as out:
                popen = subprocess.Popen(
                    [sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )
            process = Process(name, popen, log)
            self.processes.append(process)
            return process

    def start_server(self, slot: int) -> Process:
        """The server of `slot`, always on the same address; returns once it reports SERVING."""
        address = self.addresses[slot]
        process = self._spawn(f"server{slot}", "server", self.env(ROLLOUT_LISTEN=address))
        self._serving[slot] = process
        _wait_serving(address, process, lambda: self.stopping)
        process.ready = True
        return process

    def server(self, slot: int) -> Process:
        return self._serving[slot]

    def start_worker(self) -> Process:
        process = self._spawn("worker", "workers", self.env())
        deadline = time.monotonic() + _READY_TIMEOUT
        while "started on queue" not in process.log_text():
            if process.killed:
                return process  # killed by the campaign while it booted: that is no failure to start
            if not process.alive() or time.monotonic() > deadline or self.stopping:
                raise RuntimeError(f"worker did not start:\n{process.log_text()[-3000:]}")
            time.sleep(0.05)
        process.ready = True
        return process

    def workers(self) -> list[Process]:
        """Workers that are up (started, not killed)."""
        return [p for p in self.processes if p.name == "worker" and p.ready and p.alive()]

    def crashed(self) -> list[Process]:
        """Servers and workers that exited although the campaign did not kill them."""
        return [p for p in self.processes if not p.killed and not p.alive()]

    def stop_all(self) -> None:
        """Stop everything this stack started (idempotent; safe from atexit and after Ctrl-C)."""
        with self._lock:
            self.stopping = True
        for process in reversed(self.processes):
            if process.alive():
                process.killed = True  # stopped on purpose: not a crash
                process.stop()
        for backend in (self.valkey, self.pg):
            if backend is not None:
                backend.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(pid: int) -> bool:
    """True once `pid` is gone or a zombie (exited, not yet reaped by its Popen)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def _wait_exited(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _exited(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {pid} did not exit within {timeout:.0f}s")
        time.sleep(0.02)


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _retry(start: Callable[[], object], attempts: int, what: str) -> None:
    for attempt in range(attempts):
        try:
            start()
            return
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            time.sleep(1.0 + attempt)
    raise RuntimeError(f"{what} failed")


def _wait_serving(address: str, process: Process, stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    with grpc.insecure_channel(address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        while True:
            if not process.alive():
                raise RuntimeError(f"server exited:\n{process.log_text()[-3000:]}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline or stopping():
                raise RuntimeError(f"server {address} not SERVING after {_READY_TIMEOUT:.0f}s")
            time.sleep(0.05)
