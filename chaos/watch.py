"""Watchers that resume: WatchDeployment and WatchInstance streams re-opened after a drop from the last
sequence seen, recording every sequence so gaps and repeats across resumes can be counted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc

from chaos.calls import Caller, give_back_cancellation
from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api

TERMINAL_TYPES = frozenset({
    pb.DeploymentEvent.TYPE_COMPLETED, pb.DeploymentEvent.TYPE_FAILED, pb.DeploymentEvent.TYPE_REJECTED,
})
# A watch that meets one of these resumes; anything else (NOT_FOUND, …) ends it.
RESUMABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED,
})
MAX_RESUMES = 30


@dataclass
class Seen:
    """What one watcher saw of one deployment (sequence) or instance (instance_sequence)."""

    kind: str  # "deployment" or "instance"
    target: str
    last: int = 0
    events: int = 0
    resumes: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (expected, got)
    repeats: list[int] = field(default_factory=list)
    terminal_sequence: int = 0
    ended: str = "open"  # open, terminal, closed (by the watcher), gave-up, or a status code

    def saw(self, sequence: int) -> None:
        self.events += 1
        if sequence == self.last + 1:
            self.last = sequence
        elif sequence > self.last + 1:
            self.gaps.append((self.last + 1, sequence))
            self.last = sequence
        else:
            self.repeats.append(sequence)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "target": self.target, "events": self.events, "last": self.last,
            "resumes": self.resumes, "gaps": self.gaps[:5], "repeats": self.repeats[:5], "ended": self.ended,
        }


async def watch_deployment(caller: Caller, org: str, deployment_id: str, seen: Seen, seconds: float) -> None:
    """Follow the deployment from its first event to its terminal one, resuming after drops, for at most `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    attempt = 0
    while seen.resumes <= MAX_RESUMES:
        remaining = deadline - loop.time()
        if remaining <= 0:
            seen.ended = "gave-up"
            return
        address, stub = caller.stub(attempt)
        request = api.WatchDeploymentRequest(organization_id=org, id=deployment_id, after_sequence=seen.last)
        call = stub.WatchDeployment(request, metadata=caller.metadata, timeout=remaining)
        try:
            async for event in call:
                seen.saw(event.sequence)
                if event.type in TERMINAL_TYPES:
                    seen.terminal_sequence = event.sequence
            caller.codes.record("WatchDeployment", grpc.StatusCode.OK, server=address)
            if seen.terminal_sequence:
                seen.ended = "terminal"
                return
        except grpc.aio.AioRpcError as exc:
            give_back_cancellation()
            if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED and loop.time() >= deadline - 0.05:
                seen.ended = "gave-up"  # our own bound, not the server's answer
                return
            caller.codes.record("WatchDeployment", exc.code(), exc.details() or "", address)
            if exc.code() not in RESUMABLE:
                seen.ended = exc.code().name
                return
        finally:
            call.cancel()
        seen.resumes += 1
        attempt += 1
        await asyncio.sleep(min(2.0, 0.05 * 2**min(attempt, 6)) * caller.rng.uniform(0.5, 1.0))
    seen.ended = "gave-up"


async def watch_instance(caller: Caller, org: str, instance_id: str, seen: Seen, seconds: float) -> None:
    """Follow every event of the instance from its first, resuming after drops, for `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    attempt = 0
    while seen.resumes <= MAX_RESUMES:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        address, stub = caller.stub(attempt)
        request = api.WatchInstanceRequest(organization_id=org, id=instance_id, after_instance_sequence=seen.last)
        call = stub.WatchInstance(request, metadata=caller.metadata, timeout=remaining)
        try:
            async for event in call:
                seen.saw(event.instance_sequence)
            caller.codes.record("WatchInstance", grpc.StatusCode.OK, server=address)  # the server ended an open-ended stream
        except grpc.aio.AioRpcError as exc:
            give_back_cancellation()
            if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED and loop.time() >= deadline - 0.05:
                break  # the watcher's session is over
            caller.codes.record("WatchInstance", exc.code(), exc.details() or "", address)
            if exc.code() not in RESUMABLE:
                seen.ended = exc.code().name
                return
        finally:
            call.cancel()
        seen.resumes += 1
        attempt += 1
        await asyncio.sleep(min(2.0, 0.05 * 2**min(attempt, 6)) * caller.rng.uniform(0.5, 1.0))
    seen.ended = "closed"
