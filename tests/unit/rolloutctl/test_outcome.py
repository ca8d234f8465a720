"""rolloutctl's exit codes: what a script sees for each ending and each error."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from rollout.v1 import resources_pb2 as pb
from rolloutctl.outcome import CliError, ExitCode, for_code, for_status, from_rpc

S = pb.Deployment


def test_terminal_statuses() -> None:
    assert for_status(S.STATUS_COMPLETED) == 0
    assert for_status(S.STATUS_FAILED) == 1
    assert for_status(S.STATUS_REJECTED) == 2
    assert for_status(S.STATUS_PROPOSED) == 0  # a command that does not wait succeeded


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        (grpc.StatusCode.UNAVAILABLE, 3),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 3),
        (grpc.StatusCode.INVALID_ARGUMENT, 4),
        (grpc.StatusCode.NOT_FOUND, 4),
        (grpc.StatusCode.FAILED_PRECONDITION, 4),
        (grpc.StatusCode.ALREADY_EXISTS, 4),
        (grpc.StatusCode.PERMISSION_DENIED, 4),
        (grpc.StatusCode.UNAUTHENTICATED, 4),
        (grpc.StatusCode.INTERNAL, 5),
        (grpc.StatusCode.UNKNOWN, 5),
    ],
)
def test_grpc_codes(code: grpc.StatusCode, exit_code: int) -> None:
    assert for_code(code) == exit_code


class Failed(grpc.RpcError):
    """A failed call as grpcio hands it over: code, details and trailing metadata."""

    def __init__(self, status: status_pb2.Status) -> None:
        self.status = rpc_status.to_status(status)

    def code(self) -> grpc.StatusCode:
        return self.status.code

    def details(self) -> str:
        return self.status.details

    def trailing_metadata(self) -> object:
        return self.status.trailing_metadata


def packed(message: object) -> any_pb2.Any:
    value = any_pb2.Any()
    value.Pack(message)  # type: ignore[arg-type]
    return value


def test_the_servers_reason_message_and_violations_are_kept() -> None:
    info = error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain="rollout.dev", metadata={"k": "v"})
    bad = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="filter", description="cannot parse 'x'")])
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="filter: cannot parse 'x'",
                               details=[packed(info), packed(bad)])
    error = from_rpc(Failed(status), "127.0.0.1:1")
    assert (error.exit_code, error.code, error.reason) == (ExitCode.BAD_INPUT, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert error.violations == [("filter", "cannot parse 'x'")]
    assert error.metadata == {"k": "v"}
    assert error.as_json()["error"] == {
        "code": "INVALID_ARGUMENT",
        "reason": "INVALID_ARGUMENT",
        "message": "filter: cannot parse 'x'",
        "violations": [{"field": "filter", "description": "cannot parse 'x'"}],
        "metadata": {"k": "v"},
        "exit_code": 4,
    }


def test_a_failed_precondition_names_its_reason() -> None:
    info = error_details_pb2.ErrorInfo(reason="NO_ROLLBACK_TARGET", domain="rollout.dev")
    status = status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message="no past run qualifies",
                               details=[packed(info)])
    error = from_rpc(Failed(status), "a:1")
    assert (error.exit_code, error.reason, str(error)) == (ExitCode.BAD_INPUT, "NO_ROLLBACK_TARGET", "no past run qualifies")


def test_nothing_listening_is_connection_lost_with_a_hint() -> None:
    class Refused(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

        def details(self) -> str:
            return "failed to connect to all addresses"

        def trailing_metadata(self) -> object:
            return ()

    error = from_rpc(Refused(), "127.0.0.1:9")
    assert error.exit_code == ExitCode.CONNECTION_LOST
    assert str(error) == "cannot reach the server at 127.0.0.1:9 (failed to connect to all addresses)"
    assert "make run" in error.hint
    assert isinstance(error, CliError)
