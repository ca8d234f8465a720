"""One line and one sample per RPC: method, code, latency, organization, caller, call id, idempotency key.

The servicer reports every call here when it ends (server/api/servicer.py),
whatever its outcome, so metrics and logs say the same thing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc

from server.app.context import Caller
from server.telemetry import logs, metrics

log = logs.get("rollout.rpc")
CALL_ID_HEADER = "x-request-id"
Context = grpc.aio.ServicerContext[Any, Any]


class Call:
    """A call under way; `done` reports it."""

    def __init__(self, method: str, context: Context) -> None:
        self.method = method
        self.started = time.perf_counter()
        self.code = "OK"
        self.who: Caller | None = None
        self.organization = ""
        metadata = dict(context.invocation_metadata() or ())
        sent = metadata.get(CALL_ID_HEADER)
        self.call_id = sent[:64] if isinstance(sent, str) and sent else uuid.uuid4().hex[:16]

    def done(self) -> None:
        seconds = time.perf_counter() - self.started
        metrics.RPCS.labels(self.method, self.code).inc()
        metrics.RPC_SECONDS.labels(self.method).observe(seconds)
        who = self.who
        log.info(
            "rpc",
            method=self.method,
            code=self.code,
            ms=round(seconds * 1000, 3),
            organization=who.organization_id if who else self.organization[:64],
            caller=who.principal_id if who else "",
            call_id=self.call_id,
            idempotency_key=who.request_id if who else "",
        )
