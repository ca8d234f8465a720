"""The deployment state machine: the only transitions that exist (SPEC §1).

PROPOSED --approve--> PENDING --start--> RUNNING --complete--> COMPLETED
    |                                       \\--fail--> FAILED
    +--reject--> REJECTED
"""

from __future__ import annotations

import enum

from server.domain.errors import FailedPrecondition
from server.domain.models import Status


class Transition(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"


TRANSITIONS: dict[tuple[Status, Transition], Status] = {
    (Status.PROPOSED, Transition.APPROVE): Status.PENDING,
    (Status.PROPOSED, Transition.REJECT): Status.REJECTED,
    (Status.PENDING, Transition.START): Status.RUNNING,
    (Status.RUNNING, Transition.COMPLETE): Status.COMPLETED,
    (Status.RUNNING, Transition.FAIL): Status.FAILED,
}

_PAST = {Transition.APPROVE: "approved", Transition.REJECT: "rejected"}

TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.REJECTED})

# Reasons clients branch on when a transition is refused.
NOT_PROPOSED = "DEPLOYMENT_NOT_PROPOSED"


def next_status(current: Status, transition: Transition) -> Status:
    """The status after `transition`, or FailedPrecondition if it does not exist."""
    target = TRANSITIONS.get((current, transition))
    if target is None:
        if current is not Status.PROPOSED and transition in (Transition.APPROVE, Transition.REJECT):
            raise FailedPrecondition(
                f"only a PROPOSED deployment can be {_PAST[transition]}; this one is {current.value}",
                NOT_PROPOSED,
            )
        raise FailedPrecondition(
            f"cannot {transition.value} a {current.value} deployment", "INVALID_TRANSITION"
        )
    return target


def require_proposed(current: Status, verb: str) -> None:
    """Planning, approving and rejecting need a PROPOSED deployment."""
    if current is not Status.PROPOSED:
        raise FailedPrecondition(
            f"only a PROPOSED deployment can be {verb}; this one is {current.value}", NOT_PROPOSED
        )
