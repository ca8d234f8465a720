"""Calling the service as a principal: bootstrap an organization admin, send its bearer token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.first_admin import create_admin
from server.store.db import create_engine


def admin_token(database_url: str, organization_id: str) -> str:
    """The organization (created if need be) and a fresh token of its `admin`, as `make run` does."""

    async def run() -> str:
        engine = create_engine(database_url, 1)
        try:
            return await create_admin(engine, organization_id)
        finally:
            await engine.dispose()

    return asyncio.run(run())


class _Bearer(  # type: ignore[misc]
    grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamUnaryClientInterceptor
):
    def __init__(self, token: str) -> None:
        self.metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self.metadata]
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


class _Details(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(self, base: Any, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = base.compression


def as_principal(channel: grpc.Channel, token: str) -> api_grpc.RolloutServiceStub:
    """A stub whose every call carries `authorization: Bearer <token>`."""
    return api_grpc.RolloutServiceStub(grpc.intercept_channel(channel, _Bearer(token)))


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)
