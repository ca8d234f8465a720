"""`python -m bench [--smoke] [--durable] [--out FILE]`: measure, print the table, write JSON."""

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

from bench import overhead
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
    history: int
    watchers: int
    fan_outs: int
    # (f) and (g), bench/edge.py: warm and cold rollbacks, requests per side of (g).
    edge_warm: int = 30
    edge_cold: int = 5
    edge_requests: int = 4000


FULL = Sizes(iterations=300, flows=200, warmup=20, history=100_000, watchers=1000, fan_outs=5)
SMOKE = Sizes(iterations=10, flows=5, warmup=2, history=1_000, watchers=20, fan_outs=1, edge_warm=3, edge_cold=1,
              edge_requests=100)
MANY = 32


async def run(harness: Harness, sizes: Sizes) -> tuple[list[Result], dict[str, Any]]:
    floor, product = Floor(harness.floor), Product(harness)
    await product.prepare(MANY)
    results: list[Result] = []

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
        await both("(b) rollback → approve → COMPLETED (full flow)", c, per_client, product.full_flow, floor_flow[c])
    for c in (1, MANY):
        await both("(c) idempotent replay", c, sizes.iterations, product.replay, floor_tx[c])
    history = await product.seed_history(harness.env["ROLLOUT_DATABASE_URL"], sizes.history)
    for c in (1, MANY):
        await both(f"(d) ListDeployments last good, {sizes.history:,} rows", c, sizes.iterations,
                   product.last_good(history), floor_tx[c])

    floor_fan = [await floor.fan_out(sizes.watchers) for _ in range(sizes.fan_outs)]
    product_fan, memory = [], []
    for _ in range(sizes.fan_outs):
        elapsed, kib = await product.fan_out(sizes.watchers, harness)
        product_fan.append(elapsed)
        memory.append(kib)
    fan_floor = _single(f"floor: 1 event → {sizes.watchers} watchers", floor_fan)
    results += [fan_floor, compared(_single(f"(e) 1 deployment's events → {sizes.watchers} watchers", product_fan), fan_floor)]
    extra: dict[str, Any] = {"server_kib_per_1000_streams": sorted(memory)[len(memory) // 2] * 1000}
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
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync on (slower on shared VMs)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
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
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {name: version(name) for name in ("grpcio", "sqlalchemy", "asyncpg", "arq", "cedarpy")},
        "smoke": args.smoke,
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
