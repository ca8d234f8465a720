"""ROLLOUT_EVENT_LOOP (server/event_loop.py): uvloop by default, asyncio on request, nothing else."""

import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from server import event_loop


@pytest.fixture(autouse=True)
def _policy_restored() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


def test_uvloop_by_default() -> None:
    assert event_loop.install({}) == "uvloop"
    assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)


def test_the_standard_loop_on_request() -> None:
    assert event_loop.install({"ROLLOUT_EVENT_LOOP": "asyncio"}) == "asyncio"
    assert not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match="ROLLOUT_EVENT_LOOP='trio' must be one of uvloop, asyncio"):
        event_loop.install({"ROLLOUT_EVENT_LOOP": "trio"})
