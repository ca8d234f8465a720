"""The connection: one channel to the server, the bearer token on every call, errors made readable.

rolloutctl speaks the same contract as every client (the generated stubs of
`rollout.v1`) and knows nothing of the server's internals.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from rolloutctl.config import Settings
from rolloutctl.outcome import CliError, from_rpc

Response = TypeVar("Response")

# A restarted server is found again within a fraction of a second, not after grpc's default
# backoff of up to two minutes.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
CALL_TIMEOUT = 30.0
# UNAVAILABLE is retried: a backend blip, or a server restarting. Mutations carry a request_id,
# so a retry never does the change twice (AIP-155).
RETRY_DELAYS = (0.2, 0.5)
ATTRIBUTION = "rolloutctl"


class Client:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.organization = settings.organization
        self.channel = grpc.insecure_channel(settings.address, options=CHANNEL_OPTIONS)
        self.stub: Any = api_grpc.RolloutServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.metadata = (("authorization", f"Bearer {settings.token}"), ("x-attribution", ATTRIBUTION))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()

    def call(self, method: str, request: Any) -> Any:
        """A unary RPC of RolloutService by name; CliError when it fails."""
        if "request_id" in request.DESCRIPTOR.fields_by_name and not request.request_id:
            request.request_id = str(uuid.uuid4())
        rpc = getattr(self.stub, method)
        for delay in (*RETRY_DELAYS, None):
            try:
                return rpc(request, metadata=self.metadata, timeout=CALL_TIMEOUT)
            except grpc.RpcError as exc:
                error = from_rpc(exc, self.settings.address)
                # Only the server's own UNAVAILABLE (it has a reason) is retried: where nothing listens,
                # a person is told at once.
                if error.code != "UNAVAILABLE" or not error.reason or delay is None:
                    raise error from None
                time.sleep(delay)
        raise AssertionError("unreachable")

    def stream(self, method: str, request: Message, timeout: float | None = None) -> Iterator[Any]:
        """A server stream of RolloutService by name; its grpc.RpcError is the caller's to handle."""
        stream: Iterator[Any] = getattr(self.stub, method)(request, metadata=self.metadata, timeout=timeout)
        return stream

    def wait_ready(self, timeout: float) -> bool:
        """Whether the server accepts connections within `timeout` seconds."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=max(timeout, 0.01))
            return True
        except grpc.FutureTimeoutError:
            return False

    def rpc_error(self, exc: grpc.RpcError) -> CliError:
        return from_rpc(exc, self.settings.address)


def paged(client: Client, method: str, request: Any, field: str, limit: int) -> list[Any]:
    """Up to `limit` rows of a List RPC, following next_page_token."""
    rows: list[Any] = []
    while len(rows) < limit:
        request.page_size = min(1000, limit - len(rows))
        page = client.call(method, request)
        rows.extend(getattr(page, field))
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    return rows[:limit]
