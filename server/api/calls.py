"""What every RPC handler shares: error translation, the caller, and running a mutation."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from server.api.errors import to_status
from server.api.guard import Guard
from server.app import mutation
from server.app.context import Caller, Services
from server.domain.audit import AuditEntry
from server.domain.errors import invalid
from server.domain.validation import Violations

Response = TypeVar("Response")
M = TypeVar("M", bound=Message)
T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
V = TypeVar("V")

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
ATTRIBUTION_HEADER = "x-attribution"
MAX_ATTRIBUTION = 512


def unary(
    validate: Callable[[Any], V],
) -> Callable[[Callable[[Any, Any, Context, Caller, V], Awaitable[Response]]], Callable[[Any, Any, Context], Awaitable[Response]]]:
    """A unary handler: authenticate, validate with `validate` (its result is passed on as the
    last argument), authorize (server/api/guard.py), run; every exception becomes a rich status
    (never UNKNOWN)."""

    def decorate(
        handler: Callable[[Any, Any, Context, Caller, V], Awaitable[Response]],
    ) -> Callable[[Any, Any, Context], Awaitable[Response]]:
        @functools.wraps(handler)
        async def wrapper(self: Any, request: Any, context: Context) -> Response:
            try:
                who, parsed = await admit(self.guard, handler.__name__, validate, request, context)
                return await handler(self, request, context, who, parsed)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await context.abort_with_status(to_status(exc))
                raise  # unreachable: abort_with_status raises

        return wrapper

    return decorate


def stream(
    validate: Callable[[Any], V],
) -> Callable[[Callable[[Any, Any, Context, Caller, V], AsyncIterator[Response]]], Callable[[Any, Any, Context], AsyncIterator[Response]]]:
    """The same for a server-streaming handler."""

    def decorate(
        handler: Callable[[Any, Any, Context, Caller, V], AsyncIterator[Response]],
    ) -> Callable[[Any, Any, Context], AsyncIterator[Response]]:
        @functools.wraps(handler)
        async def wrapper(self: Any, request: Any, context: Context) -> AsyncIterator[Response]:
            try:
                who, parsed = await admit(self.guard, handler.__name__, validate, request, context)
                async for message in handler(self, request, context, who, parsed):
                    yield message
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await context.abort_with_status(to_status(exc))

        return wrapper

    return decorate


async def admit(
    guard: Guard, method: str, validate: Callable[[Any], V], request: Any, context: Context
) -> tuple[Caller, V]:
    """Who calls (UNAUTHENTICATED), is the request well-formed (INVALID_ARGUMENT), may they (NOT_FOUND,
    PERMISSION_DENIED) — in that order, before any state is touched (undecodable requests never get
    here: server/api/handlers.py)."""
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    names = list((context.auth_context() or {}).get("x509_common_name") or [])
    cert_name = names[0].decode(errors="replace") if names else None
    who, parsed = await guard.admit(method, request, metadata, cert_name, validate)
    base = request_context(request, metadata)
    return dataclasses.replace(who, request_id=base.request_id, attribution=base.attribution), parsed


def request_context(request: Any, metadata: dict[str, str]) -> Caller:
    """Idempotency key (field or `idempotency-key` header) and attribution; the principal comes later."""
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
    who: Caller,
    refused: AuditEntry,
    work: Callable[[AsyncConnection, Caller], Awaitable[mutation.Change[T]]],
    encode: Callable[[T], M],
    response_type: type[M],
) -> M:
    """Run a mutating use case through the idempotency key and audit log (server/app/mutation.py)."""
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
