"""The simulated driver: nothing is installed or run; steps sleep and fail on request (for tests).

Delays and failures are set per deployment through the reserved params key
`rollout.simulate`, e.g.
`{"rollout.simulate": {"delay_ms": 2000, "spawn_delay_ms": 500, "fail": "health"}}`
(`fail` is one of `provision`, `decommission`, `health`), or for all
deployments through ROLLOUT_DRIVER_DELAY_MS.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from server.domain.models import Deployment, RuntimeInstance
from workers.drivers.base import DriverError, Started, Step

SIMULATE_KEY = "rollout.simulate"
MAX_DELAY_MS = 600_000


class SimulatedDriver:
    def __init__(self, delay_ms: int = 0) -> None:
        self.delay_ms = delay_ms

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
        await self._step(step.deployment, "health", "spawn_delay_ms")
        return Started(host=os.uname().nodename, port=0)

    async def healthy(self, runtime: RuntimeInstance) -> bool:
        return True

    async def stop_runtime_instance(self, runtime: RuntimeInstance) -> None:
        return None

    def reaches(self, runtime: RuntimeInstance) -> bool:
        return True
