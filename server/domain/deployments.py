"""The deployment state machine: the only transitions that exist (docs/product.md §1).

PROPOSED --approve--> PENDING --start--> RUNNING --complete--> COMPLETED
    |                                       \\--fail--> FAILED
    +--reject--> REJECTED
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from server.domain.approvals import Tally
from server.domain.errors import FailedPrecondition
from server.domain.models import EventType, NewEvent, Status


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


# Each transition below returns the new status and the events that record it, worded for the
# people who watch them: the rule and its words are tested together.


@dataclass(frozen=True)
class Step:
    status: Status
    events: list[NewEvent]


def proposed(message: str, proposer: str) -> Step:
    return Step(Status.PROPOSED, [NewEvent(EventType.PROPOSED, Status.PROPOSED, f"{message} — proposed by {proposer}")])


def plan_requested(current: Status, requester: str) -> Step:
    require_proposed(current, "planned")
    return Step(current, [NewEvent(EventType.PLAN_STARTED, current, f"plan requested by {requester}")])


def planned(current: Status, summary: str) -> Step:
    return Step(current, [NewEvent(EventType.PLANNED, current, summary)])


def approve(current: Status, approver: str, tally: Tally) -> Step:
    """One approval: PENDING once the approval rule has enough distinct approvers, else still PROPOSED."""
    status = next_status(current, Transition.APPROVE)
    count = f"approval {tally.approvals} of {tally.required} by {approver}"
    if not tally.reached:
        return Step(current, [NewEvent(EventType.APPROVED, current, count, tally.approvals, tally.required)])
    detail = f"{count}: approved" if tally.required > 1 else f"approved by {approver}"
    return Step(status, [NewEvent(EventType.APPROVED, status, detail)])


def reject(current: Status, rejecter: str, reason: str) -> Step:
    status = next_status(current, Transition.REJECT)
    detail = f"rejected by {rejecter}" + (f": {reason}" if reason else "")
    return Step(status, [NewEvent(EventType.REJECTED, status, detail)])


def start(current: Status, worker: str) -> Step:
    status = next_status(current, Transition.START)
    return Step(status, [NewEvent(EventType.STARTED, status, f"started on worker {worker}")])


def resume(worker: str, attempt: int, max_attempts: int) -> Step:
    """Another worker took the run over from one that stopped; the run goes on (still RUNNING)."""
    message = (
        f"the worker running this deployment stopped; resumed on worker {worker} (attempt {attempt} of {max_attempts})"
    )
    return Step(Status.RUNNING, [NewEvent(EventType.RESUMED, Status.RUNNING, message)])


def attempts_used_up(attempt: int, max_attempts: int) -> str:
    """Why a run fails when its workers kept stopping."""
    return (
        f"its workers stopped {attempt - 1} times while running it (ROLLOUT_MAX_ATTEMPTS={max_attempts}); "
        "see the worker logs"
    )


def artifact_verified(version: str | None) -> NewEvent:
    return NewEvent(EventType.ARTIFACT_VERIFIED, Status.RUNNING, f"artifact of v{version} is present")


@dataclass(frozen=True)
class Switch:
    """What the switch changed: the active deployment before and after, and the route generation."""

    previous_active: str | None
    new_active: str | None
    route_generation: int
    pinned_version: str | None = None  # a rollback pins the release pointer to this version


def complete(current: Status, switch: Switch, provisioned: str | None) -> Step:
    """The switch made it active (or, for a decommission, cleared the active deployment).

    `provisioned` is the PROVISIONED event's message when it was not recorded earlier.
    """
    status = next_status(current, Transition.COMPLETE)
    pinned = f"; release pointer pinned to v{switch.pinned_version}" if switch.pinned_version else ""
    events = [NewEvent(EventType.PROVISIONED, current, provisioned)] if provisioned else []
    events += [
        NewEvent(
            EventType.SWITCHED,
            current,
            f"active deployment {switch.previous_active or 'none'} → {switch.new_active or 'none'}; "
            f"route generation {switch.route_generation}{pinned}",
        ),
        NewEvent(EventType.COMPLETED, status, "completed"),
    ]
    return Step(status, events)


def fail(current: Status, reason: str) -> Step:
    status = next_status(current, Transition.FAIL)
    return Step(status, [NewEvent(EventType.FAILED, status, reason)])
