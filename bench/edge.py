"""(f) rollback visible at the edge and (g) router overhead, on real runtime instances behind `python -m router`.

A stack of its own beside the harness's (its own database in the same
PostgreSQL, its own queue, the local driver, a router): one DYNAMIC hello
instance with 2 replicas at 1.0.0 and 2.0.0, both kept warm.

- (f) warm: the clock starts before ApproveDeployment of a rollback (proposed
  beforehand) and stops at the first response from the target version,
  polled through the router. Cold: the target's runtime instances are
  drained first, so the rollback spawns 2 processes again. The floor is a
  Redis publish → subscriber → proxy switch (bench/edge_floor.py), polled the
  same way, in the same run.
- (g) the same requests, from the same concurrent clients, through the router
  and straight to the same two backends (round robin on both sides).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any
from urllib.parse import urlparse

import aiohttp
import asyncpg
import grpc
from redis.asyncio import Redis

from bench.edge_floor import BENCH_CHANNEL
from bench.harness import ORGANIZATION, Harness, _wait_serving
from bench.stats import Result, compared, summarize
from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.config import ArtifactSettings
from server.domain.models import PrincipalKind
from server.embedded import free_port
from server.first_admin import ROUTER_GROUP, ROUTERS_POLICY, create_admin
from server.migrate import migrate
from server.store.db import asyncpg_dsn, create_engine
from tools.bundle import pack

HELLO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "bundles", "hello")
EDGE_SETTINGS = {
    "ROLLOUT_DRIVER": "local",
    "ROLLOUT_QUEUE_NAME": "rollout:bench-edge",
    "ROLLOUT_WARM_SECONDS": "3600",
    "ROLLOUT_DRAIN_GRACE_SECONDS": "0.2",
    "ROLLOUT_STOP_GRACE_SECONDS": "2",
    "ROLLOUT_SWEEP_SECONDS": "1",
    "ROLLOUT_POLL_DELAY": "0.001",
}
CONCURRENCY = 8


class Edge:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.database = ""
        self.router_port = free_port()
        self.floor_port = free_port()
        self.address = f"127.0.0.1:{free_port()}"
        self.stub: Any = None
        self.metadata: tuple[tuple[str, str], ...] = ()
        self.phases: dict[str, list[float]] = {}

    async def start(self) -> None:
        base = self.harness.env["ROLLOUT_DATABASE_URL"]
        conn = await asyncpg.connect(asyncpg_dsn(base))
        try:
            await conn.execute("CREATE DATABASE bench_edge")
        finally:
            await conn.close()
        self.database = base.rsplit("/", 1)[0] + "/bench_edge"
        self.data_dir = self.harness.workdir / "edge"
        artifacts = ArtifactSettings.from_env({"ROLLOUT_DATA_DIR": str(self.data_dir)})
        await asyncio.to_thread(migrate, self.database, artifacts)
        engine = create_engine(self.database, 1)
        try:
            admin = await create_admin(engine, ORGANIZATION)
            router = await create_admin(
                engine, ORGANIZATION, "router", kind=PrincipalKind.SERVICE, group=ROUTER_GROUP, policy=ROUTERS_POLICY
            )
        finally:
            await engine.dispose()
        env = {**EDGE_SETTINGS, "ROLLOUT_DATABASE_URL": self.database,
               "ROLLOUT_DATA_DIR": str(self.data_dir),
               "ROLLOUT_ROUTER_LISTEN": f"127.0.0.1:{self.router_port}"}
        self.harness._spawn("edge-server", [sys.executable, "-m", "server"], ROLLOUT_LISTEN=self.address, **env)
        self.harness._spawn("edge-worker", [sys.executable, "-m", "workers"], **env)
        self.harness._spawn("edge-router", [sys.executable, "-m", "router"], ROLLOUT_ROUTER_SERVER=self.address,
                            ROLLOUT_ROUTER_ORGANIZATION=ORGANIZATION, ROLLOUT_ROUTER_TOKEN=router, **env)
        self.harness._spawn("edge-floor", [sys.executable, "-m", "bench.edge_floor", str(self.floor_port),
                                           self.harness.env["ROLLOUT_REDIS_URL"]])
        await asyncio.to_thread(_wait_serving, self.address)
        self.channel = grpc.aio.insecure_channel(self.address)
        self.stub = api_grpc.RolloutServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.metadata = (("authorization", f"Bearer {admin}"),)

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.metadata)

    async def done(self, deployment_id: str) -> pb.Deployment:
        request = api.WatchDeploymentRequest(organization_id=ORGANIZATION, id=deployment_id)
        async for _ in self.stub.WatchDeployment(request, metadata=self.metadata):
            pass
        found: pb.Deployment = await self.call("GetDeployment", api.GetDeploymentRequest(organization_id=ORGANIZATION, id=deployment_id))
        if found.status != pb.Deployment.STATUS_COMPLETED:
            raise RuntimeError(f"deployment {deployment_id} ended {found.status}: {found.error}")
        return found

    async def deploy(self, instance_id: str) -> pb.Deployment:
        proposal = await self.call("ProposeDeployment", api.ProposeDeploymentRequest(organization_id=ORGANIZATION, instance_id=instance_id))
        await self.call("ApproveDeployment", api.ApproveDeploymentRequest(organization_id=ORGANIZATION, id=proposal.id))
        return await self.done(proposal.id)

    async def prepare(self) -> None:
        instance = await self.call("CreateInstance", api.CreateInstanceRequest(organization_id=ORGANIZATION, instance=pb.Instance(
            name="web", project="shop", environment="bench", bundle="hello", kind=pb.Instance.KIND_DYNAMIC, replicas=2)))
        self.instance_id = instance.id
        self.host = urlparse(instance.public_url).hostname or ""
        self.versions: list[pb.Deployment] = []
        for version in ("1.0.0", "2.0.0"):
            content = await asyncio.to_thread(pack, __import__("pathlib").Path(HELLO), version)
            await self.call("PublishRelease", api.PublishReleaseRequest(
                organization_id=ORGANIZATION, release=pb.Release(bundle="hello", version=version), artifact_content=content))
            self.versions.append(await self.deploy(instance.id))
        self.session = aiohttp.ClientSession()
        await self.until(f"http://127.0.0.1:{self.router_port}/", "from v2.0.0", {"Host": self.host})

    async def until(self, url: str, text: str, headers: dict[str, str] | None = None, limit: float = 60) -> float:
        """Poll until an answer holds `text`; when that answer arrived."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            try:
                async with self.session.get(url, headers=headers) as reply:
                    body = await reply.text()
                if text in body:
                    return time.perf_counter()
            except aiohttp.ClientError:
                pass
        raise RuntimeError(f"{url} never answered {text!r}")

    async def backends(self, version: str) -> list[int]:
        conn = await asyncpg.connect(asyncpg_dsn(self.database))
        try:
            rows = await conn.fetch(
                "SELECT r.port FROM runtime_instances r JOIN releases v ON v.id = r.release_id "
                "WHERE r.state = 'HEALTHY' AND v.version = $1 ORDER BY r.port", version)
        finally:
            await conn.close()
        return [r["port"] for r in rows]

    async def cold_down(self, version: str) -> None:
        """Drain the version's runtime instances now, and wait until they are stopped."""
        conn = await asyncpg.connect(asyncpg_dsn(self.database))
        try:
            await conn.execute(
                "UPDATE runtime_instances r SET drain_after = now() FROM releases v "
                "WHERE v.id = r.release_id AND v.version = $1 AND r.state = 'HEALTHY'", version)
            deadline = time.monotonic() + 60
            while await conn.fetchval(
                "SELECT count(*) FROM runtime_instances r JOIN releases v ON v.id = r.release_id "
                "WHERE v.version = $1 AND r.state IN ('HEALTHY', 'DRAINING')", version):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"v{version} did not drain")
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    async def switch(self, n: int, cold: bool) -> float:
        """One rollback to the other version; seconds from ApproveDeployment to its first answer at the edge."""
        target = self.versions[n % 2]
        if cold:
            await self.cold_down(target.version)
        proposal = await self.call("RollbackDeployment", api.RollbackDeploymentRequest(organization_id=ORGANIZATION, id=target.id))
        started = time.perf_counter()
        await self.call("ApproveDeployment", api.ApproveDeploymentRequest(organization_id=ORGANIZATION, id=proposal.id))
        seen = await self.until(f"http://127.0.0.1:{self.router_port}/", f"from v{target.version} ", {"Host": self.host})
        seen_wall = time.time()
        await self.done(proposal.id)
        await self._profile(proposal.id, seen_wall)
        return seen - started

    async def _profile(self, deployment_id: str, seen_wall: float) -> None:
        """Where a switch's time goes, from its events' times: approve → … → SWITCHED, then → seen at the edge."""
        request = api.WatchDeploymentRequest(organization_id=ORGANIZATION, id=deployment_id)
        times: dict[str, float] = {}
        async for event in self.stub.WatchDeployment(request, metadata=self.metadata):
            name = pb.DeploymentEvent.Type.Name(event.type).removeprefix("TYPE_")
            times.setdefault(name, event.create_time.ToDatetime().timestamp() + 0.0)
            if name == "PROGRESS" and "provisioned" in event.message:
                times["provision command done"] = event.create_time.ToDatetime().timestamp()
        times["seen at the edge"] = seen_wall
        order = ["APPROVED", "STARTED", "provision command done", "PROVISIONED", "SWITCHED", "seen at the edge"]
        steps = [name for name in order if name in times]
        for before, after in zip(steps, steps[1:], strict=False):
            self.phases.setdefault(f"{before} → {after}", []).append((times[after] - times[before]) * 1000)

    async def floor_switch(self, redis: Redis, n: int, ports: dict[str, list[int]]) -> float:
        version = ("1.0.0", "2.0.0")[n % 2]
        started = time.perf_counter()
        await redis.publish(BENCH_CHANNEL, f"127.0.0.1:{ports[version][0]}")
        return await self.until(f"http://127.0.0.1:{self.floor_port}/", f"from v{version} ") - started

    async def load(self, url: str | list[str], requests: int, headers: dict[str, str] | None = None) -> Result:
        urls = url if isinstance(url, list) else [url]
        latencies: list[float] = []
        counter = iter(range(requests))

        async def one_client() -> None:
            for i in counter:
                started = time.perf_counter()
                async with self.session.get(urls[i % len(urls)], headers=headers) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise RuntimeError(f"{reply.status} from {urls[i % len(urls)]}")
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))
        return summarize("", CONCURRENCY, latencies, time.perf_counter() - began)

    async def stop(self) -> None:
        if self.database:
            conn = await asyncpg.connect(asyncpg_dsn(self.database))
            try:
                pids = [r["pid"] for r in await conn.fetch("SELECT pid FROM runtime_instances WHERE pid > 0 AND state <> 'STOPPED'")]
            finally:
                await conn.close()
            for pid in pids:
                try:
                    os.killpg(pid, signal.SIGTERM)  # each runtime instance leads its own process group
                except ProcessLookupError:
                    pass
        if getattr(self, "session", None):
            await self.session.close()
        if getattr(self, "channel", None):
            await self.channel.close()


def _named(name: str, result: Result) -> Result:
    return Result(**{**result.as_dict(), "name": name})


async def measure_edge(harness: Harness, warm: int, cold: int, requests: int) -> tuple[list[Result], dict[str, Any]]:
    edge = Edge(harness)
    try:
        await edge.start()
        await edge.prepare()
        redis = Redis.from_url(harness.env["ROLLOUT_REDIS_URL"])
        ports = {v: await edge.backends(v) for v in ("1.0.0", "2.0.0")}
        floor_samples = [await edge.floor_switch(redis, n, ports) for n in range(max(warm, 5))]
        await redis.aclose()
        floor = summarize("floor: Redis publish → subscriber → proxy", 1, floor_samples, sum(floor_samples))
        warm_samples = [await edge.switch(n, cold=False) for n in range(warm)]
        profile = {name: sorted(ms)[len(ms) // 2] for name, ms in edge.phases.items()}
        cold_samples = [await edge.switch(n, cold=True) for n in range(cold)]
        results = [
            floor,
            compared(summarize("(f) rollback visible at the edge, warm", 1, warm_samples, sum(warm_samples)), floor),
            compared(summarize("(f) rollback visible at the edge, cold", 1, cold_samples, sum(cold_samples)), floor),
        ]
        active = (await edge.call("GetInstance", api.GetInstanceRequest(organization_id=ORGANIZATION, id=edge.instance_id)))
        version = next(d.version for d in edge.versions if d.bundle_release_id == active.bundle_release_id) \
            if active.bundle_release_id else edge.versions[(warm + cold - 1) % 2].version
        direct_ports = await edge.backends(version)
        direct = _named("floor: the 2 backends hit directly", await edge.load(
            [f"http://127.0.0.1:{p}/" for p in direct_ports], requests))
        routed = _named("(g) the same requests through the router", await edge.load(
            f"http://127.0.0.1:{edge.router_port}/", requests, {"Host": edge.host}))
        results += [direct, compared(routed, direct)]
        ratio = routed.per_second / direct.per_second if direct.per_second else 0.0
        return results, {"router_throughput_ratio": ratio, "warm_rollback_profile_ms": profile}
    finally:
        await edge.stop()
