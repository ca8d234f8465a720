"""Server reflection (grpc.reflection.v1alpha) whose descriptors carry the protos' comments.

grpcio-reflection serves what the generated code registered, which has no
source info, so `grpcurl describe` shows no documentation; and it cannot find
a method by name (grpc/grpc#34743). This servicer serves the descriptor set
tools/gen_protos.py writes beside the generated code (comments included), and
the default pool's descriptors for files outside it (health, reflection).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2 as pb

SERVICE_DESCRIPTOR = pb.DESCRIPTOR.services_by_name["ServerReflection"]
Context = grpc.aio.ServicerContext[Any, Any]


def documented_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """The protos of this repository and their imports, with source info."""
    data = resources.files("rollout").joinpath("descriptors.binpb").read_bytes()
    files = list(descriptor_pb2.FileDescriptorSet.FromString(data).file)
    for file in files:
        _drop_json_names(file.message_type)
    return files


def _drop_json_names(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
    # protoc fills in json_name (`instanceId`), and grpcurl then prints JSON with those names; operators'
    # scripts read the field names (`instance_id`), which is what reflection has always served.
    for message in messages:
        for field in message.field:
            field.ClearField("json_name")
        _drop_json_names(message.nested_type)


class ReflectionServicer:
    def __init__(self, service_names: Iterable[str], files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self._services = sorted(service_names)
        self._pool = descriptor_pool.Default()
        # File name → (serialized FileDescriptorProto, the files it imports).
        self._files = {f.name: (f.SerializeToString(), list(f.dependency)) for f in files}

    async def ServerReflectionInfo(
        self, requests: AsyncIterator[pb.ServerReflectionRequest], context: Context
    ) -> AsyncIterator[pb.ServerReflectionResponse]:
        async for request in requests:
            try:
                yield self._answer(request)
            except KeyError:
                yield _error(request, grpc.StatusCode.NOT_FOUND, "not found")

    def _answer(self, request: pb.ServerReflectionRequest) -> pb.ServerReflectionResponse:
        asked = request.WhichOneof("message_request")
        if asked == "list_services":
            listed = pb.ListServiceResponse(service=[pb.ServiceResponse(name=name) for name in self._services])
            return pb.ServerReflectionResponse(original_request=request, list_services_response=listed)
        if asked == "all_extension_numbers_of_type":
            message = self._pool.FindMessageTypeByName(request.all_extension_numbers_of_type)
            numbers = sorted(e.number for e in self._pool.FindAllExtensions(message))
            found = pb.ExtensionNumberResponse(base_type_name=message.full_name, extension_number=numbers)
            return pb.ServerReflectionResponse(original_request=request, all_extension_numbers_response=found)
        if asked == "file_by_filename":
            name = request.file_by_filename
        elif asked == "file_containing_symbol":
            name = self._file_of_symbol(request.file_containing_symbol)
        elif asked == "file_containing_extension":
            wanted = request.file_containing_extension
            message = self._pool.FindMessageTypeByName(wanted.containing_type)
            extension = self._pool.FindExtensionByNumber(message, wanted.extension_number)
            name = self._pool.FindFileContainingSymbol(extension.full_name).name
        else:
            return _error(request, grpc.StatusCode.INVALID_ARGUMENT, "no request given")
        files = pb.FileDescriptorResponse(file_descriptor_proto=self._with_imports(name))
        return pb.ServerReflectionResponse(original_request=request, file_descriptor_response=files)

    def _file_of_symbol(self, symbol: str) -> str:
        try:
            return str(self._pool.FindFileContainingSymbol(symbol).name)
        except KeyError:
            # The pool does not count methods as symbols; their service's file declares them.
            return str(self._pool.FindMethodByName(symbol).containing_service.file.name)

    def _file(self, name: str) -> tuple[bytes, list[str]]:
        if name not in self._files:
            proto = descriptor_pb2.FileDescriptorProto()
            self._pool.FindFileByName(name).CopyToProto(proto)
            self._files[name] = (proto.SerializeToString(), list(proto.dependency))
        return self._files[name]

    def _with_imports(self, name: str) -> list[bytes]:
        """The file first, then everything it imports, directly or not (a client needs them all)."""
        order: list[str] = []
        pending = [name]
        while pending:
            current = pending.pop()
            if current not in order:
                order.append(current)
                pending.extend(reversed(self._file(current)[1]))
        return [self._file(n)[0] for n in order]


def _error(request: pb.ServerReflectionRequest, code: grpc.StatusCode, message: str) -> pb.ServerReflectionResponse:
    error = pb.ErrorResponse(error_code=code.value[0], error_message=message)
    return pb.ServerReflectionResponse(original_request=request, error_response=error)
