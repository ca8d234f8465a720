"""The driver interface to real infrastructure, and the simulated default (docs/product.md §4).

The simulated driver needs nothing installed. Its delay and failures are set
per deployment through the reserved params key `rollout.simulate`, e.g.
`{"rollout.simulate": {"delay_ms": 2000, "spawn_delay_ms": 500, "fail": "health"}}`
(`fail` is one of `provision`, `decommission`, `health`), or for all
deployments through ROLLOUT_DRIVER_DELAY_MS.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from server.domain.models import Deployment, RuntimeInstance

SIMULATE_KEY = "rollout.simulate"


class DriverError(Exception):
    """The infrastructure refused or failed; the deployment fails with this message.

    `retryable=True` says the step may succeed if run again (the infrastructure
    was briefly unreachable): the run is handed to another worker instead of
    failing, within the run's attempts.
    """

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Driver(Protocol):
    async def provision(self, deployment: Deployment) -> None: ...
    async def decommission(self, deployment: Deployment) -> None: ...

    async def start_runtime_instance(self, runtime: RuntimeInstance, deployment: Deployment) -> None:
        """Boot it and return once it passes its health check; DriverError if it does not."""

    async def stop_runtime_instance(self, runtime: RuntimeInstance) -> None: ...


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
            await asyncio.sleep(delay / 1000)
        if options.get("fail") == step:
            raise DriverError(f"simulated {step} failure")

    async def provision(self, deployment: Deployment) -> None:
        await self._step(deployment, "provision")

    async def decommission(self, deployment: Deployment) -> None:
        await self._step(deployment, "decommission")

    async def start_runtime_instance(self, runtime: RuntimeInstance, deployment: Deployment) -> None:
        await self._step(deployment, "health", "spawn_delay_ms")

    async def stop_runtime_instance(self, runtime: RuntimeInstance) -> None:
        return None
