"""Runtime instances after they boot: server/domain/runtime.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.domain.models import EventType, RuntimeInstance, RuntimeState
from server.domain.runtime import failed_event, stray
from tests.unit import factories as make

RUNTIME = RuntimeInstance(
    id="rt-1",
    organization_id="acme",
    instance_id=make.INSTANCE_ID,
    release_id="rel-1.0.0",
    version="1.0.0",
    deployment_id="d-1",
    state=RuntimeState.HEALTHY,
    drain_after=None,
    error="",
    create_time=make.T0,
    update_time=make.T0,
    host="h1",
    port=8123,
    pid=4242,
)


def test_the_failed_event_says_which_process_failed_and_why() -> None:
    event = failed_event(RUNTIME, "it stopped running")
    assert event.type is EventType.RUNTIME_FAILED
    assert event.message == "runtime instance rt-1 (v1.0.0, pid 4242, port 8123) failed: it stopped running"


@pytest.mark.parametrize(
    ("state", "reached", "is_stray"),
    [
        (RuntimeState.STARTING, True, False),  # its spawner decides
        (RuntimeState.DRAINING, True, False),  # its drainer decides
        (RuntimeState.HEALTHY, True, False),  # it serves
        (RuntimeState.HEALTHY, False, True),  # another host's spawn won
        (RuntimeState.STOPPED, True, True),
        (RuntimeState.FAILED, True, True),
    ],
)
def test_which_processes_nobody_wants(state: RuntimeState, reached: bool, is_stray: bool) -> None:
    assert stray(replace(RUNTIME, state=state), reached) is is_stray


def test_a_process_the_database_does_not_know_is_left_alone() -> None:
    assert stray(None, True) is False
