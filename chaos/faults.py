"""The faults, run one at a time on their schedule while the load goes on.

Each fault waits until the stack has recovered (both servers SERVING) before
the next one starts, so faults never overlap except where a fault is meant to
combine two (the key storm kills a worker mid-job while it runs). Every kill
targets a pid or process group the campaign started.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaos import plan
from chaos.calls import Caller, Clock, give_back_cancellation
from chaos.stack import Process, Stack
from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api

NO_FAULT = "no fault under way"
RUNNING_ON = """
    SELECT id::text, lease_owner FROM deployments
    WHERE status = 'RUNNING' AND lease_owner IS NOT NULL AND organization_id = ANY($1::text[])
"""


@dataclass
class Storm:
    """A key storm's figures: one source rolled back N times with one key, then approved M times with one key."""

    source: str
    rollback_key: str = ""
    approve_key: str = ""
    rollbacks: int = 0
    rollback_codes: dict[str, int] = field(default_factory=dict)
    rollback_ids: list[str] = field(default_factory=list)  # distinct ids in OK answers
    rollback_replayed: int = 0
    approvals: int = 0
    approve_codes: dict[str, int] = field(default_factory=dict)
    approve_replayed: int = 0
    approved: bool = False  # the approvals were answered OK with the deployment PENDING
    ran: bool = False


def _owner_pid(lease_owner: str) -> int | None:
    # workers/settings.py: worker id "<node>:<pid>:<hex>", and the lease owner is "<worker id>:<job id>".
    parts = lease_owner.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


class Faults:
    def __init__(self, stack: Stack, sizes: plan.Sizes, organizations: list[str], clock: Clock, seed: int,
                 storm_callers: list[Caller], storm: Storm) -> None:
        self.stack, self.sizes, self.organizations, self.clock = stack, sizes, organizations, clock
        self.rng = random.Random(seed + 1)
        self.storm_callers, self.storm = storm_callers, storm
        self.done: list[dict[str, Any]] = []
        self.current = ""
        self.crashes: list[dict[str, Any]] = []
        self._replacements: list[asyncio.Task[Process]] = []
        self._last: tuple[str, float] | None = None

    def phase(self) -> str:
        """The fault under way (or that ended less than 5 s ago): context for a bad answer."""
        if self.current:
            return f"{self.current} (under way)"
        if self._last is not None and self.clock() - self._last[1] < 5:
            return f"{self._last[0]} (ended {self.clock() - self._last[1]:.1f}s before)"
        return NO_FAULT

    def say(self, message: str) -> None:
        print(f"[{self.clock():6.1f}s] {message}", file=sys.stderr, flush=True)

    async def run(self, schedule: list[plan.Fault]) -> None:
        """Every fault of `schedule`, in order, none skipped; then the replacement workers are all up."""
        for fault in schedule:
            await asyncio.sleep(max(0.0, fault.at - self.clock()))
            self.current = fault.kind
            record: dict[str, Any] = {"kind": fault.kind, "scheduled": fault.at, "started": round(self.clock(), 2)}
            try:
                record.update(await self._one(fault))
                await self._recovered()
            finally:
                record["ended"] = round(self.clock(), 2)
                self.done.append(record)
                self._last, self.current = (fault.kind, self.clock()), ""
            self.say(f"{fault.kind}: {', '.join(f'{k}={v}' for k, v in record.items() if k not in ('kind', 'scheduled'))}")
        await asyncio.gather(*self._replacements)

    async def _one(self, fault: plan.Fault) -> dict[str, Any]:
        if fault.kind == plan.WORKER_KILL:
            return await self.kill_worker()
        if fault.kind == plan.SERVER_KILL:
            return await self.kill_server(fault.target)
        if fault.kind in (plan.POSTGRES_STOP, plan.POSTGRES_KILL):
            sig = signal.SIGQUIT if fault.kind == plan.POSTGRES_STOP else signal.SIGKILL
            down = round(self.rng.uniform(0.5, 2.0), 2)
            await asyncio.to_thread(self.stack.postgres_crash, sig, down)
            return {"down_seconds": down}
        if fault.kind == plan.VALKEY_KILL:
            down = round(self.rng.uniform(0.5, 2.0), 2)
            await asyncio.to_thread(self.stack.valkey_crash, down)
            return {"down_seconds": down}
        if fault.kind == plan.KEY_STORM:
            return await self.key_storm()
        raise ValueError(fault.kind)

    # Workers and servers

    async def kill_worker(self, wait: float = 6.0) -> dict[str, Any]:
        """SIGKILL a worker while it runs a deployment (the first moment one does, within `wait` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        victim: Process | None = None
        running: list[str] = []
        while victim is None and loop.time() < deadline:
            by_pid = {p.pid: p for p in self.stack.workers()}
            for deployment_id, owner in await self._query(RUNNING_ON):
                pid = _owner_pid(owner)
                if pid in by_pid:
                    victim = victim or by_pid[pid]
                    if victim.pid == pid:
                        running.append(deployment_id)
            if victim is None:
                await asyncio.sleep(0.05)
        mid_job = victim is not None
        deadline = loop.time() + 60
        while victim is None:  # nothing ran meanwhile: any worker that is up, once one is
            ready = self.stack.workers()
            if ready:
                victim = self.rng.choice(ready)
            elif loop.time() > deadline:
                raise RuntimeError("no worker has been up for a minute")
            else:
                await asyncio.sleep(0.1)
        await asyncio.to_thread(victim.kill)
        # The replacement boots while the next fault goes on, as a restarted pod would.
        self._replacements.append(asyncio.create_task(asyncio.to_thread(self.stack.start_worker)))
        return {"pid": victim.pid, "mid_job": mid_job, "running": running}

    async def kill_server(self, slot: int) -> dict[str, Any]:
        victim = self.stack.server(slot)
        await asyncio.to_thread(victim.kill)
        await asyncio.sleep(self.rng.uniform(0.3, 1.0))
        await asyncio.to_thread(self.stack.start_server, slot)
        return {"slot": slot, "pid": victim.pid, "address": self.stack.addresses[slot]}

    async def watch_for_crashes(self, stop: asyncio.Event) -> None:
        """Restart any server or worker that exited without being killed, and count it as a crash."""
        while not stop.is_set():
            for process in self.stack.crashed():
                process.killed = True  # counted once
                self.crashes.append({"process": process.name, "pid": process.pid, "code": process.popen.returncode,
                                     "t": round(self.clock(), 2), "log": str(process.log)})
                self.say(f"CRASH: {process.name} pid {process.pid} exited with {process.popen.returncode}")
                if process.name.startswith("server"):
                    await asyncio.to_thread(self.stack.start_server, int(process.name.removeprefix("server")))
                else:
                    await asyncio.to_thread(self.stack.start_worker)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    # The key storm

    async def key_storm(self) -> dict[str, Any]:
        """N identical RollbackDeployments with one key while a worker is killed mid-job, then M approvals."""
        storm = self.storm
        storm.rollback_key = f"chaos-storm-rollback-{self.rng.getrandbits(32):08x}"
        storm.approve_key = f"chaos-storm-approve-{self.rng.getrandbits(32):08x}"
        org = self.organizations[0]
        request = api.RollbackDeploymentRequest(organization_id=org, id=storm.source, request_id=storm.rollback_key)
        kill = asyncio.create_task(self.kill_worker())
        answers = await asyncio.gather(*(
            self.storm_callers[i % len(self.storm_callers)].call("RollbackDeployment", request, "RollbackDeployment (key storm)")
            for i in range(self.sizes.rollback_storm)
        ))
        killed = await kill
        storm.rollbacks = len(answers)
        storm.rollback_codes = _codes(answers)
        storm.rollback_ids = sorted({a.response.id for a in answers if a.ok})
        storm.rollback_replayed = sum(a.replayed for a in answers)
        if len(storm.rollback_ids) == 1:
            approve = api.ApproveDeploymentRequest(organization_id=org, id=storm.rollback_ids[0], request_id=storm.approve_key)
            approvals = await asyncio.gather(*(
                self.storm_callers[i % len(self.storm_callers)].call("ApproveDeployment", approve, "ApproveDeployment (key storm)")
                for i in range(self.sizes.approve_storm)
            ))
            storm.approvals = len(approvals)
            storm.approve_codes = _codes(approvals)
            storm.approve_replayed = sum(a.replayed for a in approvals)
            storm.approved = any(a.ok and a.response.status == pb.Deployment.STATUS_PENDING for a in approvals)
        storm.ran = True
        return {"rollbacks": storm.rollbacks, "deployments": len(storm.rollback_ids), "approvals": storm.approvals,
                "worker_killed": killed["pid"], "mid_job": killed["mid_job"], "running": killed["running"]}

    # Helpers

    async def _query(self, sql: str) -> list[Any]:
        """Rows, or none while PostgreSQL is away (a fault of ours may be restarting it)."""
        try:
            conn = await asyncpg.connect(dsn(self.stack.database_url), timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return []
        try:
            return list(await conn.fetch(sql, self.organizations, timeout=5))
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return []
        finally:
            await conn.close()

    async def _recovered(self, timeout: float = 60.0) -> None:
        """Until every server answers SERVING (PostgreSQL and Valkey reachable from it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for address in self.stack.addresses:
            async with grpc.aio.insecure_channel(address) as channel:
                health: Any = health_pb2_grpc.HealthStub(channel)
                while True:
                    try:
                        reply = await health.Check(health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=1)
                        if reply.status == health_pb2.HealthCheckResponse.SERVING:
                            break
                    except grpc.aio.AioRpcError:
                        give_back_cancellation()
                    if loop.time() > deadline:
                        raise RuntimeError(f"server {address} did not recover within {timeout:.0f}s")
                    await asyncio.sleep(0.1)


def _codes(answers: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for answer in answers:
        out[answer.code.name] = out.get(answer.code.name, 0) + 1
    return out


def dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)

