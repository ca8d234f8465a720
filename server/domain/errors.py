"""One root error; each subclass carries a stable `reason` clients branch on.

The gRPC edge (server/api/errors.py) maps each class to a status code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class RolloutError(Exception):
    """Root of every error the product raises on purpose."""

    reason: str = "ERROR"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgument(RolloutError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation]) -> None:
        fields = ", ".join(v.field for v in violations)
        super().__init__(f"invalid argument: {fields}")
        self.violations = violations


class NotFound(RolloutError):
    reason = "NOT_FOUND"


class AlreadyExists(RolloutError):
    reason = "ALREADY_EXISTS"


class FailedPrecondition(RolloutError):
    reason = "FAILED_PRECONDITION"


class Unauthenticated(RolloutError):
    reason = "UNAUTHENTICATED"


class PermissionDenied(RolloutError):
    reason = "PERMISSION_DENIED"


class Unavailable(RolloutError):
    """A backend (PostgreSQL, Redis) did not answer; safe to retry."""

    reason = "BACKEND_UNAVAILABLE"


class NotImplementedYet(RolloutError):
    """Declared in the v1 contract, built in a later release."""

    reason = "NOT_IMPLEMENTED"


def invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description)])
