"""The deployment state machine: server/domain/deployments.py."""

from __future__ import annotations

import itertools

import pytest

from server.domain.deployments import (
    NOT_PROPOSED,
    TERMINAL,
    TRANSITIONS,
    Transition,
    next_status,
    require_proposed,
)
from server.domain.errors import FailedPrecondition
from server.domain.models import Status

ALLOWED: dict[tuple[Status, Transition], Status] = {
    (Status.PROPOSED, Transition.APPROVE): Status.PENDING,
    (Status.PROPOSED, Transition.REJECT): Status.REJECTED,
    (Status.PENDING, Transition.START): Status.RUNNING,
    (Status.RUNNING, Transition.COMPLETE): Status.COMPLETED,
    (Status.RUNNING, Transition.FAIL): Status.FAILED,
}

ALL_PAIRS = list(itertools.product(Status, Transition))
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def test_enums_are_the_documented_ones() -> None:
    assert {s.value for s in Status} == {"PROPOSED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "REJECTED"}
    assert {t.value for t in Transition} == {"approve", "reject", "start", "complete", "fail"}
    assert len(ALL_PAIRS) == 30
    assert len(REFUSED) == 25


def test_table_holds_exactly_the_documented_transitions() -> None:
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("pair", "target"), list(ALLOWED.items()), ids=lambda x: str(x))
def test_allowed_transition(pair: tuple[Status, Transition], target: Status) -> None:
    current, transition = pair
    assert next_status(current, transition) is target


@pytest.mark.parametrize(("current", "transition"), REFUSED)
def test_every_other_pair_is_refused(current: Status, transition: Transition) -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        next_status(current, transition)
    if transition in (Transition.APPROVE, Transition.REJECT):
        assert exc_info.value.reason == NOT_PROPOSED == "DEPLOYMENT_NOT_PROPOSED"
        assert exc_info.value.message.startswith("only a PROPOSED deployment can be ")
        assert exc_info.value.message.endswith(f"; this one is {current.value}")
    else:
        assert exc_info.value.reason == "INVALID_TRANSITION"
        assert exc_info.value.message == f"cannot {transition.value} a {current.value} deployment"


@pytest.mark.parametrize("current", [s for s in Status if s is not Status.PROPOSED])
def test_approve_of_non_proposed_message(current: Status) -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        next_status(current, Transition.APPROVE)
    assert exc_info.value.message == f"only a PROPOSED deployment can be approved; this one is {current.value}"
    assert str(exc_info.value) == exc_info.value.message


def test_reject_of_non_proposed_message_is_spelled_right() -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        next_status(Status.COMPLETED, Transition.REJECT)
    assert exc_info.value.message == "only a PROPOSED deployment can be rejected; this one is COMPLETED"


def test_terminal_set() -> None:
    assert TERMINAL == frozenset({Status.COMPLETED, Status.FAILED, Status.REJECTED})


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_no_transition_leaves_a_terminal_status(status: Status) -> None:
    for transition in Transition:
        with pytest.raises(FailedPrecondition):
            next_status(status, transition)


@pytest.mark.parametrize("status", [s for s in Status if s not in TERMINAL])
def test_every_non_terminal_status_has_a_way_out(status: Status) -> None:
    assert any((status, t) in TRANSITIONS for t in Transition)


def test_every_path_from_proposed_ends_in_a_terminal_status() -> None:
    reached: set[Status] = set()
    frontier = [Status.PROPOSED]
    while frontier:
        current = frontier.pop()
        reached.add(current)
        for (source, _), target in TRANSITIONS.items():
            if source is current and target not in reached:
                frontier.append(target)
    assert reached == set(Status)


def test_require_proposed_accepts_proposed() -> None:
    require_proposed(Status.PROPOSED, "planned")  # does not raise


@pytest.mark.parametrize("current", [s for s in Status if s is not Status.PROPOSED])
def test_require_proposed_refuses_the_rest(current: Status) -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        require_proposed(current, "planned")
    assert exc_info.value.reason == "DEPLOYMENT_NOT_PROPOSED"
    assert exc_info.value.message == f"only a PROPOSED deployment can be planned; this one is {current.value}"
