"""The simulated driver passes the driver contract (its scenarios come from `rollout.simulate` params)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from server.artifacts import open_store
from server.config import ArtifactSettings
from server.domain.models import Kind
from tests.drivers.contract import DriverContract, Kit, Scenario
from tests.unit import factories as make
from workers.drivers import Step
from workers.drivers.simulated import SIMULATE_KEY, SimulatedDriver

OPTIONS = {
    Scenario.SUCCEEDS: {},
    Scenario.FAILS: {"fail": "provision"},
    Scenario.HANGS: {"delay_ms": 600_000, "spawn_delay_ms": 600_000},
    Scenario.UNHEALTHY: {"fail": "health"},
}


class SimulatedKit:
    expected_lines: list[str] = []
    observable = False

    def __init__(self, folder: Path) -> None:
        self.driver = SimulatedDriver()
        self.artifacts = open_store(ArtifactSettings(store=folder.absolute().as_uri()))

    def step(self, scenario: Scenario, progress: Callable[[str], Awaitable[None]]) -> Step:
        deployment = make.deployment(params={SIMULATE_KEY: OPTIONS[scenario]})
        release = make.release(manifest={"serve": {"command": ["true"], "timeout_seconds": 1.0}})
        return Step(deployment, make.instance(kind=Kind.DYNAMIC, replicas=1), release, {}, self.artifacts, progress)

    def leftovers(self) -> list[Any]:
        return []


class TestSimulatedDriver(DriverContract):
    @pytest.fixture()
    def kit(self, tmp_path: Path) -> Kit:
        return SimulatedKit(tmp_path)
