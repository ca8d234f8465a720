"""Runtime instances as local processes: started in a session of their own, found again from a file, stopped by group.

Each runtime instance has a folder `<data dir>/local/runtime/<id>/`: the
unpacked bundle (its working directory), the snapshot file, its output
(`serve.log`), and `process.json` — its pid, start time, port and health
check, all a later worker on this host needs to check or stop it. The
process is not tied to the worker that started it: it keeps serving when
that worker stops or is killed. Nothing in the folder holds a secret
(they live only in the process's environment).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from server.domain import progress as shown
from server.domain.bundles import Command, Health
from workers.drivers import local_health, local_processes
from workers.drivers.base import DriverError, Started

RECORD = "process.json"
LOG = "serve.log"
LOG_TAIL_BYTES = 2048


@dataclass(frozen=True)
class Record:
    runtime_id: str
    host: str
    port: int
    pid: int
    pid_start: int
    health: Health

    def started(self) -> Started:
        return Started(self.host, self.port, self.pid, self.pid_start)

    def alive(self) -> bool:
        return local_processes.alive(self.pid, self.pid_start)


def folder(root: Path, runtime_id: str) -> Path:
    return root / "runtime" / runtime_id


def inventory(root: Path) -> list[str]:
    """Runtime instances that have a folder here (a process, or what a stopped worker left of one)."""
    try:
        return sorted(entry.name for entry in (root / "runtime").iterdir() if entry.is_dir() and _is_id(entry.name))
    except FileNotFoundError:
        return []


def _is_id(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def read(root: Path, runtime_id: str) -> Record | None:
    try:
        value = json.loads((folder(root, runtime_id) / RECORD).read_text())
        return Record(**{**value, "health": Health(**value["health"])})
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None


def _write(root: Path, record: Record) -> None:
    path = folder(root, record.runtime_id) / RECORD
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)))
    os.replace(tmp, path)  # a reader sees the whole record or none


def free_port() -> int:
    """A port nobody listens on now; the instance binds it a moment later (a rare race fails the spawn)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def launch(where: Path, argv: tuple[str, ...], env: dict[str, str], snapshot: Path) -> subprocess.Popen[bytes]:
    """Start the serve command in its own session, its output appended to serve.log (not a pipe to us)."""
    with snapshot.open("rb") as stdin, (where / LOG).open("ab") as log:
        try:
            return subprocess.Popen(
                list(argv), cwd=where / "bundle", env=env, stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise DriverError(f"serve could not start {argv[0]!r}: {exc.strerror or exc}") from None


def record_started(root: Path, runtime_id: str, host: str, port: int, pid: int, health: Health) -> Record:
    """Write down the process just started; DriverError if it is already gone."""
    started = local_processes.start_time(pid)
    if started is None:
        raise DriverError("serve exited at once")
    record = Record(runtime_id, host, port, pid, started, health)
    _write(root, record)
    return record


def _log_tail(root: Path, runtime_id: str, secrets: Iterable[str]) -> str:
    try:
        with (folder(root, runtime_id) / LOG).open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - LOG_TAIL_BYTES))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return shown.redact(text, secrets).strip()[-800:]


async def until_healthy(root: Path, record: Record, serve: Command, secrets: Iterable[str]) -> None:
    """Return once its health check passes; DriverError if it exits first or `serve.timeout_seconds` pass."""
    deadline = time.monotonic() + serve.timeout_seconds
    while True:
        if not record.alive():
            tail = _log_tail(root, record.runtime_id, secrets)
            raise DriverError("serve exited before its health check passed" + (f": {tail}" if tail else ""))
        if await local_health.probe(record.port, record.health):
            return
        if time.monotonic() >= deadline:
            raise DriverError(
                f"serve did not answer GET {record.health.path} with {record.health.status} "
                f"within {serve.timeout_seconds:g}s"
            )
        await asyncio.sleep(min(record.health.interval_seconds, max(0.0, deadline - time.monotonic())))


async def stop(root: Path, runtime_id: str, pid: int, pid_start: int, grace_seconds: float) -> None:
    """Stop its process group (if the process is still the one started) and remove its folder."""
    record = read(root, runtime_id)
    if record is not None:
        pid, pid_start = record.pid, record.pid_start
    if local_processes.alive(pid, pid_start) and not await local_processes.stop_group(pid, grace_seconds):
        raise DriverError(f"runtime instance {runtime_id} (pid {pid}) did not stop")
    await asyncio.to_thread(shutil.rmtree, folder(root, runtime_id), True)


async def healthy(root: Path, runtime_id: str) -> bool:
    record = read(root, runtime_id)
    if record is None or not record.alive():
        return False
    return await local_health.passes(record.port, record.health)
