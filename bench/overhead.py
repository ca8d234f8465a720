"""What the per-RPC report costs: one log line and the metric samples of a call (server/api/observe.py).

`python -m bench.overhead REPEAT` prints JSON: microseconds (p50) per call
for the log line, for the metrics, and for both together. It runs in a
process of its own, set up as a server is: JSON logs to stderr (here
/dev/null, as a log file would be), Prometheus in multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, as `make run` sets), so the numbers are what a
server pays per call. The bench divides them by RollbackDeployment's p50
(issue goal: <= 5 %).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


class _Context:
    """What observe.Call reads of a grpc context: the call's metadata."""

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", "Bearer x"), ("x-request-id", "bench-call"))


def _p50_us(repeat: int, work: Callable[[], None]) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return sorted(samples)[len(samples) // 2] * 1e6


def _measure(repeat: int) -> dict[str, float]:
    from server.api import observe
    from server.telemetry import logs, metrics

    logs.configure("server")
    context: observe.Context = _Context()  # type: ignore[assignment]

    def both() -> None:
        call = observe.Call("RollbackDeployment", context)
        call.done()

    def metrics_only() -> None:
        metrics.RPCS.labels("RollbackDeployment", "OK").inc()
        metrics.RPC_SECONDS.labels("RollbackDeployment").observe(0.001)

    def log_only() -> None:
        observe.log.info(
            "rpc", method="RollbackDeployment", code="OK", ms=1.0, organization="bench", caller="p",
            call_id="bench-call", idempotency_key="",
        )

    for work in (both, metrics_only, log_only):  # warm up: first samples create the files and caches
        for _ in range(50):
            work()
    return {
        "report_us": _p50_us(repeat, both),
        "metrics_us": _p50_us(repeat, metrics_only),
        "log_us": _p50_us(repeat, log_only),
    }


def measure(repeat: int) -> dict[str, float]:
    """Run the measurement in a child process set up as a server, and return its numbers."""
    with tempfile.TemporaryDirectory(prefix="rollout-bench-metrics-") as multiproc:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": multiproc, "ROLLOUT_LOG_LEVEL": "info"}
        out = subprocess.run(
            [sys.executable, "-m", "bench.overhead", str(repeat)],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=300,
        )
    return {k: float(v) for k, v in json.loads(out.stdout).items()}


if __name__ == "__main__":
    print(json.dumps(_measure(int(sys.argv[1]))))
