"""What the metrics endpoint reads at scrape time: deployments by status, runtime instances by state,
and the jobs waiting in the queue (server/telemetry/metrics.py)."""

from __future__ import annotations

from server.app.context import Services
from server.domain.models import RuntimeState, Status
from server.store import deployments, runtime

Samples = dict[str, list[tuple[tuple[str, ...], float]]]


async def read(svc: Services) -> Samples:
    async with svc.reader.connect() as conn:
        by_status = await deployments.count_by_status(conn)
        by_state = await runtime.count_by_state(conn)
    depth = await svc.queue.depth()
    return {
        "rollout_deployments": [((s.value,), float(by_status.get(s.value, 0))) for s in Status],
        "rollout_runtime_instances": [((s.value,), float(by_state.get(s.value, 0))) for s in RuntimeState],
        "rollout_queue_depth": [((), float(depth))],
    }
