"""What every RPC handler shares: error translation, the caller, and running a mutation."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from server.api.errors import to_status
from server.api.handlers import Malformed
from server.app import mutation
from server.app.context import Caller, Services
from server.domain.audit import AuditEntry
from server.domain.errors import invalid
from server.domain.validation import Violations

Response = TypeVar("Response")
M = TypeVar("M", bound=Message)
T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
Handler = Callable[[Any, Any, Context], Awaitable[Response]]

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
ATTRIBUTION_HEADER = "x-attribution"
MAX_ATTRIBUTION = 512


def unary(handler: Handler[Response]) -> Handler[Response]:
    """Turns every exception of a unary handler into a rich status (never UNKNOWN)."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: Context) -> Response:
        try:
            refuse_malformed(request)
            return await handler(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await context.abort_with_status(to_status(exc))
            raise  # unreachable: abort_with_status raises

    return wrapper


def stream(handler: Callable[..., AsyncIterator[Response]]) -> Callable[..., AsyncIterator[Response]]:
    """The same for a server-streaming handler."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: Context) -> AsyncIterator[Response]:
        try:
            refuse_malformed(request)
            async for message in handler(self, request, context):
                yield message
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await context.abort_with_status(to_status(exc))

    return wrapper


def refuse_malformed(request: object) -> None:
    if isinstance(request, Malformed):
        raise invalid("request", f"is not a valid {request.type_name} message")


def caller(request: Any, context: Context) -> Caller:
    """The caller: organization, idempotency key (field or `idempotency-key` header), attribution."""
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    request_id = getattr(request, "request_id", "")
    if not request_id and IDEMPOTENCY_HEADER in metadata:
        request_id = metadata[IDEMPOTENCY_HEADER]
        v = Violations()
        v.request_id(request_id)
        if v.items:
            raise invalid(IDEMPOTENCY_HEADER, v.items[0].description)
    return Caller(
        organization_id=request.organization_id,
        request_id=request_id,
        attribution=metadata.get(ATTRIBUTION_HEADER, "")[:MAX_ATTRIBUTION],
    )


def fingerprint(request: Message) -> str:
    """The request without its idempotency key, hashed: same key + same request = same fingerprint."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "request_id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("request_id")
    body = copy.SerializeToString(deterministic=True)
    return hashlib.sha256(copy.DESCRIPTOR.full_name.encode() + b"\0" + body).hexdigest()


async def mutate(
    svc: Services,
    request: Message,
    context: Context,
    refused: AuditEntry,
    work: Callable[[AsyncConnection, Caller], Awaitable[mutation.Change[T]]],
    encode: Callable[[T], M],
    response_type: type[M],
) -> M:
    """Run a mutating use case through the idempotency key and audit log (server/app/mutation.py)."""
    who = caller(request, context)
    done = await mutation.execute(
        svc,
        who,
        mutation.Request(request.DESCRIPTOR.full_name, fingerprint(request), refused),
        lambda conn: work(conn, who),
        lambda result: encode(result).SerializeToString(),
    )
    if done.replayed:
        await context.send_initial_metadata(((REPLAYED_HEADER, "true"),))
    return response_type.FromString(done.response)
