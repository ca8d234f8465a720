"""What every worker does for the runtime instances its driver reaches: drain, health-check, stop strays.

It runs in each worker process (not as a queued job: a queued job runs on
whichever worker takes it, and local processes can only be acted on from
their own host), every ROLLOUT_SWEEP_SECONDS:

- **drain** warm instances whose window is over, and DRAINING ones whose
  drainer stopped mid-way (it died: the stop is repeated);
- **health**: a HEALTHY instance that died or fails its health check is
  stopped (what is left of it) and marked FAILED, with an event of its
  instance;
- **strays**: a process the driver still runs for an instance the database
  says is STOPPED or FAILED (or that another host's spawn won) is stopped.

Several workers on one host do the same work; every change is made under the
row's lock and only if the row is still in the state it was seen in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from server.app import runtime
from server.app.context import Services
from server.config import Settings
from server.domain import runtime as rules
from server.domain.models import RuntimeInstance
from server.store.faults import is_transient
from workers.drivers import Driver, DriverError

log = logging.getLogger(__name__)

# Health checks of several instances run at once, up to this many.
PARALLEL_CHECKS = 16


class Upkeep:
    def __init__(self, svc: Services, driver: Driver, settings: Settings) -> None:
        self.svc, self.driver, self.settings = svc, driver, settings
        # A DRAINING instance not stopped within this time had a drainer that died: drain it again.
        self.stuck_seconds = settings.drain_grace_seconds + settings.stop_grace_seconds + settings.lease_seconds

    async def forever(self) -> None:
        while True:
            await self.once()
            await asyncio.sleep(self.settings.sweep_seconds)

    async def once(self) -> int:
        done = 0
        for part in (self.drain, self.check_health, self.stop_strays):
            done += await self._guarded(part)
        return done

    async def _guarded(self, part: Callable[[], Awaitable[int]]) -> int:
        try:
            return await part()
        except Exception as exc:  # the next round tries again; a backend outage is waited out
            if is_transient(exc):
                log.warning("upkeep: backend fault (%s); trying again next round", type(exc).__name__)
            else:
                log.exception("upkeep: %s failed", part.__name__)
            return 0

    async def drain(self) -> int:
        """Mark the due ones DRAINING, wait the drain grace, then stop them.

        Edge routers stopped sending them requests at the switch (a route
        lists only the active release's runtime instances, and never a
        DRAINING one); the grace lets requests sent before that finish, and a
        router that was reconnecting catch up, before the process stops.
        """
        claimed: list[RuntimeInstance] = []
        for due in await runtime.due_for_drain(self.svc.engine, self.stuck_seconds):
            if not self.driver.reaches(due):
                continue
            target = await runtime.begin_drain(self.svc.engine, due.id, self.driver.reaches, self.stuck_seconds)
            if target is not None:
                claimed.append(target)
        if claimed:
            await asyncio.sleep(self.settings.drain_grace_seconds)
        drained = 0
        for target in claimed:
            try:
                await self.driver.stop_runtime_instance(target)
            except DriverError:
                log.warning("stopping runtime instance %s failed; its drain is tried again later", target.id, exc_info=True)
                continue
            await runtime.end_drain(self.svc.engine, target.id)
            drained += 1
        return drained

    async def check_health(self) -> int:
        mine = [r for r in await runtime.serving(self.svc.engine) if r.host and self.driver.reaches(r)]
        gate = asyncio.Semaphore(PARALLEL_CHECKS)

        async def one(target: RuntimeInstance) -> bool:
            async with gate:
                if await self.driver.healthy(target):
                    return False
                try:
                    await self.driver.stop_runtime_instance(target)  # first: a FAILED one never runs on
                except DriverError:
                    log.warning("stopping unhealthy runtime instance %s failed", target.id, exc_info=True)
                    return False
                return await runtime.failed(self.svc.engine, target, "it stopped running or failed its health check")

        return sum(await asyncio.gather(*(one(r) for r in mine)))

    async def stop_strays(self) -> int:
        running = await self.driver.inventory()
        if not running:
            return 0
        rows = await runtime.of_ids(self.svc.engine, running)
        stopped = 0
        for runtime_id in running:
            row = rows.get(runtime_id)
            if row is None or not rules.stray(row, self.driver.reaches(row)):
                continue
            try:
                await self.driver.stop_runtime_instance(row)
                stopped += 1
            except DriverError:
                log.warning("stopping stray runtime instance %s failed", runtime_id, exc_info=True)
        return stopped
