"""Drivers: the boundary between a run and the infrastructure it changes (docs/drivers.md).

`ROLLOUT_DRIVER` chooses one: `local` (runs a bundle's commands and its
runtime instances as processes on this machine), `simulated` (sleeps and
injected failures, for tests), or `package.module:factory` for a driver of
your own — `factory(settings)` returns an object with the methods of
`Driver` (workers/drivers/base.py); tests/drivers/contract.py is the test
suite it should pass.
"""

from __future__ import annotations

import importlib

from server.config import Settings
from workers.drivers.base import Driver, DriverError, Started, Step

__all__ = ["Driver", "DriverError", "Started", "Step", "load"]


def load(settings: Settings) -> Driver:
    """The driver `settings.driver` names; SystemExit with the reason if it cannot be loaded."""
    name = settings.driver
    if name == "simulated":
        from workers.drivers.simulated import SimulatedDriver

        return SimulatedDriver(settings.driver_delay_ms)
    if name == "local":
        from workers.drivers.local import LocalDriver

        return LocalDriver.from_settings(settings)
    module, _, attribute = name.partition(":")
    if not module or not attribute:
        raise SystemExit(f"rollout: ROLLOUT_DRIVER={name!r} is not local, simulated or package.module:factory")
    try:
        factory = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"rollout: cannot load the driver {name!r}: {exc}") from None
    driver: Driver = factory(settings)
    return driver
