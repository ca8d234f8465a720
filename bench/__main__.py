"""`python -m bench [--smoke | --quick] [--durable] [--out FILE]`: measure, print the table, write JSON."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import counters, overhead
from bench.edge import measure_edge
from bench.harness import Harness
from bench.profile import profiled
from bench.scenarios import Audit, Floor, Op, Product, floor_streams, measure, product_streams
from bench.stats import Result, compared, table

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Sizes:
    iterations: int
    flows: int
    warmup: int
    history: tuple[int, ...]  # ListDeployments "last good" over each of these many past deployments
    watchers: int
    fan_outs: int
    idle_seconds: float  # how long idle CPU is sampled
    counted_flows: int  # flows whose round trips are counted
    audit: tuple[int, ...] = (10_000, 100_000, 1_000_000)  # ListAuditEvents over logs of these many records
    streams: int = 10_000  # open WatchDeployment streams whose server memory is measured
    # (f) and (g), bench/edge.py: warm and cold rollbacks, requests per side of (g).
    edge_warm: int = 30
    edge_cold: int = 5
    edge_requests: int = 4000


FULL = Sizes(300, 200, 20, (10_000, 100_000, 1_000_000), 1000, 5, 5.0, 5)
# Modest sizes for a shared machine: the same rows, fewer samples.
QUICK = Sizes(100, 60, 10, (10_000, 100_000), 1000, 3, 3.0, 3, (10_000, 100_000), 10_000,
              edge_warm=10, edge_cold=3, edge_requests=2000)
SMOKE = Sizes(10, 5, 2, (1_000,), 20, 1, 0.5, 1, (1_000,), 50, edge_warm=3, edge_cold=1, edge_requests=100)
MANY = 32


class Rows:
    """The measured rows of one run, in order, and what is counted beside them (`extra`)."""

    def __init__(self, harness: Harness, sizes: Sizes, profile: Path | None) -> None:
        self.harness, self.sizes, self.profile = harness, sizes, profile
        self.floor, self.product = Floor(harness.floor, MANY), Product(harness, MANY)
        self.results: list[Result] = []
        self.cpu: dict[str, dict[str, float]] = {}
        self.extra: dict[str, Any] = {"cpu_percent": self.cpu}
        self._groups = harness.cpu_groups()

    async def timed(self, name: str, clients: int, iterations: int, op: Op) -> Result:
        """One row, with the CPU each group of processes used meanwhile (and its flame graphs, if asked)."""
        ours = name.startswith("(")  # rollout's row, not the floor's
        profile = self.profile if ours else None  # "(a) …" → a-1-server.svg, a-32-server.svg
        paused = self.harness.floor_paused() if ours else contextlib.nullcontext()
        with paused, counters.Busy(self._groups) as busy, profiled(self.harness, profile, f"{name[1]}-{clients}"):
            result = await measure(name, clients, iterations, self.sizes.warmup, op)
        self.cpu[f"{name} ({clients})"] = busy.percent
        return result

    async def both(self, name: str, clients: int, iterations: int, op: Op, base: Result) -> None:
        self.results.append(compared(await self.timed(name, clients, iterations, op), base))

    async def flows(self) -> tuple[dict[int, Result], dict[int, Result]]:
        """(a)–(c) against the floor's transaction and pipeline; the floor rows, for the later rows."""
        sizes, product, extra, harness = self.sizes, self.product, self.extra, self.harness
        floor_tx = {c: await self.timed("floor: unary → 1 transaction", c, sizes.iterations, self.floor.tx) for c in (1, MANY)}
        floor_flow = {c: await self.timed("floor: unary → tx → job → tx → stream", c, sizes.flows, self.floor.pipeline)
                      for c in (1, MANY)}
        self.results += [floor_tx[1], floor_tx[MANY], floor_flow[1], floor_flow[MANY]]
        for c in (1, MANY):
            await self.both("(a) RollbackDeployment", c, sizes.iterations, product.rollback, floor_tx[c])
        for c in (1, MANY):
            per_client = sizes.flows if c == 1 else max(2, sizes.flows // 10)
            before = counters.pickup(harness.metrics_dir)
            product.phases = {} if c == 1 else None
            await self.both("(b) rollback → approve → COMPLETED (full flow)", c, per_client, product.full_flow, floor_flow[c])
            if product.phases is not None:
                extra["full_flow_profile_ms"] = {step: statistics.median(ms) for step, ms in product.phases.items()}
                product.phases = None
            after = counters.pickup(harness.metrics_dir)
            jobs = after[1] - before[1]
            extra[f"pickup_mean_ms_{c}"] = 1000 * (after[0] - before[0]) / jobs if jobs else 0.0
        extra["round_trips_full_flow"] = await counters.round_trips(
            harness.dsn, harness.pg_log, lambda: product.full_flow(0, 0), sizes.counted_flows)
        extra["round_trips_rollback"] = await counters.round_trips(
            harness.dsn, harness.pg_log, lambda: product.rollback(0, 0), sizes.counted_flows)
        with harness.floor_paused():  # the floor's workers poll the same Redis every 5 ms
            extra["redis_commands_full_flow"] = await counters.redis_commands(
                harness.env["ROLLOUT_REDIS_URL"], lambda: product.full_flow(0, 0), sizes.counted_flows)
        for c in (1, MANY):
            await self.both("(c) idempotent replay", c, sizes.iterations, product.replay, floor_tx[c])
        return floor_tx, floor_flow

    async def growth(self, floor_tx: dict[int, Result]) -> None:
        """(d) and (h): lists over ever more rows (flat is the goal)."""
        seeded = 0
        for rows in self.sizes.history:
            history = await self.product.seed_history(self.harness.env["ROLLOUT_DATABASE_URL"], rows - seeded)
            seeded = rows
            for c in (1, MANY):
                await self.both(f"(d) ListDeployments last good, {rows:,} rows", c, self.sizes.iterations,
                                self.product.last_good(history), floor_tx[c])
        audit = Audit(self.harness, self.product)
        for rows in self.sizes.audit:
            await audit.seed(rows)
            pages = (("newest 50", "", 50), ("one resource's newest 50", 'resource = "instances/seed-7"', min(50, rows // 100)))
            for name, filter_text, expected in pages:
                for c in (1, MANY):
                    await self.both(f"(h) ListAuditEvents {name}, {rows:,} records", c, self.sizes.iterations,
                                    audit.page(filter_text, expected), floor_tx[c])

    async def watching(self) -> None:
        """(e) fan-out, and the servers' memory for many open streams."""
        sizes, harness = self.sizes, self.harness
        product_fan, memory, events = [], [], 0
        for n in range(sizes.fan_outs):
            with profiled(harness, self.profile if n == 0 else None, "e-1"):
                elapsed, kib, events = await self.product.fan_out(sizes.watchers, harness)
            product_fan.append(elapsed)
            memory.append(kib)
        # The floor does the same work: as many events, each to every watcher (and, for comparison with
        # earlier runs, a single event).
        floor_one = [await self.floor.fan_out(sizes.watchers) for _ in range(sizes.fan_outs)]
        floor_same = [await self.floor.fan_out(sizes.watchers, events) for _ in range(sizes.fan_outs)]
        fan_floor = _single(f"floor: {events} events → {sizes.watchers} watchers", floor_same)
        self.results += [
            _single(f"floor: 1 event → {sizes.watchers} watchers", floor_one),
            fan_floor,
            compared(_single(f"(e) 1 deployment's {events} events → {sizes.watchers} watchers", product_fan), fan_floor),
        ]
        self.extra["fan_out_events"] = events
        self.extra["server_kib_per_1000_streams"] = sorted(memory)[len(memory) // 2] * 1000
        for side, open_them in (("floor", floor_streams), ("rollout", lambda h, n: product_streams(self.product, h, n))):
            kib_before, kib_after = await open_them(harness, sizes.streams)
            self.extra[f"{side}_servers_kib_streams"] = {"streams": sizes.streams, "before": kib_before, "after": kib_after}


async def run(harness: Harness, sizes: Sizes, profile: Path | None = None) -> tuple[list[Result], dict[str, Any]]:
    rows = Rows(harness, sizes, profile)
    await rows.product.prepare(MANY)
    idle = {"workers": harness.worker_pids, "floor workers": harness.floor_worker_pids}
    rows.extra["idle_cpu_percent"] = await counters.idle_cpu(idle, sizes.idle_seconds)
    floor_tx, _ = await rows.flows()
    await rows.growth(floor_tx)
    await rows.watching()
    edge, edge_extra = await measure_edge(harness, sizes.edge_warm, sizes.edge_cold, sizes.edge_requests)
    rows.results += edge
    rows.extra.update(edge_extra)
    return rows.results, rows.extra


def authorization_cost(repeat: int) -> dict[str, float]:
    """Microseconds per decision: Cedar itself, and the remembered decision the guard uses on repeats."""
    from datetime import UTC, datetime

    from server import authz
    from server.domain.models import Principal, PrincipalKind

    policies = authz.compile_policies([(Path(__file__).resolve().parents[1] / "policies" / "sre.cedar").read_text()])
    principal = Principal("p", "bench", "oncall", PrincipalKind.USER, ("sre",), False, datetime.now(UTC))
    resource = authz.instance("i-1", "shop", "production", {"team": "a"}, "web")
    decider = authz.Decider(policies)
    out: dict[str, float] = {}
    deciders: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("cedar_us", lambda: authz.is_allowed(policies, principal, "instance:deploy", resource)),
        ("remembered_us", lambda: decider.allows(principal, "instance:deploy", resource)),
    )
    for name, decide in deciders:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            decide()
            samples.append(time.perf_counter() - started)
        out[name] = sorted(samples)[len(samples) // 2] * 1e6
    return out


def _single(name: str, seconds: list[float]) -> Result:
    from bench.stats import summarize

    return summarize(name, 1, seconds, sum(seconds))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: keeps the benchmark working in CI")
    parser.add_argument("--quick", action="store_true", help="fewer samples, 10k and 100k history rows: for a shared machine")
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync on (slower on shared VMs)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="write py-spy flame graphs of a server and a worker for each row into DIR")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    # SIGTERM unwinds like Ctrl-C, so the servers and workers the harness started are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as workdir:
        harness = Harness(Path(workdir), durable=args.durable)
        started = time.monotonic()
        try:
            harness.start()
            results, extra = asyncio.run(run(harness, sizes, args.profile))
        finally:
            harness.stop()
    print(table(results))
    extra.update(authorization_cost(200 if args.smoke else 5000))
    rollback = next(r for r in results if r.name.startswith("(a)") and r.clients == 1)
    loop = os.environ.get("ROLLOUT_EVENT_LOOP") or "uvloop"
    print(f"\n{harness.servers} server and {harness.workers} worker processes on each side (rollout, the floor), {loop} loops")
    print(f"server memory per 1,000 open WatchDeployment streams: {extra['server_kib_per_1000_streams'] / 1024:.1f} MiB")
    for side in ("rollout", "floor"):
        m = extra[f"{side}_servers_kib_streams"]
        print(f"{side} servers' memory with {m['streams']:,} streams open: {m['after'] / 1024:.0f} MiB"
              f" ({(m['after'] - m['before']) / 1024:+.0f} MiB for the streams; goal ≤ 100 MiB)")
    print(
        f"authorization decision (p50): Cedar {extra['cedar_us']:.0f} µs, remembered {extra['remembered_us']:.1f} µs"
        f" — {extra['cedar_us'] / 10 / rollback.p50_ms:.1f}% of a RollbackDeployment at its p50 even uncached"
    )
    print(f"router throughput: {extra['router_throughput_ratio'] * 100:.0f}% of the backends hit directly (target ≥ 50%)")
    print("where a full flow's time goes at 1 client (p50 ms; the events' times are their transactions' starts):")
    for step, ms in extra["full_flow_profile_ms"].items():
        print(f"  {step:<78} {ms:8.2f}")
    print("where a warm rollback's time goes (p50 ms, from its events' times):")
    for phase, ms in extra["warm_rollback_profile_ms"].items():
        print(f"  {phase:<48} {ms:8.1f}")
    extra.update(overhead.measure(200 if args.smoke else 5000))
    print(
        f"per-RPC report (p50): log line {extra['log_us']:.0f} µs + metrics {extra['metrics_us']:.0f} µs"
        f" = {extra['report_us']:.0f} µs — {extra['report_us'] / 10 / rollback.p50_ms:.1f}% of a RollbackDeployment"
        " at its p50 (goal ≤ 5%)"
    )
    flow_trips, rollback_trips = extra["round_trips_full_flow"], extra["round_trips_rollback"]
    print(f"PostgreSQL round trips (counted, fewest of {len(flow_trips['counts'])}): full flow {flow_trips['fewest']},"
          f" RollbackDeployment {rollback_trips['fewest']}")
    redis_flow = extra["redis_commands_full_flow"]
    print(f"Redis commands (counted, fewest of {len(redis_flow['counts'])}): full flow {redis_flow['fewest']} "
          f"({', '.join(f'{k} {v}' for k, v in redis_flow['commands'].items())})")
    print(f"job pickup (enqueue → start, mean): {extra['pickup_mean_ms_1']:.2f} ms at 1 client,"
          f" {extra[f'pickup_mean_ms_{MANY}']:.2f} ms at {MANY}")
    print(f"CPU during the {MANY}-client rows, % of one core (a group's total; {_cpus()} cores):")
    for row, used in extra["cpu_percent"].items():
        if row.endswith(f"({MANY})"):
            print(f"  {row:<58} " + ", ".join(f"{k} {v:.0f}" for k, v in used.items() if v >= 1))
    print("idle CPU, % of a core: " + ", ".join(f"{k} {v:.1f}" for k, v in extra["idle_cpu_percent"].items()))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("grpcio", "sqlalchemy", "asyncpg", "arq", "cedarpy", "uvloop", "orjson")},
        "event_loop": loop,
        "processes": {"servers": harness.servers, "workers": harness.workers},
        "smoke": args.smoke,
        "quick": args.quick,
        "durable": args.durable,
        "seconds": round(time.monotonic() - started, 1),
        "results": [r.as_dict() for r in results],
        **extra,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


def _cpus() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
