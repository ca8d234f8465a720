"""Method handlers whose request decoding cannot fail with INTERNAL.

grpcio answers a request that does not decode as its message type with
INTERNAL. Bytes that are not a valid request are the client's fault, so
decoding here yields a `Malformed` marker instead, which the servicer turns
into INVALID_ARGUMENT like any other bad input (SPEC §8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from rollout.v1 import rollout_service_pb2

SERVICE = rollout_service_pb2.DESCRIPTOR.services_by_name["RolloutService"]


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


def generic_handler(servicer: Any) -> grpc.GenericRpcHandler:
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class = GetMessageClass(method.input_type)
        response_class = GetMessageClass(method.output_type)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=_decoder(request_class),
            response_serializer=response_class.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
