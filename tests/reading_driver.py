"""A driver for tests that reads the release's artifact from the store in the middle of a run, as a real
driver does when it unpacks a bundle: `ROLLOUT_DRIVER=tests.reading_driver:factory`.

Provisioning announces that it runs (`<hold dir>/<deployment id>.running`), waits until the test lets it go
on (`<hold dir>/<deployment id>.go`), then streams the artifact into a file; so a test can delete the artifact
while the run is in progress. Everything else behaves as the simulated driver.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from server.artifacts import download
from server.config import Settings
from workers.drivers.base import Step
from workers.drivers.simulated import SimulatedDriver

HOLD_DIR = "ROLLOUT_TEST_HOLD_DIR"


class ReadingDriver(SimulatedDriver):
    def __init__(self, hold: Path) -> None:
        super().__init__()
        self.hold = hold

    async def provision(self, step: Step) -> None:
        running, go = (self.hold / f"{step.deployment.id}.{end}" for end in ("running", "go"))
        running.touch()
        while not go.exists():
            await asyncio.sleep(0.05)
        assert step.release is not None
        with tempfile.TemporaryDirectory() as workdir:
            await download(step.artifacts, step.release.artifact_uri, Path(workdir) / "artifact")


def factory(settings: Settings) -> ReadingDriver:
    return ReadingDriver(Path(os.environ[HOLD_DIR]))
