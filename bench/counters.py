"""What the bench counts rather than times: round trips to PostgreSQL, a worker's idle CPU, job pickup.

Round trips are counted by PostgreSQL itself: for the counted flows the
server logs every statement it executes (`log_statement = all`, a prefix
with the client's application name), and the lines rollout's processes
(application name `rollout`) caused between two markers are counted. asyncpg
sends one statement per round trip (Bind/Execute/Sync, or a simple query for
BEGIN and COMMIT); statements prepared earlier on the connection are reused,
so after warm-up no Parse round trips remain to miss.

Redis commands are counted by Redis (`INFO commandstats`, every client's
commands) around each counted flow; the fewest of several flows is the
flow's own, plus whatever the idle workers' poll sent in the window.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import redis.asyncio

_PREFIX = "@@%a@@ "
_LINE = re.compile(r"^@@(?P<app>[^@]*)@@ .*?LOG:  (?:statement|execute [^:]*): (?P<sql>.*)$")


async def round_trips(dsn: str, log_file: Path, flow: Callable[[], Awaitable[object]], repeat: int) -> dict[str, object]:
    """Statements rollout sent PostgreSQL per `flow`, counted on `repeat` flows one after another: the
    fewest (a window may also hold a background statement: the workers' sweep and upkeep, a server's
    health probe; those only add), every count, and the statements of the fewest (their first words)."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "bench-count"})
    try:
        await conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        await conn.execute(f"ALTER SYSTEM SET log_line_prefix = '{_PREFIX}'")
        await conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.5)  # each backend reloads before its next command
        await flow()  # backends that were idle pick the setting up now
        counts: list[int] = []
        fewest: list[str] = []
        for n in range(repeat):
            mark = uuid.uuid4().hex
            start = log_file.stat().st_size
            await conn.execute(f"SELECT 'bench-begin-{mark}'")
            await flow()
            await asyncio.sleep(0.2)  # the worker's last statements after the event went out
            await conn.execute(f"SELECT 'bench-end-{mark}'")
            seen = _statements(log_file, start, mark)
            counts.append(len(seen))
            if n == 0 or len(seen) < len(fewest):
                fewest = seen
    finally:
        await conn.execute("ALTER SYSTEM RESET log_statement")
        await conn.execute("ALTER SYSTEM RESET log_line_prefix")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.close()
    return {"fewest": min(counts), "counts": counts, "statements": fewest}


async def redis_commands(url: str, flow: Callable[[], Awaitable[object]], repeat: int) -> dict[str, object]:
    """Redis commands per `flow` (all clients'), on `repeat` flows one after another: the fewest, every
    count, and the commands of the fewest by name."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        counts: list[int] = []
        fewest: dict[str, int] = {}
        for n in range(repeat):
            before = await _command_calls(client)
            await flow()
            await asyncio.sleep(0.2)  # as for round_trips: the worker's last commands
            after = await _command_calls(client)
            used = {k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)}
            used["info"] = used.get("info", 0) - 1  # the first INFO call is counted by the second one
            used = {k: v for k, v in used.items() if v > 0}
            counts.append(sum(used.values()))
            if n == 0 or counts[-1] < sum(fewest.values()):
                fewest = used
    finally:
        await client.aclose()
    return {"fewest": min(counts), "counts": counts, "commands": dict(sorted(fewest.items()))}


async def _command_calls(client: redis.asyncio.Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def _statements(log_file: Path, start: int, mark: str) -> list[str]:
    with log_file.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    inside = False
    found = []
    for line in text.splitlines():
        if f"bench-begin-{mark}" in line:
            inside = True
        elif f"bench-end-{mark}" in line:
            break
        elif inside and (m := _LINE.match(line)) and m["app"] == "rollout":
            found.append(" ".join(m["sql"].split()[:6])[:80] or "(a statement on several lines)")
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of a process (PostgreSQL's backends, of its postmaster)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Busy:
    """CPU used by groups of processes over a stretch of time, in % of one core (a group's total):
    whether a side was CPU-bound while a row was measured, and which part."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._started = 0.0
        self._before: dict[str, float] = {}

    def _used(self) -> dict[str, float]:
        return {name: sum(_cpu_or_zero(pid) for pid in pids()) for name, pids in self._groups.items()}

    def __enter__(self) -> Busy:
        self._started, self._before = time.monotonic(), self._used()
        return self

    def __exit__(self, *_: object) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.percent = {name: 100 * (cpu - self._before.get(name, 0.0)) / elapsed for name, cpu in self._used().items()}


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:  # a backend that ended meanwhile
        return 0.0


async def idle_cpu(groups: dict[str, list[int]], seconds: float) -> dict[str, float]:
    """Percent of one core a process of each group used over `seconds` with nothing to do (the group's mean)."""
    def used() -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) / len(pids) for name, pids in groups.items()}

    before = used()
    await asyncio.sleep(seconds)
    return {name: 100 * (cpu - before[name]) / seconds for name, cpu in used().items()}


def pickup(metrics_dir: Path, job: str = "provision") -> tuple[float, int]:
    """(sum of seconds, count) of the workers' job pickup histogram (enqueue → start), so far."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    total, count = 0.0, 0
    for metric in registry.collect():
        if metric.name != "rollout_job_pickup_seconds":
            continue
        for sample in metric.samples:
            if sample.labels.get("job") != job:
                continue
            if sample.name.endswith("_sum"):
                total += sample.value
            elif sample.name.endswith("_count"):
                count += int(sample.value)
    return total, count
