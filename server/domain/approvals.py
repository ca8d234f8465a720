"""Separation of duties: how many distinct approvers an environment asks for, and whether the proposer counts."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.errors import FailedPrecondition, PermissionDenied
from server.domain.models import ApprovalRule

SELF_APPROVAL_FORBIDDEN = "SELF_APPROVAL_FORBIDDEN"
ALREADY_APPROVED = "ALREADY_APPROVED"
MAX_APPROVALS = 10


def rule_for(environment: str, rules: list[ApprovalRule]) -> ApprovalRule:
    """The environment's rule; without one, a single approval by anyone allowed suffices."""
    for rule in rules:
        if rule.environment == environment:
            return rule
    return ApprovalRule(environment)


@dataclass(frozen=True)
class Tally:
    approvals: int
    required: int

    @property
    def reached(self) -> bool:
        return self.approvals >= self.required


def approve(rule: ApprovalRule, proposer: str, approver: str, earlier: set[str]) -> Tally:
    """Count `approver`'s approval, or refuse it. `earlier` are the distinct approvers so far."""
    if approver == proposer and not rule.proposer_may_approve:
        raise PermissionDenied(
            f"in {rule.environment}, the proposer cannot approve their own deployment", SELF_APPROVAL_FORBIDDEN
        )
    if approver in earlier:
        raise FailedPrecondition(f"{approver} has already approved this deployment", ALREADY_APPROVED)
    return Tally(len(earlier) + 1, rule.required_approvals)
