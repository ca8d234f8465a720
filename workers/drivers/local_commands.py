"""Running one step's command (provision, decommission): its lines as progress, its exit code as the result.

The command runs without a shell, in a session of its own (so its whole
process group can be signalled), with the snapshot file as stdin. Each line it
writes to stdout or stderr goes to the Step's progress callback as it comes
(each stream in order; the two are not ordered with each other). Exit 0
succeeds; any other exit is a DriverError carrying the tail of stderr,
secret values redacted. Past its timeout, or when the step is cancelled (the
worker lost the run's lease), its process group is stopped; when it exits,
whatever it left running in its group is killed, so a step leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

from server.domain import progress as shown
from workers.drivers import local_processes as processes
from workers.drivers.base import DriverError, Progress

READ_CHUNK = 64 * 1024
# Longer lines are cut here (progress cuts them much shorter; this bounds memory, and keeps any secret
# of at most 8 KiB whole wherever a cut line could still show it).
MAX_RAW_LINE = 16 * 1024
TAIL_LINES = 10
MAX_TAIL = 800
# After the command exits, its pipes are read to their end for at most this long.
DRAIN_SECONDS = 5.0


async def lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    """The stream's lines (without their newline), each cut to MAX_RAW_LINE; never more memory than that."""
    buffer = bytearray()
    dropping = False
    while chunk := await stream.read(READ_CHUNK):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not dropping:
                buffer += chunk[start:end]
            yield bytes(buffer[:MAX_RAW_LINE]).decode("utf-8", "replace")
            buffer.clear()
            dropping = False
            start = end + 1
        if not dropping:
            buffer += chunk[start:]
            if len(buffer) > MAX_RAW_LINE:
                del buffer[MAX_RAW_LINE:]
                dropping = True  # the rest of this line is not kept
    if buffer:
        yield bytes(buffer).decode("utf-8", "replace")


async def _pump(stream: asyncio.StreamReader | None, progress: Progress, tail: collections.deque[str] | None) -> None:
    if stream is None:
        return
    async for line in lines(stream):
        if tail is not None:
            tail.append(line)
        await progress(line)


def _failure(name: str, code: int, tail: Iterable[str], secrets: Iterable[str]) -> DriverError:
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    text = shown.redact("\n".join(tail), secrets).strip()
    if len(text) > MAX_TAIL:
        text = "…" + text[-(MAX_TAIL - 1) :]
    return DriverError(f"{name} {how}" + (f": {text}" if text else " (no output on stderr)"))


async def run(
    name: str,
    argv: tuple[str, ...],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: Path,
    timeout: float,
    grace: float,
    progress: Progress,
    secrets: Iterable[str],
) -> None:
    """Run the command to its end; DriverError if it fails, cannot start, or outlives `timeout`."""
    try:
        with stdin.open("rb") as snapshot:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=snapshot,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
    except OSError as exc:
        raise DriverError(f"{name} could not start {argv[0]!r}: {exc.strerror or exc}") from None
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    readers = [
        asyncio.create_task(_pump(process.stdout, progress, None)),
        asyncio.create_task(_pump(process.stderr, progress, tail)),
    ]
    try:
        try:
            code = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            await processes.stop_group(process.pid, grace)
            raise DriverError(f"{name} did not finish within {timeout:g}s; its processes were stopped") from None
        # What it started and left running would hold its pipes open, and must not outlive the step.
        await processes.kill_group(process.pid)
        await asyncio.wait(readers, timeout=DRAIN_SECONDS)
    except BaseException:
        # Cancelled (the lease is lost) or failed: nothing of the step may keep running.
        await asyncio.shield(processes.kill_group(process.pid))
        raise
    finally:
        for reader in readers:
            reader.cancel()
    if code != 0:
        raise _failure(name, code, tail, secrets)
