"""Latency samples → p50 / p99 / throughput, and the printed table."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    name: str
    clients: int
    samples: int
    p50_ms: float
    p99_ms: float
    per_second: float
    floor: str | None = None  # the floor measurement this one is compared with
    ratio_p50: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(name: str, clients: int, latencies_s: list[float], wall_s: float) -> Result:
    ordered = sorted(latencies_s)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return Result(
        name=name,
        clients=clients,
        samples=len(ordered),
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=p99 * 1000,
        per_second=len(ordered) / wall_s if wall_s > 0 else 0.0,
    )


def compared(result: Result, floor: Result) -> Result:
    ratio = result.p50_ms / floor.p50_ms if floor.p50_ms else None
    return Result(**{**result.as_dict(), "floor": f"{floor.name} ({floor.clients})", "ratio_p50": ratio})


def table(results: list[Result]) -> str:
    header = f"{'measurement':<44} {'clients':>7} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'per s':>8}  {'× floor (p50)':>13}"
    lines = [header, "-" * len(header)]
    for r in results:
        ratio = f"{r.ratio_p50:.2f}" if r.ratio_p50 is not None else "—"
        lines.append(
            f"{r.name:<44} {r.clients:>7} {r.samples:>6} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.per_second:>8.0f}  {ratio:>13}"
        )
    return "\n".join(lines)
