"""Following a stream of events across dropped connections.

A WatchDeployment/WatchInstance stream that drops (server restart, UNAVAILABLE
when the client fell behind) is opened again after the last position seen, with
backoff: the server then replays exactly what was missed (no gaps, no repeats).
An outage that lasts longer than `bound` seconds ends the follow with exit code 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc

from rolloutctl.outcome import CliError, ExitCode

E = TypeVar("E")

# Codes a dropped connection or a stopping server ends a stream with; anything else is an answer
# (DEADLINE_EXCEEDED too: a watch has a deadline only when its caller set one).
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
FIRST_DELAY = 0.25
MAX_DELAY = 5.0
# A stream that stayed open this long was working: its drop starts a new outage.
STEADY_SECONDS = 5.0


@dataclass(frozen=True)
class Dropped:
    """The stream dropped; the follower tries again in `retry_in` seconds."""

    attempt: int
    why: str
    retry_in: float
    last: int


@dataclass(frozen=True)
class Resumed:
    """The server is reachable again; the stream goes on after position `last`."""

    last: int


@dataclass
class Follower(Generic[E]):
    open_stream: Callable[[int], Iterable[E]]
    position: Callable[[E], int]
    ends: Callable[[E], bool]
    wait_ready: Callable[[float], bool]
    bound: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def events(self, after: int) -> Iterator[E | Dropped | Resumed]:
        """Every event after `after`, exactly once and in order, until one `ends`; notices in between."""
        last, attempt, outage_since = after, 0, None
        while True:
            opened = self.clock()
            try:
                for event in self.open_stream(last):
                    if self.position(event) <= last:
                        continue
                    last, attempt, outage_since = self.position(event), 0, None
                    yield event
                    if self.ends(event):
                        return
                why = "the server ended the stream early"
            except grpc.RpcError as exc:
                code: grpc.StatusCode = exc.code()
                if code not in RETRYABLE:
                    raise
                why = f"{code.name}: {exc.details()}"
            now = self.clock()
            if outage_since is None or now - opened >= STEADY_SECONDS:
                outage_since, attempt = now, 0
            attempt += 1
            remaining = self.bound - (now - outage_since)
            if remaining <= 0:
                raise self._lost(why, last)
            delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (attempt - 1), remaining)
            yield Dropped(attempt, why, delay, last)
            self.sleep(delay)
            if not self.wait_ready(self.bound - (self.clock() - outage_since)):
                raise self._lost(why, last)
            yield Resumed(last)

    def _lost(self, why: str, last: int) -> CliError:
        return CliError(
            f"lost the event stream and could not resume it within {self.bound:g}s ({why}); last event seen: {last}",
            ExitCode.CONNECTION_LOST,
            hint="watch again to resume; `--reconnect-timeout` waits longer",
        )
