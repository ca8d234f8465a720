"""How the campaign's clients call the service: bearer token, idempotency key, bounded retries.

A call that meets UNAVAILABLE or DEADLINE_EXCEEDED is sent again, with the
SAME request (so the same `request_id`), to the next server, after a growing,
jittered pause: what a careful client does while a replica or the database
restarts. Every call's final status is counted per method; INTERNAL and
UNKNOWN answers keep a sample with the fault that was under way.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from rollout.v1 import rollout_service_pb2_grpc as api_grpc

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
BAD = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})
ATTEMPTS = 10
CALL_TIMEOUT = 10.0
CHANNEL_OPTIONS = [
    # Reconnect quickly to a restarted server (gRPC's default backoff grows to 2 minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass
class Codes:
    """Final status code of every call, per method; plus retried attempts and samples of bad answers."""

    clock: Callable[[], float]
    phase: Callable[[], str]  # the fault under way, for the samples
    final: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    retried: Counter[str] = field(default_factory=Counter)
    bad_samples: list[dict[str, Any]] = field(default_factory=list)
    bad_during: Counter[str] = field(default_factory=Counter)  # INTERNAL/UNKNOWN answers by fault

    def record(self, method: str, code: grpc.StatusCode, details: str = "", server: str = "") -> None:
        self.final[method][code.name] += 1
        if code in BAD:
            during = self.phase()
            self.bad_during[during.split(" (")[0]] += 1
            if len(self.bad_samples) < 100:
                self.bad_samples.append({
                    "t": round(self.clock(), 2), "method": method, "code": code.name,
                    "details": details[:300], "server": server, "during": during,
                })

    def calls(self) -> int:
        return sum(sum(c.values()) for c in self.final.values())

    def bad(self) -> int:
        return sum(c[code.name] for c in self.final.values() for code in BAD)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {method: dict(sorted(codes.items())) for method, codes in sorted(self.final.items())}


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    response: Any = None
    details: str = ""
    replayed: bool = False  # the `idempotent-replayed: true` response header

    @property
    def ok(self) -> bool:
        return self.code is grpc.StatusCode.OK


class Caller:
    """One client's view of the service: every server's channel, one organization's token."""

    def __init__(self, channels: list[tuple[str, grpc.aio.Channel]], token: str, codes: Codes, rng: random.Random,
                 home: int = 0) -> None:
        self.stubs: list[tuple[str, Any]] = [(address, api_grpc.RolloutServiceStub(channel))  # type: ignore[no-untyped-call]
                                             for address, channel in channels]
        self.metadata = (("authorization", f"Bearer {token}"), ("x-attribution", "make chaos"))
        self.codes = codes
        self.rng = rng
        self.home = home

    def stub(self, attempt: int = 0) -> tuple[str, Any]:
        return self.stubs[(self.home + attempt) % len(self.stubs)]

    async def call(self, method: str, request: Any, label: str | None = None) -> Answer:
        """Send `request` until it gets an answer that is not transient (at most ATTEMPTS times)."""
        answer = Answer(grpc.StatusCode.UNAVAILABLE)
        address = ""
        for attempt in range(ATTEMPTS):
            address, stub = self.stub(attempt)
            answer = await self._once(getattr(stub, method), request)
            if answer.code not in RETRYABLE:
                break
            self.codes.retried[answer.code.name] += 1
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt) * self.rng.uniform(0.5, 1.0))
        self.codes.record(label or method, answer.code, answer.details, address)
        return answer

    async def _once(self, rpc: Any, request: Any) -> Answer:
        call = rpc(request, metadata=self.metadata, timeout=CALL_TIMEOUT)
        try:
            response = await call
            headers = await call.initial_metadata()
        except grpc.aio.AioRpcError as exc:
            give_back_cancellation()
            return Answer(exc.code(), details=exc.details() or "")
        replayed = any(k == "idempotent-replayed" and v == "true" for k, v in (headers or ()))
        return Answer(grpc.StatusCode.OK, response, replayed=replayed)


def give_back_cancellation() -> None:
    """grpc.aio reports a call cancelled with its task as AioRpcError(CANCELLED): raise the cancellation
    again, or a campaign being stopped would go on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def new_channels(addresses: list[str]) -> list[tuple[str, grpc.aio.Channel]]:
    return [(address, grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)) for address in addresses]


class Clock:
    """Seconds since the load started."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started
