"""Method handlers whose request decoding cannot fail with INTERNAL or UNKNOWN.

grpcio answers a request that does not decode as its message type with
INTERNAL (UNKNOWN on a request stream). Bytes that are not a valid request are
the client's fault, so decoding here yields a `Malformed` marker instead, and
every service served through `generic_handler` (RolloutService, health,
reflection) answers it with INVALID_ARGUMENT before its servicer sees it
(docs/product.md §8).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from server.api.errors import to_status
from server.domain.errors import invalid

Context = grpc.aio.ServicerContext[Any, Any]


class Malformed:
    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _decoder(message_class: type[Message]) -> Callable[[bytes], Message | Malformed]:
    def decode(data: bytes) -> Message | Malformed:
        try:
            return message_class.FromString(data)
        except (DecodeError, RecursionError, ValueError):
            return Malformed(message_class.DESCRIPTOR.full_name)

    return decode


async def _refuse(request: object, context: Context) -> None:
    if isinstance(request, Malformed):
        await context.abort_with_status(to_status(invalid("request", f"is not a valid {request.type_name} message")))


async def _checked(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
    async for request in requests:
        await _refuse(request, context)
        yield request


def _refusing_malformed(method: MethodDescriptor, behavior: Callable[..., Any]) -> Callable[..., Any]:
    """`behavior`, called only with well-formed requests. grpc.aio tells handler kinds apart by
    what they are (coroutine or async generator function), so each kind gets its own wrapper."""
    if method.client_streaming and method.server_streaming:

        async def stream_stream(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
            async for response in behavior(_checked(requests, context), context):
                yield response

        return stream_stream
    if method.client_streaming:

        async def stream_unary(requests: AsyncIterator[Any], context: Context) -> Any:
            return await behavior(_checked(requests, context), context)

        return stream_unary
    if method.server_streaming:

        async def unary_stream(request: Any, context: Context) -> AsyncIterator[Any]:
            await _refuse(request, context)
            async for response in behavior(request, context):
                yield response

        return unary_stream

    async def unary_unary(request: Any, context: Context) -> Any:
        await _refuse(request, context)
        return await behavior(request, context)

    return unary_unary


_HANDLERS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _passing_bytes(serialize: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """A stream's serializer that also takes messages already serialized (one event, many watchers:
    server/api/convert.py `event_bytes`)."""
    return lambda message: message if isinstance(message, bytes) else serialize(message)


def generic_handler(service: Any, servicer: Any) -> grpc.GenericRpcHandler:
    """Every method of `service` (a ServiceDescriptor; the stubs of grpcio's packages give theirs
    upb's type), served by the method of the same name on `servicer`."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        make: Any = _HANDLERS[(method.client_streaming, method.server_streaming)]
        serialize = GetMessageClass(method.output_type).SerializeToString
        handlers[method.name] = make(
            _refusing_malformed(method, getattr(servicer, method.name)),
            request_deserializer=_decoder(GetMessageClass(method.input_type)),
            response_serializer=_passing_bytes(serialize) if method.server_streaming else serialize,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
