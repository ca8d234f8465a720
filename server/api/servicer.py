"""RolloutService: every RPC runs its declaration in server/api/rpcs.py the same way.

Admit (authenticate, validate, authorize: server/api/guard.py) → run the use
case → encode the result. A mutation runs through its idempotency key and
the audit log (server/app/mutation.py). Status codes are never chosen here:
every exception becomes a status in server/api/errors.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from rollout.v1 import rollout_service_pb2
from server.api import guard, observe
from server.api.errors import to_status
from server.api.rpcs import RPCS, Mutation, Query, Stream, Upload
from server.app import mutation
from server.app.access import Access
from server.app.context import Caller, Services
from server.domain.errors import invalid
from server.store.event_hub import EventHub
from server.telemetry import metrics

SERVICE = rollout_service_pb2.DESCRIPTOR.services_by_name["RolloutService"]
REPLAYED_HEADER = "idempotent-replayed"
Context = grpc.aio.ServicerContext[Any, Any]


def fingerprint(request: Message) -> str:
    """The request without its idempotency key, hashed: same key + same request = same fingerprint."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "request_id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("request_id")
    body = copy.SerializeToString(deterministic=True)
    return hashlib.sha256(copy.DESCRIPTOR.full_name.encode() + b"\0" + body).hexdigest()


class RolloutServicer:
    """One attribute per RPC, named like it, built from its declaration."""

    def __init__(self, services: Services, hub: EventHub) -> None:
        self.svc = services
        self.hub = hub
        self.access = Access(services)
        for method in SERVICE.methods:
            rpc = RPCS[method.name]
            response: type[Message] = GetMessageClass(method.output_type)
            if isinstance(rpc, Stream):
                handler: Callable[..., Any] = self._stream(method.name, rpc)
            elif isinstance(rpc, Upload):
                handler = self._upload(method.name, rpc, response)
            elif isinstance(rpc, Mutation):
                handler = self._unary(method.name, rpc.validate, self._mutation(rpc, response))
            else:
                handler = self._unary(method.name, rpc.validate, self._query(rpc))
            setattr(self, method.name, handler)

    async def _admit(self, method: str, validate: Callable[[Any], Any], request: Any, context: Context) -> Any:
        # Undecodable requests never get here (server/api/handlers.py answers them).
        return await guard.admit(self.access, method, request, context, validate)

    @contextlib.asynccontextmanager
    async def _answering(self, method: str, request: Any, context: Context) -> AsyncIterator[observe.Call]:
        """Every exception of the call becomes a status (server/api/errors.py, never UNKNOWN); the call
        is reported (metrics, one log line) when it ends, whatever its outcome."""
        call = observe.Call(method, context)
        call.organization = getattr(request, "organization_id", "")
        try:
            yield call
        except grpc.aio.AbortError:
            raise
        except asyncio.CancelledError:
            call.code = "CANCELLED"
            raise
        except Exception as exc:
            status = to_status(exc)
            call.code = status.code.name
            await context.abort_with_status(status)
        finally:
            call.done()

    def _unary(
        self, method: str, validate: Callable[[Any], Any], run: Callable[[Any, Context, Caller, Any], Awaitable[Message]]
    ) -> Callable[[Any, Context], Awaitable[Message]]:
        async def handle(request: Any, context: Context) -> Message:
            async with self._answering(method, request, context) as call:
                call.who, parsed = await self._admit(method, validate, request, context)
                return await run(request, context, call.who, parsed)
            raise AssertionError("unreachable: a failed call was aborted")

        return handle

    def _stream(self, method: str, rpc: Stream) -> Callable[[Any, Context], AsyncIterator[Message | bytes]]:
        async def handle(request: Any, context: Context) -> AsyncIterator[Message | bytes]:
            async with self._answering(method, request, context) as call:
                call.who, parsed = await self._admit(method, rpc.validate, request, context)
                # Admitted: say so at once, so a client knows the stream is open before its first message
                # (a watch of a quiet instance may not send one for a long time).
                await context.send_initial_metadata(())
                open_streams = metrics.WATCH_STREAMS.labels(method)
                open_streams.inc()
                try:
                    async for item in rpc.run(self.svc, self.hub, call.who, request, parsed):
                        yield rpc.encode(item)
                finally:
                    open_streams.dec()

        return handle

    def _upload(
        self, method: str, rpc: Upload, response: type[Message]
    ) -> Callable[[AsyncIterator[Any], Context], Awaitable[Message]]:
        async def handle(requests: AsyncIterator[Any], context: Context) -> Message:
            async with self._answering(method, None, context) as call:
                first = await anext(requests, None)
                if first is None:
                    raise invalid("request", "the stream is empty: the first message names the release")
                call.organization = first.organization_id
                call.who, parsed = await self._admit(method, rpc.validate, first, context)
                who = call.who
                received = await rpc.receive(self.svc, who, first, parsed, requests)
                try:
                    work = lambda conn, caller: rpc.run(conn, self.svc, caller, first, received)  # noqa: E731
                    done = await self._execute(rpc, first, who, parsed, work)
                except BaseException:
                    await rpc.discard(self.svc, received)
                    raise
                if done.replayed:
                    await rpc.discard(self.svc, received)
                    await context.send_initial_metadata(((REPLAYED_HEADER, "true"),))
                return response.FromString(done.response)
            raise AssertionError("unreachable: a failed call was aborted")

        return handle

    def _query(self, rpc: Query) -> Callable[[Any, Context, Caller, Any], Awaitable[Message]]:
        async def run(request: Any, context: Context, who: Caller, parsed: Any) -> Message:
            return rpc.encode(await rpc.run(self.svc, who, request, parsed))

        return run

    async def _execute(
        self,
        rpc: Mutation | Upload,
        request: Any,
        who: Caller,
        parsed: Any,
        work: Callable[[Any, Caller], Awaitable[mutation.Change[Any]]],
    ) -> mutation.Done[Any]:
        """The change through its idempotency key and the audit log, declared by `rpc`."""
        seen = rpc.fingerprinted(request, self.svc) if isinstance(rpc, Mutation) else request
        return await mutation.execute(
            self.svc,
            who,
            mutation.Request(
                request.DESCRIPTOR.full_name,
                fingerprint(seen),
                rpc.action,
                lambda result: rpc.resource(request, parsed, result),
                getattr(request, "reason", ""),
            ),
            work,
            lambda result: rpc.encode(result).SerializeToString(),
        )

    def _mutation(self, rpc: Mutation, response: type[Message]) -> Callable[[Any, Context, Caller, Any], Awaitable[Message]]:
        async def run(request: Any, context: Context, who: Caller, parsed: Any) -> Message:
            if rpc.prepare is not None and not await mutation.has_outcome(self.svc, who):
                parsed = await rpc.prepare(self.svc, who, parsed)
            done = await self._execute(
                rpc, request, who, parsed, lambda conn, caller: rpc.run(conn, self.svc, caller, request, parsed)
            )
            if done.replayed:
                await context.send_initial_metadata(((REPLAYED_HEADER, "true"),))
            return response.FromString(done.response)

        return run
