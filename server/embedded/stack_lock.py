"""One stack per data folder: the launcher's lock, and a record of the processes it started.

The launcher holds an flock on `<data>/stack.lock` (which names its pid) while
it runs. The kernel drops the lock when the launcher dies, however it dies, and
children never inherit it. Every process group the launcher starts is written
to `<data>/stack.state` with the process's start time; a clean stop removes the
file. So a launcher that gets the lock and still finds the file knows the
previous one was killed, and stops exactly the recorded processes that are still
those processes (same boot, pid and start time, still leading their group) —
never anything found by name.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import select
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_FILE = "stack.lock"
STATE_FILE = "stack.state"
_STOP_TIMEOUT = 30.0


class AlreadyRunning(Exception):
    def __init__(self, data_root: Path, pid: int | None) -> None:
        super().__init__(f"a stack is already running on {data_root} (launcher pid {pid or 'unknown'})")
        self.pid = pid


@dataclass(frozen=True)
class Started:
    """A process the launcher started as the leader of its own process group."""

    name: str
    pid: int
    start_ticks: int
    boot_id: str
    stop_signal: int


def _boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start time in clock ticks since boot), or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[2]), int(fields[19])


def started(name: str, pid: int, stop_signal: int = signal.SIGTERM) -> Started | None:
    """The identity of a child just started (None if it is already gone)."""
    stat = _stat(pid)
    return None if stat is None else Started(name, pid, stat[2], _boot_id(), int(stop_signal))


def is_running(process: Started) -> bool:
    """True while `process` itself still runs and leads its group: a reused pid is not it."""
    stat = _stat(process.pid)
    return (
        stat is not None
        and stat[0] not in ("Z", "X")
        and stat[1] == process.pid
        and stat[2] == process.start_ticks
        and process.boot_id == _boot_id()
    )


def read_state(data_root: Path) -> list[Started] | None:
    """The processes recorded by a launcher of `data_root` that did not stop cleanly, else None."""
    try:
        return [Started(**entry) for entry in json.loads((data_root / STATE_FILE).read_text())]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        log.warning("ignoring an unreadable %s", data_root / STATE_FILE)
        return []


def stop_leftover(process: Started, timeout: float = _STOP_TIMEOUT) -> None:
    """Stop `process` if it is still the one recorded: its stop signal, then SIGKILL to its group."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return
    try:
        # Checked after opening the pidfd, so the descriptor is known to refer to this very process.
        if not is_running(process):
            return
        log.info("stopping %s (pid %d), left running by a launcher that was killed", process.name, process.pid)
        signal.pidfd_send_signal(pidfd, process.stop_signal)
        if not _exits(pidfd, timeout):
            log.warning("%s (pid %d) did not stop within %.0fs; killing its process group", process.name, process.pid, timeout)
            os.killpg(process.pid, signal.SIGKILL)  # the leader still runs, so the group is still ours
            _exits(pidfd, timeout)
    finally:
        os.close(pidfd)


def _exits(pidfd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


class StackLock:
    """Held by one launcher per data folder, from before it touches anything until it has stopped."""

    def __init__(self, data_root: Path) -> None:
        self.data_root = data_root
        self._fd: int | None = None
        self._recorded: list[Started] = []

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock or raise AlreadyRunning; True if a killed launcher's processes were cleared."""
        self.data_root.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: a child holding the descriptor would keep the lock after the launcher died.
        fd = os.open(self.data_root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(self.data_root, int(holder) if holder.isdigit() else None) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        leftovers = read_state(self.data_root)
        try:
            for process in reversed(leftovers or []):  # users of PostgreSQL and Valkey first, as a clean stop would
                stop_leftover(process)
        except BaseException:
            os.close(fd)  # interrupted: the state file stays, so the next start clears the rest
            raise
        (self.data_root / STATE_FILE).unlink(missing_ok=True)
        self._fd = fd
        return leftovers is not None

    def record(self, name: str, pid: int, stop_signal: int = signal.SIGTERM) -> None:
        """Add a process group the launcher just started to the state file (replaced atomically)."""
        process = started(name, pid, stop_signal)
        if process is None:
            return
        self._recorded.append(process)
        staging = self.data_root / f"{STATE_FILE}.new"
        staging.write_text(json.dumps([asdict(p) for p in self._recorded]))
        os.replace(staging, self.data_root / STATE_FILE)

    def release(self) -> None:
        """After a clean stop: nothing is left to clear, and the folder is free."""
        if self._fd is None:
            return
        (self.data_root / STATE_FILE).unlink(missing_ok=True)
        os.close(self._fd)  # closing the only descriptor drops the flock
        self._fd = None
