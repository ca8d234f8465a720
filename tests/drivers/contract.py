"""The driver contract (docs/drivers.md): tests any driver runs against itself.

A driver author subclasses `DriverContract` in a test module and gives it a
`kit` fixture: the driver under test, and for each `Scenario` a Step that
makes the driver succeed, fail, hang or boot an unhealthy runtime instance.

    class TestMyDriver(DriverContract):
        @pytest.fixture()
        def kit(self, tmp_path: Path) -> Iterator[Kit]:
            yield MyKit(tmp_path)

The contract is what the worker relies on (workers/provision.py,
workers/runtime.py, workers/upkeep.py): a failure is a DriverError, steps may
run again, a cancelled step stops what it started, a runtime instance that
runs already is not started twice, and stopped means stopped.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from server.domain.models import RuntimeInstance, RuntimeState
from workers.drivers import Driver, DriverError, Started, Step

# A cancelled step must be over within this (the worker that lost its lease waits for it).
CANCEL_SECONDS = 15.0


class Scenario(enum.Enum):
    SUCCEEDS = "succeeds"  # provision, decommission and serve work
    FAILS = "fails"  # provision fails
    HANGS = "hangs"  # provision never ends, and serve never gets healthy, until cancelled
    UNHEALTHY = "unhealthy"  # serve never passes its health check


class Kit(Protocol):
    driver: Driver
    # The progress lines a SUCCEEDS provision reports, in order (the driver may add lines around them).
    expected_lines: list[str]
    # Whether leftovers() sees what the driver runs (False for a driver that runs nothing).
    observable: bool

    def step(self, scenario: Scenario, progress: Callable[[str], Awaitable[None]]) -> Step: ...

    def leftovers(self) -> list[Any]:
        """What still runs of what the driver started for the kit's steps (empty when nothing does)."""


async def _running(kit: Kit) -> None:
    """Once the kit sees something of the step running (at once for a kit that cannot see it)."""
    while kit.observable and not kit.leftovers():
        await asyncio.sleep(0.05)


class Lines:
    """A progress callback that keeps what it is given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, line: str) -> None:
        self.seen.append(line)


def runtime_of(step: Step) -> RuntimeInstance:
    """A fresh STARTING runtime instance of the step's release, as the spawn job hands it to the driver."""
    now = datetime.now(UTC)
    release = step.release
    return RuntimeInstance(
        id=str(uuid.uuid4()),
        organization_id=step.deployment.organization_id,
        instance_id=step.instance.id,
        release_id=release.id if release else "",
        version=release.version if release else "",
        deployment_id=step.deployment.id,
        state=RuntimeState.STARTING,
        drain_after=None,
        error="",
        create_time=now,
        update_time=now,
        spawn_attempt=1,
    )


def located(runtime: RuntimeInstance, started: Started) -> RuntimeInstance:
    """The runtime instance as the database holds it once started (what later calls are given)."""
    return replace(
        runtime, state=RuntimeState.HEALTHY, host=started.host, port=started.port, pid=started.pid, pid_start=started.pid_start
    )


class DriverContract:
    """Every test takes the `kit` fixture its subclass provides."""

    def test_provision_succeeds_and_reports_its_lines_in_order(self, kit: Kit) -> None:
        lines = Lines()
        asyncio.run(kit.driver.provision(kit.step(Scenario.SUCCEEDS, lines)))
        shown = [line for line in lines.seen if line in kit.expected_lines]
        assert shown == kit.expected_lines

    def test_provision_may_run_again(self, kit: Kit) -> None:
        async def twice() -> None:
            step = kit.step(Scenario.SUCCEEDS, Lines())
            await kit.driver.provision(step)
            await kit.driver.provision(step)

        asyncio.run(twice())

    def test_a_failing_provision_is_a_driver_error_with_a_reason(self, kit: Kit) -> None:
        with pytest.raises(DriverError) as failed:
            asyncio.run(kit.driver.provision(kit.step(Scenario.FAILS, Lines())))
        assert str(failed.value) and not failed.value.retryable
        assert kit.leftovers() == []

    def test_decommission_succeeds(self, kit: Kit) -> None:
        asyncio.run(kit.driver.decommission(kit.step(Scenario.SUCCEEDS, Lines())))

    def test_a_cancelled_step_ends_promptly_and_leaves_nothing_running(self, kit: Kit) -> None:
        async def cancel() -> None:
            task = asyncio.create_task(kit.driver.provision(kit.step(Scenario.HANGS, Lines())))
            await asyncio.wait_for(_running(kit), CANCEL_SECONDS * 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, CANCEL_SECONDS)

        asyncio.run(cancel())
        assert kit.leftovers() == []

    def test_a_runtime_instance_starts_healthy_and_stops_for_good(self, kit: Kit) -> None:
        async def lifecycle() -> None:
            step = kit.step(Scenario.SUCCEEDS, Lines())
            runtime = runtime_of(step)
            started = await kit.driver.start_runtime_instance(runtime, step)
            serving = located(runtime, started)
            assert started.host and kit.driver.reaches(serving)
            assert await kit.driver.healthy(serving)
            await kit.driver.stop_runtime_instance(serving)
            assert not await kit.driver.healthy(serving)
            await kit.driver.stop_runtime_instance(serving)  # stopping a stopped one does nothing
            assert runtime.id not in await kit.driver.inventory()

        asyncio.run(lifecycle())
        assert kit.leftovers() == []

    def test_starting_a_running_runtime_instance_again_does_not_start_a_second_one(self, kit: Kit) -> None:
        async def twice() -> None:
            step = kit.step(Scenario.SUCCEEDS, Lines())
            runtime = runtime_of(step)
            first = await kit.driver.start_runtime_instance(runtime, step)
            try:
                again = await kit.driver.start_runtime_instance(runtime, step)
                assert again == first
            finally:
                await kit.driver.stop_runtime_instance(located(runtime, first))

        asyncio.run(twice())
        assert kit.leftovers() == []

    def test_an_unhealthy_runtime_instance_fails_to_start_and_leaves_nothing(self, kit: Kit) -> None:
        step = kit.step(Scenario.UNHEALTHY, Lines())
        with pytest.raises(DriverError):
            asyncio.run(kit.driver.start_runtime_instance(runtime_of(step), step))
        assert kit.leftovers() == []

    def test_a_cancelled_start_leaves_nothing_running(self, kit: Kit) -> None:
        async def cancel() -> None:
            step = kit.step(Scenario.HANGS, Lines())
            task = asyncio.create_task(kit.driver.start_runtime_instance(runtime_of(step), step))
            await asyncio.wait_for(_running(kit), CANCEL_SECONDS * 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, CANCEL_SECONDS)

        asyncio.run(cancel())
        assert kit.leftovers() == []

    def test_it_reaches_what_it_started_and_not_another_hosts(self, kit: Kit) -> None:
        async def check() -> None:
            step = kit.step(Scenario.SUCCEEDS, Lines())
            runtime = runtime_of(step)
            assert kit.driver.reaches(runtime), "one not started yet is reached by any worker"
            started = await kit.driver.start_runtime_instance(runtime, step)
            try:
                assert kit.driver.reaches(located(runtime, started))
                assert not kit.driver.reaches(replace(located(runtime, started), host=f"elsewhere-{uuid.uuid4().hex}"))
            finally:
                await kit.driver.stop_runtime_instance(located(runtime, started))

        asyncio.run(check())
