"""Exit codes, and the one error a command raises for a person to read.

Scripts branch on the exit code; people read the reason, the message and the
field violations the server sent (google.rpc.Status details), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from rollout.v1 import resources_pb2 as pb


class ExitCode(IntEnum):
    OK = 0  # COMPLETED, or success of a command that does not wait
    FAILED = 1  # the deployment FAILED
    REJECTED = 2  # the deployment was REJECTED
    CONNECTION_LOST = 3  # the server could not be reached, or a watch could not be resumed in time
    BAD_INPUT = 4  # INVALID_ARGUMENT, an unknown or ambiguous name, FAILED_PRECONDITION, not allowed
    SERVER_ERROR = 5  # the server answered INTERNAL, UNKNOWN or another unexpected code
    INTERRUPTED = 130  # Ctrl-C


EXIT_CODES_HELP = (
    "Exit codes: 0 COMPLETED (or success of a command that does not wait) · 1 FAILED · 2 REJECTED · "
    "3 connection lost (server unreachable, or a watch not resumed in time) · "
    "4 bad input (invalid argument, unknown or ambiguous name, failed precondition such as NO_ROLLBACK_TARGET, "
    "not allowed) · 5 server error · 130 interrupted"
)

Status = pb.Deployment.Status
TERMINAL = {Status.STATUS_COMPLETED, Status.STATUS_FAILED, Status.STATUS_REJECTED}
_BY_STATUS: dict[int, ExitCode] = {
    Status.STATUS_COMPLETED: ExitCode.OK,
    Status.STATUS_FAILED: ExitCode.FAILED,
    Status.STATUS_REJECTED: ExitCode.REJECTED,
}

_CONNECTION = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_BAD_INPUT = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def for_status(status: int) -> ExitCode:
    """The exit code of a deployment that ended with `status` (OK for one that has not ended)."""
    return _BY_STATUS.get(int(status), ExitCode.OK)


def for_code(code: grpc.StatusCode) -> ExitCode:
    if code in _CONNECTION:
        return ExitCode.CONNECTION_LOST
    if code in _BAD_INPUT:
        return ExitCode.BAD_INPUT
    return ExitCode.SERVER_ERROR


@dataclass
class CliError(Exception):
    """What went wrong, as a person should read it; `exit_code` is what a script sees."""

    message: str
    exit_code: ExitCode = ExitCode.BAD_INPUT
    code: str = ""  # the gRPC status code's name, when the server answered
    reason: str = ""  # ErrorInfo.reason: what clients branch on
    violations: list[tuple[str, str]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    hint: str = ""

    def __str__(self) -> str:
        return self.message

    def as_json(self) -> dict[str, object]:
        return {
            "error": {
                "code": self.code,
                "reason": self.reason,
                "message": self.message,
                "violations": [{"field": f, "description": d} for f, d in self.violations],
                "metadata": self.metadata,
                "exit_code": int(self.exit_code),
            }
        }


def from_rpc(exc: grpc.RpcError, address: str) -> CliError:
    """A failed call as a CliError: code, ErrorInfo reason and metadata, BadRequest violations."""
    code: grpc.StatusCode = exc.code()
    message: str = exc.details() or code.name
    reason, violations, metadata = "", [], {}
    try:
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    except ValueError:  # a status whose details disagree with its code: keep the code and message
        status = None
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.description) for v in bad.field_violations]
    hint = ""
    if code is grpc.StatusCode.UNAVAILABLE and not reason:
        message = f"cannot reach the server at {address} ({message})"
        hint = "is the stack running (`make run`)? Point rolloutctl at it with --address or ROLLOUT_ADDRESS."
    elif code is grpc.StatusCode.UNAUTHENTICATED:
        hint = "check the token: --token-file, ROLLOUT_TOKEN or ROLLOUT_TOKEN_FILE."
    return CliError(message, for_code(code), code.name, reason, violations, metadata, hint)
