"""One root error; each subclass says its gRPC status code, whether it replays, and its `reason`.

Clients branch on `reason` (and on `metadata`, the ids involved), never on
the message. `code` is the name of a gRPC status code; server/api/errors.py
is the one place that turns an error into a status. `replayed` says whether
a repeat of the same request with the same idempotency key meets the error
again — then it is stored with the key and replayed — or whether the key
stays free for a retry (bad input found while running, a backend fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class RolloutError(Exception):
    """Root of every error the product raises on purpose."""

    code: ClassVar[str] = "INTERNAL"
    replayed: ClassVar[bool] = False
    reason: str = "ERROR"
    # The class that stands for each code: how a stored error is raised again on a replay.
    by_code: ClassVar[dict[str, type[RolloutError]]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        RolloutError.by_code.setdefault(cls.code, cls)

    def __init__(self, message: str, reason: str | None = None, **metadata: object) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = {key: str(value) for key, value in metadata.items() if value is not None}


class InvalidArgument(RolloutError):
    code = "INVALID_ARGUMENT"
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation]) -> None:
        fields = ", ".join(v.field for v in violations)
        super().__init__(f"invalid argument: {fields}")
        self.violations = violations


class NotFound(RolloutError):
    code = "NOT_FOUND"
    replayed = True
    reason = "NOT_FOUND"


class AlreadyExists(RolloutError):
    code = "ALREADY_EXISTS"
    replayed = True
    reason = "ALREADY_EXISTS"


class FailedPrecondition(RolloutError):
    code = "FAILED_PRECONDITION"
    replayed = True
    reason = "FAILED_PRECONDITION"


class Unauthenticated(RolloutError):
    code = "UNAUTHENTICATED"
    reason = "UNAUTHENTICATED"


class PermissionDenied(RolloutError):
    """Raised by a rule such as separation of duties: the same request is refused again."""

    code = "PERMISSION_DENIED"
    replayed = True
    reason = "PERMISSION_DENIED"


class Unavailable(RolloutError):
    """A backend (PostgreSQL, Redis) did not answer; safe to retry."""

    code = "UNAVAILABLE"
    reason = "BACKEND_UNAVAILABLE"


class NotImplementedYet(RolloutError):
    """Declared in the v1 contract, built in a later release."""

    code = "UNIMPLEMENTED"
    reason = "NOT_IMPLEMENTED"


def invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description)])
