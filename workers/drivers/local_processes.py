"""Local processes by pid and start time: is it still the one we started, and stopping its whole group.

Every command and runtime instance of the local driver runs in a session of
its own, so its pid is also its process group id: signalling the group
reaches whatever it forked. A pid is only ever trusted together with the
start time read when it was started (`/proc/<pid>/stat`), so a pid the kernel
reused for another process is never taken for ours. Linux does not reuse a
pid while a process group of that id exists, so a group can be signalled
after its leader is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

POLL_SECONDS = 0.05
# After SIGKILL the kernel needs a moment to take the processes down.
KILL_WAIT_SECONDS = 5.0


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    # A zombie is dead; whoever started it collects it (asyncio's child watcher, the driver's Popen).
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(pid: int, started: int) -> bool:
    """Whether the process `pid` that started at `started` still runs."""
    return pid > 0 and started > 0 and start_time(pid) == started


def group_exists(pgid: int) -> bool:
    if pgid <= 0:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _group_has_living_members(pgid)


def _group_has_living_members(pgid: int) -> bool:
    """killpg(…, 0) also succeeds for a group of zombies; they are dead for our purposes."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _gone(pgid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while group_exists(pgid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def stop_group(pgid: int, grace_seconds: float) -> bool:
    """SIGTERM the group, give it `grace_seconds` to exit, then SIGKILL; True once nothing of it is left."""
    if not group_exists(pgid):
        return True
    signal_group(pgid, signal.SIGTERM)
    if await _gone(pgid, grace_seconds):
        return True
    return await kill_group(pgid)


async def kill_group(pgid: int) -> bool:
    """SIGKILL the group at once; True once nothing of it is left."""
    signal_group(pgid, signal.SIGKILL)
    return await _gone(pgid, KILL_WAIT_SECONDS)
