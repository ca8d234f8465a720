"""The one place where errors become gRPC statuses (AIP-193).

Every status carries an ErrorInfo{reason, domain}; INVALID_ARGUMENT also
carries BadRequest field violations. Backend outages become UNAVAILABLE so
clients retry; anything else unexpected is logged and answered INTERNAL
without internals in the message.
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.store.faults import is_transient
from server.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    NotImplementedYet,
    PermissionDenied,
    RolloutError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

DOMAIN = "rollout.dev"

CODES: dict[type[RolloutError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    NotImplementedYet: grpc.StatusCode.UNIMPLEMENTED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}

def _code_of(exc: RolloutError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in CODES:
            return CODES[cls]
    return grpc.StatusCode.INTERNAL


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(exc: BaseException) -> grpc.Status:
    """The gRPC status for any exception raised while serving a call."""
    if not isinstance(exc, RolloutError) and is_transient(exc):
        log.warning("backend unavailable: %s", type(exc).__name__)
        exc = Unavailable("a backend (database or queue) is unavailable; retry with the same request_id")
    if not isinstance(exc, RolloutError):
        log.error("internal error", exc_info=exc)
        exc = RolloutError("internal error", "INTERNAL")
        code = grpc.StatusCode.INTERNAL
    else:
        code = _code_of(exc)
    details = [_pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN))]
    if isinstance(exc, InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in exc.violations
                    ]
                )
            )
        )
        message = "; ".join(f"{v.field}: {v.description}" for v in exc.violations)
    else:
        message = exc.message
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)
    return rpc_status.to_status(status)
