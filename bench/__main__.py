"""`python -m bench [--smoke | --quick] [--durable] [--out FILE]`: measure, print the table, write JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
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
from bench.scenarios import Floor, Product, measure
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
    # (f) and (g), bench/edge.py: warm and cold rollbacks, requests per side of (g).
    edge_warm: int = 30
    edge_cold: int = 5
    edge_requests: int = 4000


FULL = Sizes(300, 200, 20, (10_000, 100_000, 1_000_000), 1000, 5, 5.0, 5)
# Modest sizes for a shared machine: the same rows, fewer samples.
QUICK = Sizes(100, 60, 10, (10_000, 100_000), 1000, 3, 3.0, 3, edge_warm=10, edge_cold=3, edge_requests=2000)
SMOKE = Sizes(10, 5, 2, (1_000,), 20, 1, 0.5, 1, edge_warm=3, edge_cold=1, edge_requests=100)
MANY = 32


async def run(harness: Harness, sizes: Sizes) -> tuple[list[Result], dict[str, Any]]:
    floor, product = Floor(harness.floor), Product(harness)
    await product.prepare(MANY)
    results: list[Result] = []
    extra: dict[str, object] = {}
    idle = {"worker": harness.worker_pid, "floor worker": harness.floor_worker_pid}
    extra["idle_cpu_percent"] = await counters.idle_cpu(idle, sizes.idle_seconds)

    async def both(name: str, clients: int, iterations: int, op, base: Result) -> None:  # type: ignore[no-untyped-def]
        results.append(compared(await measure(name, clients, iterations, sizes.warmup, op), base))

    floor_tx = {c: await measure("floor: unary → 1 transaction", c, sizes.iterations, sizes.warmup, floor.tx) for c in (1, MANY)}
    floor_flow = {
        c: await measure("floor: unary → tx → job → tx → stream", c, sizes.flows, sizes.warmup, floor.pipeline)
        for c in (1, MANY)
    }
    results += [floor_tx[1], floor_tx[MANY], floor_flow[1], floor_flow[MANY]]
    for c in (1, MANY):
        await both("(a) RollbackDeployment", c, sizes.iterations, product.rollback, floor_tx[c])
    for c in (1, MANY):
        per_client = sizes.flows if c == 1 else max(2, sizes.flows // 10)
        before = counters.pickup(harness.metrics_dir)
        await both("(b) rollback → approve → COMPLETED (full flow)", c, per_client, product.full_flow, floor_flow[c])
        after = counters.pickup(harness.metrics_dir)
        jobs = after[1] - before[1]
        extra[f"pickup_mean_ms_{c}"] = 1000 * (after[0] - before[0]) / jobs if jobs else 0.0
    extra["round_trips_full_flow"] = await counters.round_trips(
        harness.dsn, harness.pg_log, lambda: product.full_flow(0, 0), sizes.counted_flows)
    extra["round_trips_rollback"] = await counters.round_trips(
        harness.dsn, harness.pg_log, lambda: product.rollback(0, 0), sizes.counted_flows)
    for c in (1, MANY):
        await both("(c) idempotent replay", c, sizes.iterations, product.replay, floor_tx[c])
    seeded = 0
    for rows in sizes.history:
        history = await product.seed_history(harness.env["ROLLOUT_DATABASE_URL"], rows - seeded)
        seeded = rows
        for c in (1, MANY):
            await both(f"(d) ListDeployments last good, {rows:,} rows", c, sizes.iterations,
                       product.last_good(history), floor_tx[c])

    floor_fan = [await floor.fan_out(sizes.watchers) for _ in range(sizes.fan_outs)]
    product_fan, memory = [], []
    for _ in range(sizes.fan_outs):
        elapsed, kib = await product.fan_out(sizes.watchers, harness)
        product_fan.append(elapsed)
        memory.append(kib)
    fan_floor = _single(f"floor: 1 event → {sizes.watchers} watchers", floor_fan)
    results += [fan_floor, compared(_single(f"(e) 1 deployment's events → {sizes.watchers} watchers", product_fan), fan_floor)]
    extra["server_kib_per_1000_streams"] = sorted(memory)[len(memory) // 2] * 1000
    edge, edge_extra = await measure_edge(harness, sizes.edge_warm, sizes.edge_cold, sizes.edge_requests)
    results += edge
    extra.update(edge_extra)
    return results, extra


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
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    # SIGTERM unwinds like Ctrl-C, so the servers and workers the harness started are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as workdir:
        harness = Harness(Path(workdir), durable=args.durable)
        started = time.monotonic()
        try:
            harness.start()
            results, extra = asyncio.run(run(harness, sizes))
        finally:
            harness.stop()
    print(table(results))
    extra.update(authorization_cost(200 if args.smoke else 5000))
    rollback = next(r for r in results if r.name.startswith("(a)") and r.clients == 1)
    print(f"\nserver memory per 1,000 open WatchDeployment streams: {extra['server_kib_per_1000_streams'] / 1024:.1f} MiB")
    print(
        f"authorization decision (p50): Cedar {extra['cedar_us']:.0f} µs, remembered {extra['remembered_us']:.1f} µs"
        f" — {extra['cedar_us'] / 10 / rollback.p50_ms:.1f}% of a RollbackDeployment at its p50 even uncached"
    )
    print(f"router throughput: {extra['router_throughput_ratio'] * 100:.0f}% of the backends hit directly (target ≥ 50%)")
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
    print(f"PostgreSQL round trips (counted): full flow {flow_trips['median']}, RollbackDeployment {rollback_trips['median']}")
    print(f"job pickup (enqueue → start, mean): {extra['pickup_mean_ms_1']:.2f} ms at 1 client,"
          f" {extra[f'pickup_mean_ms_{MANY}']:.2f} ms at {MANY}")
    print("idle CPU, % of a core: " + ", ".join(f"{k} {v:.1f}" for k, v in extra["idle_cpu_percent"].items()))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("grpcio", "sqlalchemy", "asyncpg", "arq", "cedarpy")},
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
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
