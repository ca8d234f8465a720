"""What is measured: the floor's pipeline and rollout's RPCs, each timed from the client's side."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc

from bench.floor import WATCH, WRITE
from bench.harness import ORGANIZATION, Harness
from bench.stats import Result, summarize
from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc

TERMINAL = {pb.Deployment.STATUS_COMPLETED, pb.Deployment.STATUS_FAILED, pb.Deployment.STATUS_REJECTED}
Op = Callable[[int, int], Awaitable[float]]  # (client, iteration) -> seconds


async def measure(name: str, clients: int, iterations: int, warmup: int, op: Op) -> Result:
    """`clients` concurrent loops of `op`: all warm up, then all start the measured iterations together."""
    latencies: list[float] = []
    ready = asyncio.Barrier(clients + 1)

    async def loop(client: int) -> None:
        for i in range(warmup):
            await op(client, -1 - i)
        await ready.wait()
        for i in range(iterations):
            latencies.append(await op(client, i))

    tasks = [asyncio.create_task(loop(c)) for c in range(clients)]
    await ready.wait()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return summarize(name, clients, latencies, time.perf_counter() - started)


class Floor:
    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.write: Any = self.channel.unary_unary(WRITE)
        self.watch: Any = self.channel.unary_stream(WATCH)

    async def tx(self, _client: int, _i: int) -> float:
        started = time.perf_counter()
        await self.write(b"T" + uuid.uuid4().hex.encode())
        return time.perf_counter() - started

    async def pipeline(self, _client: int, _i: int) -> float:
        key = uuid.uuid4().hex
        stream = self.watch(key.encode())
        assert await stream.read() == b"open"  # the stream is open before the write
        started = time.perf_counter()
        await self.write(b"J" + key.encode())
        await stream.read()
        elapsed = time.perf_counter() - started
        stream.cancel()
        return elapsed

    async def fan_out(self, watchers: int) -> float:
        key = uuid.uuid4().hex
        streams = [self.watch(key.encode()) for _ in range(watchers)]
        for stream in streams:
            assert await stream.read() == b"open"
        started = time.perf_counter()
        await self.write(b"J" + key.encode())
        await asyncio.gather(*(s.read() for s in streams))
        return time.perf_counter() - started


@dataclass
class Target:
    instance_id: str
    sources: tuple[str, str]  # two COMPLETED deployments (v1, v2) to roll back and forth between


class Product:
    def __init__(self, harness: Harness) -> None:
        self.channel = grpc.aio.insecure_channel(harness.product)
        self.stub: Any = api_grpc.RolloutServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.md = (("authorization", f"Bearer {harness.token}"),)
        self.org = ORGANIZATION
        self.targets: list[Target] = []
        self.history_id = ""

    async def _until_done(self, deployment_id: str) -> None:
        stream = self.stub.WatchDeployment(
            api.WatchDeploymentRequest(organization_id=self.org, id=deployment_id), metadata=self.md
        )
        async for event in stream:
            if event.status in TERMINAL:
                return

    async def _deploy(self, instance_id: str, release_id: str) -> str:
        proposal = await self.stub.ProposeDeployment(
            api.ProposeDeploymentRequest(organization_id=self.org, instance_id=instance_id, bundle_release_id=release_id),
            metadata=self.md,
        )
        await self.stub.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        await self._until_done(proposal.id)
        return str(proposal.id)

    async def prepare(self, instances: int) -> None:
        """Instances that each have two past completed deployments, v1 and v2 (a third one is active:
        a rollback to the active deployment would change nothing and is refused)."""
        releases = []
        for version in ("1.0.0", "2.0.0"):
            releases.append(await self.stub.PublishRelease(api.PublishReleaseRequest(
                organization_id=self.org, release=pb.Release(bundle="web", version=version), artifact_content=b"x"),
                metadata=self.md))

        async def one(i: int) -> Target:
            instance = await self.stub.CreateInstance(api.CreateInstanceRequest(organization_id=self.org, instance=pb.Instance(
                name=f"app-{i}", project="bench", environment="production", bundle="web", kind=pb.Instance.KIND_STATIC)),
                metadata=self.md)
            first = await self._deploy(instance.id, releases[0].id)
            second = await self._deploy(instance.id, releases[1].id)
            await self._deploy(instance.id, releases[1].id)
            return Target(instance.id, (first, second))

        self.targets = list(await asyncio.gather(*(one(i) for i in range(instances))))

    async def rollback(self, client: int, i: int) -> float:
        target = self.targets[client]
        started = time.perf_counter()
        await self.stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[i % 2]), metadata=self.md
        )
        return time.perf_counter() - started

    async def full_flow(self, client: int, i: int) -> float:
        """RollbackDeployment → ApproveDeployment → COMPLETED on a watch opened before approving."""
        target = self.targets[client]
        started = time.perf_counter()
        proposal = await self.stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[i % 2]), metadata=self.md
        )
        stream = self.stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        first = await stream.read()
        assert first is not grpc.aio.EOF
        await self.stub.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        while True:
            event = await stream.read()
            assert event is not grpc.aio.EOF
            if event.status in TERMINAL:
                assert event.status == pb.Deployment.STATUS_COMPLETED, event
                break
        return time.perf_counter() - started

    async def replay(self, client: int, _i: int) -> float:
        target = self.targets[client]
        started = time.perf_counter()
        await self.stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[0], request_id=f"replay-{client}"),
            metadata=self.md,
        )
        return time.perf_counter() - started

    async def seed_history(self, database_url: str, rows: int) -> str:
        """An instance with `rows` more past deployments, inserted directly (the same instance on every call)."""
        target = self.targets[0]
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            release_id = await conn.fetchval(
                "SELECT bundle_release_id FROM deployments WHERE id = $1::uuid", target.sources[0]
            )
            if not self.history_id:
                instance = await self.stub.CreateInstance(api.CreateInstanceRequest(organization_id=self.org, instance=pb.Instance(
                    name="history", project="bench", environment="production", bundle="web", kind=pb.Instance.KIND_STATIC)),
                    metadata=self.md)
                self.history_id = instance.id
            await conn.execute(
                """
                INSERT INTO deployments (id, organization_id, instance_id, action, status, params, md_metadata,
                    connection_params, bundle_release_id, version, release_channel, message, proposed_by,
                    create_time, update_time)
                SELECT gen_random_uuid(), $1, $2::uuid,
                       CASE WHEN g % 10 = 0 THEN 'DECOMMISSION' ELSE 'PROVISION' END,
                       (ARRAY['COMPLETED', 'FAILED', 'REJECTED', 'COMPLETED', 'COMPLETED'])[1 + g % 5],
                       '{"workers": 4}'::jsonb, '{}'::jsonb, '{}'::jsonb, $3::uuid, '1.0.0', 'stable', 'seed', 'bench',
                       now() - make_interval(secs => g), now() - make_interval(secs => g)
                FROM generate_series(1, $4) AS g
                """,
                self.org, self.history_id, release_id, rows,
            )
            await conn.execute("ANALYZE deployments")
            return self.history_id
        finally:
            await conn.close()

    def last_good(self, instance_id: str) -> Op:
        async def op(_client: int, _i: int) -> float:
            started = time.perf_counter()
            response = await self.stub.ListDeployments(api.ListDeploymentsRequest(
                organization_id=self.org, instance_id=instance_id, filter="action = PROVISION AND status = COMPLETED",
                order_by="create_time desc", page_size=5), metadata=self.md)
            assert len(response.deployments) == 5
            return time.perf_counter() - started
        return op

    async def fan_out(self, watchers: int, harness: Harness) -> tuple[float, float]:
        """Seconds until one deployment's terminal event reached every watcher, and KiB of server memory per stream."""
        target = self.targets[0]
        proposal = await self.stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[0]), metadata=self.md
        )
        before = harness.rss_kib()
        channels = [grpc.aio.insecure_channel(harness.product) for _ in range(max(1, watchers // 100))]
        streams = [
            api_grpc.RolloutServiceStub(channels[n % len(channels)]).WatchDeployment(  # type: ignore[no-untyped-call]
                api.WatchDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
            for n in range(watchers)
        ]
        for stream in streams:
            assert await stream.read() is not grpc.aio.EOF
        per_stream = (harness.rss_kib() - before) / watchers

        async def until_terminal(stream: Any) -> None:
            while (event := await stream.read()) is not grpc.aio.EOF and event.status not in TERMINAL:
                pass

        started = time.perf_counter()
        await self.stub.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        await asyncio.gather(*(until_terminal(s) for s in streams))
        elapsed = time.perf_counter() - started
        for channel in channels:
            await channel.close()
        return elapsed, per_stream
