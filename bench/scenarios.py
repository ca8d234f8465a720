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
from bench.harness import ORGANIZATION, Harness, channels
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
        try:
            for i in range(warmup):
                await op(client, -1 - i)
        except BaseException:
            await ready.abort()  # the others stop waiting too
            raise
        await ready.wait()
        for i in range(iterations):
            latencies.append(await op(client, i))

    tasks = [asyncio.create_task(loop(c)) for c in range(clients)]
    await ready.wait()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return summarize(name, clients, latencies, time.perf_counter() - started)


class Floor:
    """The floor's calls; client n uses connection n, as rollout's clients do."""

    def __init__(self, address: str, clients: int) -> None:
        self.address = address
        self.channels = channels(address, clients)
        self.writes: list[Any] = [c.unary_unary(WRITE) for c in self.channels]
        self.watches: list[Any] = [c.unary_stream(WATCH) for c in self.channels]

    async def tx(self, client: int, _i: int) -> float:
        started = time.perf_counter()
        await self.writes[client](b"T" + uuid.uuid4().hex.encode())
        return time.perf_counter() - started

    async def pipeline(self, client: int, _i: int) -> float:
        key = uuid.uuid4().hex
        stream = self.watches[client](key.encode())
        assert await stream.read() == b"open"  # the stream is open before the write
        started = time.perf_counter()
        await self.writes[client](b"J" + key.encode())
        await stream.read()
        elapsed = time.perf_counter() - started
        stream.cancel()
        return elapsed

    async def fan_out(self, watchers: int, events: int = 1) -> float:
        """Seconds until `events` events (one job's) reached every one of `watchers` open streams."""
        key = uuid.uuid4().hex
        spread = channels(self.address, max(1, watchers // 100))
        watches: list[Any] = [c.unary_stream(WATCH) for c in spread]
        streams = [watches[n % len(watches)](key.encode()) for n in range(watchers)]
        for stream in streams:
            assert await stream.read() == b"open"

        async def all_events(stream: Any) -> None:
            for _ in range(events):
                assert await stream.read() is not grpc.aio.EOF

        started = time.perf_counter()
        await self.writes[0](b"J" + f"{events}:{key}".encode())
        await asyncio.gather(*(all_events(s) for s in streams))
        elapsed = time.perf_counter() - started
        for channel in spread:
            await channel.close()
        return elapsed


async def settle(conn: asyncpg.Connection, table: str) -> None:
    """The aftermath of a bulk insert done before the rows that measure the table: its vacuum (which
    autovacuum would otherwise start during them, on the same two cores), statistics, and the dirty
    pages written out. A list row then measures a table of that size, not the seeding."""
    await conn.execute(f"VACUUM (ANALYZE) {table}")
    await conn.execute("CHECKPOINT")


@dataclass
class Target:
    instance_id: str
    sources: tuple[str, str]  # two COMPLETED deployments (v1, v2) to roll back and forth between


class Product:
    """rollout's calls; client n uses connection n (`stubs[n]`), so several server processes share the load."""

    def __init__(self, harness: Harness, clients: int) -> None:
        self.channels = channels(harness.product, clients)
        self.stubs: list[Any] = [api_grpc.RolloutServiceStub(c) for c in self.channels]  # type: ignore[no-untyped-call]
        self.stub: Any = self.stubs[0]
        self.md = (("authorization", f"Bearer {harness.token}"),)
        self.org = ORGANIZATION
        self.targets: list[Target] = []
        self.history_id = ""
        # Set to a dict to collect where each full flow's time goes, step by step (ms).
        self.phases: dict[str, list[float]] | None = None

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
        target, stub = self.targets[client], self.stubs[client]
        started = time.perf_counter()
        await stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[i % 2]), metadata=self.md
        )
        return time.perf_counter() - started

    async def full_flow(self, client: int, i: int) -> float:
        """RollbackDeployment → ApproveDeployment → COMPLETED on a watch opened before approving."""
        target, stub = self.targets[client], self.stubs[client]
        started, wall = time.perf_counter(), time.time()
        marks = [("start", wall)]
        proposal = await stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[i % 2]), metadata=self.md
        )
        marks.append(("RollbackDeployment answered", time.time()))
        stream = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        first = await stream.read()
        assert first is not grpc.aio.EOF
        marks.append(("WatchDeployment's first event read", time.time()))
        await stub.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        marks.append(("ApproveDeployment answered", time.time()))
        while True:
            event = await stream.read()
            assert event is not grpc.aio.EOF
            # The event's time is its transaction's start (PostgreSQL's now()), on this machine's clock.
            marks.append((pb.DeploymentEvent.Type.Name(event.type).removeprefix("TYPE_") + " (its transaction began)",
                          event.create_time.ToDatetime().timestamp()))
            if event.status in TERMINAL:
                assert event.status == pb.Deployment.STATUS_COMPLETED, event
                break
        elapsed = time.perf_counter() - started
        marks.append(("COMPLETED read on the watch", wall + elapsed))
        if self.phases is not None:
            marks.sort(key=lambda mark: mark[1])  # an event's transaction may begin before its RPC answers
            for (before, t0), (after, t1) in zip(marks, marks[1:], strict=False):
                self.phases.setdefault(f"{before} → {after}", []).append((t1 - t0) * 1000)
        return elapsed

    async def replay(self, client: int, _i: int) -> float:
        target = self.targets[client]
        started = time.perf_counter()
        await self.stubs[client].RollbackDeployment(
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
            await settle(conn, "deployments")
            return self.history_id
        finally:
            await conn.close()

    def last_good(self, instance_id: str) -> Op:
        async def op(client: int, _i: int) -> float:
            started = time.perf_counter()
            response = await self.stubs[client].ListDeployments(api.ListDeploymentsRequest(
                organization_id=self.org, instance_id=instance_id, filter="action = PROVISION AND status = COMPLETED",
                order_by="create_time desc", page_size=5), metadata=self.md)
            assert len(response.deployments) == 5
            return time.perf_counter() - started
        return op

    async def fan_out(self, watchers: int, harness: Harness) -> tuple[float, float, int]:
        """Seconds until one deployment's terminal event reached every watcher, KiB of server memory per stream,
        and how many events each watcher read after the approval (the same for all)."""
        target = self.targets[0]
        proposal = await self.stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=self.org, id=target.sources[0]), metadata=self.md
        )
        before = harness.rss_kib()
        spread = channels(harness.product, max(1, watchers // 100))
        streams = [
            api_grpc.RolloutServiceStub(spread[n % len(spread)]).WatchDeployment(  # type: ignore[no-untyped-call]
                api.WatchDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
            for n in range(watchers)
        ]
        for stream in streams:
            assert await stream.read() is not grpc.aio.EOF
        per_stream = (harness.rss_kib() - before) / watchers

        async def until_terminal(stream: Any) -> int:
            read = 0
            while (event := await stream.read()) is not grpc.aio.EOF:
                read += 1
                if event.status in TERMINAL:
                    break
            return read

        started = time.perf_counter()
        await self.stub.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=self.org, id=proposal.id), metadata=self.md)
        counts = set(await asyncio.gather(*(until_terminal(s) for s in streams)))
        elapsed = time.perf_counter() - started
        for channel in spread:
            await channel.close()
        assert len(counts) == 1, counts  # every watcher saw every event
        return elapsed, per_stream, counts.pop()


OPENING = 200  # streams opened at a time: a burst of thousands at once has gRPC refuse some (CANCELLED)


async def open_streams(open_one: Callable[[int], Any], count: int, memory: Callable[[], int]) -> tuple[int, int]:
    """Opens `count` streams (each answered once), then (KiB of `memory` before, after); closes them."""
    before = memory()
    streams: list[Any] = []
    for first in range(0, count, OPENING):
        batch = [open_one(n) for n in range(first, min(count, first + OPENING))]
        for stream in batch:
            assert await stream.read() is not grpc.aio.EOF
        streams += batch
    after = memory()
    for stream in streams:
        stream.cancel()
    return before, after


async def product_streams(product: Product, harness: Harness, count: int) -> tuple[int, int]:
    """rollout's servers' memory with `count` WatchDeployment streams open on a PROPOSED deployment."""
    proposal = await product.stub.RollbackDeployment(
        api.RollbackDeploymentRequest(organization_id=product.org, id=product.targets[0].sources[0]), metadata=product.md
    )
    spread = channels(harness.product, max(1, count // 100))
    stubs = [api_grpc.RolloutServiceStub(c) for c in spread]  # type: ignore[no-untyped-call]
    request = api.WatchDeploymentRequest(organization_id=product.org, id=proposal.id)
    try:
        return await open_streams(
            lambda n: stubs[n % len(stubs)].WatchDeployment(request, metadata=product.md), count, harness.rss_kib)
    finally:
        await product.stub.RejectDeployment(
            api.RejectDeploymentRequest(organization_id=product.org, id=proposal.id, reason="bench"), metadata=product.md)
        for channel in spread:
            await channel.close()


async def floor_streams(harness: Harness, count: int) -> tuple[int, int]:
    """The floor servers' memory with `count` of their watch streams open."""
    spread = channels(harness.floor, max(1, count // 100))
    watches: list[Any] = [c.unary_stream(WATCH) for c in spread]
    key = uuid.uuid4().hex.encode()
    try:
        return await open_streams(
            lambda n: watches[n % len(watches)](key), count, lambda: harness.rss_kib(harness.floor_server_pids))
    finally:
        for channel in spread:
            await channel.close()


class Audit:
    """ListAuditEvents over a large log: records inserted directly, in an organization of their own."""

    def __init__(self, harness: Harness, product: Product) -> None:
        self.dsn = harness.dsn
        self.stubs = product.stubs
        self.org = harness.audit_organization
        self.md = (("authorization", f"Bearer {harness.audit_token}"),)
        self.seeded = 0

    async def seed(self, total: int) -> None:
        """Grows the log to `total` records, spread over 100 resources. The triggers are off while
        seeding (so the hash chain of these records is not a real one): sealing a million rows one by
        one would take minutes and is not what is measured."""
        conn = await asyncpg.connect(self.dsn)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                last = await conn.fetchval(
                    "SELECT coalesce(max(sequence), 0) FROM audit_events WHERE organization_id = $1", self.org)
                await conn.execute(
                    """
                    INSERT INTO audit_events (id, organization_id, sequence, create_time, actor, actor_kind, action,
                        resource, outcome, prev_hash, hash)
                    SELECT gen_random_uuid(), $1, $4 + g, now() - make_interval(secs => $3 - g),
                           'bench', 'user', 'deployment.propose', 'instances/seed-' || (g % 100), 'OK',
                           md5((g - 1)::text), md5(g::text)
                    FROM generate_series($2 + 1, $3) AS g
                    """,
                    self.org, self.seeded, total, last,
                )
            await settle(conn, "audit_events")
            self.seeded = total
        finally:
            await conn.close()

    def page(self, filter_text: str, expected: int) -> Op:
        """The newest page of (up to) 50, with `filter_text`: `expected` records."""
        async def op(client: int, _i: int) -> float:
            started = time.perf_counter()
            response = await self.stubs[client].ListAuditEvents(
                api.ListAuditEventsRequest(organization_id=self.org, filter=filter_text, page_size=50), metadata=self.md)
            assert len(response.audit_events) == expected, (filter_text, len(response.audit_events))
            return time.perf_counter() - started
        return op
