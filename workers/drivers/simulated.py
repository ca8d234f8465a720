"""The simulated driver: nothing is installed or run; steps sleep and fail on request (for tests).

Delays and failures are set per deployment through the reserved params key
`rollout.simulate`, e.g.
`{"rollout.simulate": {"delay_ms": 2000, "spawn_delay_ms": 500, "fail": "health"}}`
(`fail` is one of `provision`, `decommission`, `health`), or for all
deployments through ROLLOUT_DRIVER_DELAY_MS.
"""

from __future__ import annotations

import asyncio
from typing import Any

from server.domain.models import Deployment, RuntimeInstance
from workers.drivers.base import DriverError, Started, Step

SIMULATE_KEY = "rollout.simulate"
MAX_DELAY_MS = 600_000
# The "host" of its runtime instances: no real machine, so that a worker with another driver (the local
# one, on the same database) never takes them for its processes, nor this driver theirs.
HOST = "simulated"


class SimulatedDriver:
    def __init__(self, delay_ms: int = 0) -> None:
        self.delay_ms = delay_ms
        # Stopped in this process: no longer healthy (a real driver would find the process gone).
        self._stopped: set[str] = set()

    def _options(self, deployment: Deployment) -> dict[str, Any]:
        options = deployment.params.get(SIMULATE_KEY)
        return options if isinstance(options, dict) else {}

    async def _step(self, deployment: Deployment, step: str, delay_key: str = "delay_ms") -> None:
        options = self._options(deployment)
        delay = options.get(delay_key, self.delay_ms)
        if isinstance(delay, (int, float)) and delay > 0:
            await asyncio.sleep(min(delay, MAX_DELAY_MS) / 1000)
        if options.get("fail") == step:
            raise DriverError(f"simulated {step} failure")

    async def provision(self, step: Step) -> None:
        await self._step(step.deployment, "provision")

    async def decommission(self, step: Step) -> None:
        await self._step(step.deployment, "decommission")

    async def start_runtime_instance(self, runtime: RuntimeInstance, step: Step) -> Started:
        self._stopped.discard(runtime.id)
        await self._step(step.deployment, "health", "spawn_delay_ms")
        return Started(host=HOST, port=0)

    async def healthy(self, runtime: RuntimeInstance) -> bool:
        return runtime.id not in self._stopped

    async def stop_runtime_instance(self, runtime: RuntimeInstance) -> None:
        self._stopped.add(runtime.id)

    def reaches(self, runtime: RuntimeInstance) -> bool:
        return runtime.host in ("", HOST)

    async def inventory(self) -> list[str]:
        return []  # nothing runs
