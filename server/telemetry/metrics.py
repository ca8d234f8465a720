"""Prometheus metrics of servers and workers, and the endpoint that serves them (ROLLOUT_METRICS_LISTEN).

Several processes work on one host (servers sharing a port, workers), so the
counters use prometheus-client's multiprocess mode: each process writes its
values under PROMETHEUS_MULTIPROC_DIR (`make run` sets it to
`<data dir>/metrics`), and whichever server process answers a scrape adds
them up — every server binds the metrics port with SO_REUSEPORT. What the
database knows (deployments by status, runtime instances by state) and the
queue's depth are read at scrape time. Without the directory each process
counts alone and serves its own values.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
FLOW_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

RPCS = Counter("rollout_rpcs", "RPCs handled, by method and status code", ["method", "code"])
RPC_SECONDS = Histogram("rollout_rpc_seconds", "Time to handle an RPC", ["method"], buckets=LATENCY_BUCKETS)
WATCH_STREAMS = Gauge(
    "rollout_watch_streams", "Open WatchDeployment and WatchInstance streams", ["method"], multiprocess_mode="livesum"
)
APPROVED_TO_COMPLETED = Histogram(
    "rollout_approved_to_completed_seconds",
    "From a deployment's approval to its COMPLETED switch, by action and whether it is a rollback",
    ["action", "rollback"],
    buckets=FLOW_BUCKETS,
)
JOB_PICKUP = Histogram(
    "rollout_job_pickup_seconds", "From a job's enqueue to a worker starting it", ["job"], buckets=LATENCY_BUCKETS
)

# Read at scrape time: (label values, value) pairs of each gauge.
Sample = tuple[tuple[str, ...], float]


class Snapshot:
    """Gauges computed when Prometheus scrapes, from the database and the queue."""

    def __init__(self, read: Callable[[], Awaitable[dict[str, list[Sample]]]]) -> None:
        self._read = read
        self._last: dict[str, list[Sample]] = {}

    async def refresh(self) -> None:
        self._last = await self._read()

    def collect(self) -> Iterable[Metric]:
        shapes = {
            "rollout_deployments": ("Deployments by status", ["status"]),
            "rollout_runtime_instances": ("Runtime instances by state", ["state"]),
            "rollout_queue_depth": ("Jobs waiting in the queue", []),
        }
        for name, (doc, labels) in shapes.items():
            family = GaugeMetricFamily(name, doc, labels=labels)
            for values, value in self._last.get(name, []):
                family.add_metric(list(values), value)
            yield family


def registry(snapshot: Snapshot | None) -> CollectorRegistry:
    """Every process's counters (multiprocess mode) or this one's, plus the scrape-time gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        chosen = CollectorRegistry()
        MultiProcessCollector(chosen)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY

        chosen = CollectorRegistry()
        for collector in list(REGISTRY._collector_to_names):
            chosen.register(collector)
    if snapshot is not None:
        chosen.register(snapshot)
    return chosen


def _listener(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # every server process of the host answers
    sock.bind((host.strip("[]") or "127.0.0.1", int(port)))
    sock.listen(64)
    sock.setblocking(False)
    return sock


async def serve(address: str, snapshot: Snapshot | None) -> asyncio.Server:
    """GET /metrics on `address` (host:port), in the text format Prometheus scrapes."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if not path.startswith(b"/metrics"):
                body, status = b"not found; try /metrics\n", b"404 Not Found"
            else:
                if snapshot is not None:
                    await snapshot.refresh()
                body, status = generate_latest(registry(snapshot)), b"200 OK"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # a client that went away or sent nothing useful
        except Exception:  # a scrape that cannot read the database answers nothing rather than crash
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        finally:
            writer.close()

    return await asyncio.start_server(answer, sock=_listener(address))


def process_exited(pid: int) -> None:
    """Forget a dead process's live gauges (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(pid)  # type: ignore[no-untyped-call]
