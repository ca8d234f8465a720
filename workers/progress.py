"""A step's progress lines on their way to PROGRESS events: redacted, cut, bounded, batched.

Lines are written in batches (one transaction per batch), at most every
FLUSH_SECONDS while a step runs and at once when it ends, so a chatty
command costs a few transactions a second, not one per line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from server.app import runs
from server.domain import progress as rules
from server.domain.models import Deployment
from server.store.faults import is_transient

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1


class ProgressLog:
    def __init__(self, engine: AsyncEngine, deployment: Deployment, owner: str, secrets: Mapping[str, str]) -> None:
        self._engine, self._deployment, self._owner = engine, deployment, owner
        self._secrets = [v for v in secrets.values() if v]
        self._pending: list[str] = []
        # Lines taken so far (counted when taken, not when written: a batch being written is in neither
        # `_pending` nor yet written, and must still count against the bound).
        self._taken = 0
        self._dropped = 0
        self._flusher: asyncio.Task[None] | None = None
        self._waiting = False

    async def line(self, text: str) -> None:
        """Report one line (the driver's Progress callback)."""
        if self._taken >= rules.MAX_LINES:
            self._dropped += 1
            return
        self._taken += 1
        self._pending.append(rules.shown(text, self._secrets))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        self._waiting = True
        try:
            await asyncio.sleep(FLUSH_SECONDS)
        except asyncio.CancelledError:
            pass  # closing: write now
        self._waiting = False
        await self._flush()

    async def _flush(self) -> None:
        lines, self._pending = self._pending, []
        if not lines:
            return
        try:
            await runs.progress(self._engine, self._deployment, self._owner, lines)
        except Exception as exc:  # progress is advisory: a lost batch never fails the run
            if not is_transient(exc):
                raise
            log.warning("progress of %s lost (%s)", self._deployment.id, type(exc).__name__)

    async def close(self) -> None:
        """Write what is pending, and say how many lines were not shown."""
        if self._flusher is not None:
            if self._waiting:
                self._flusher.cancel()  # only its wait: a write under way is never cut
            await self._flusher
        if self._dropped:
            self._pending.append(rules.elided(self._dropped))
            self._dropped = 0
        await self._flush()
