"""The one place where errors become gRPC statuses (AIP-193).

Each error class says its own code (server/domain/errors.py). Every status
carries an ErrorInfo{reason, domain, metadata: the ids involved}; INVALID_ARGUMENT also
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

from server.domain.errors import InvalidArgument, RolloutError, Unavailable
from server.store.faults import is_transient

log = logging.getLogger(__name__)

DOMAIN = "rollout.dev"


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(exc: BaseException) -> grpc.Status:
    """The gRPC status for any exception raised while serving a call."""
    if not isinstance(exc, RolloutError) and is_transient(exc):
        log.warning("backend unavailable: %s", type(exc).__name__)
        exc = Unavailable("a backend (database, queue or artifact store) is unavailable; retry with the same request_id")
    if not isinstance(exc, RolloutError):
        log.error("internal error", exc_info=exc)
        exc = RolloutError("internal error", "INTERNAL")
    return rpc_status.to_status(bounded_status(grpc.StatusCode[exc.code], exc))


# Stock clients refuse trailers over 8 KiB (grpcio: "received metadata size exceeds hard limit"),
# and a status echoes the request back. With these caps the worst case, grpc-message
# percent-encoded plus grpc-status-details-bin in base64, stays near 6 KiB.
MAX_VIOLATIONS = 8
MAX_FIELD_BYTES = 96
MAX_DESCRIPTION_BYTES = 192
MAX_MESSAGE_BYTES = 512


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 on a character boundary, ending in '…' when cut."""
    data = text.encode(errors="replace")
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore") + "…"


def bounded_status(code: grpc.StatusCode, exc: RolloutError) -> status_pb2.Status:
    """The google.rpc.Status of `exc`, with whatever it echoes from the request cut to size."""
    metadata = {clip(k, MAX_FIELD_BYTES): clip(v, MAX_DESCRIPTION_BYTES) for k, v in list(exc.metadata.items())[:8]}
    details = [_pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN, metadata=metadata))]
    message = clip(exc.message, MAX_MESSAGE_BYTES)
    if isinstance(exc, InvalidArgument):
        shown = [
            error_details_pb2.BadRequest.FieldViolation(
                field=clip(v.field, MAX_FIELD_BYTES), description=clip(v.description, MAX_DESCRIPTION_BYTES)
            )
            for v in exc.violations[:MAX_VIOLATIONS]
        ]
        message = clip("; ".join(f"{v.field}: {v.description}" for v in shown), MAX_MESSAGE_BYTES)
        hidden = len(exc.violations) - len(shown)
        if hidden:
            more = f"and {hidden} more"
            shown.append(error_details_pb2.BadRequest.FieldViolation(field="request", description=more))
            message = clip(message, MAX_MESSAGE_BYTES - len(more) - 2) + "; " + more
        details.append(_pack(error_details_pb2.BadRequest(field_violations=shown)))
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)
