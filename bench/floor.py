"""The floor: the simplest, fastest pipeline this stack allows, written plainly.

One gRPC unary call → one PostgreSQL transaction (plain asyncpg) → an arq job
→ one transaction that NOTIFYs → the event delivered on an already-open
server stream. No validation, no auth, no audit, no idempotency: what is left
is the cost of the parts themselves. For the fan-out row the job NOTIFYs as
many events as rollout's deployment streams, and each stream carries them all.

    python -m bench.floor server PORT      # gRPC server (Write, Watch)
    python -m bench.floor worker           # arq worker running floor_job
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func

from server import event_loop

CHANNEL = "floor_events"
QUEUE = "floor:queue"
WRITE = "/floor.Floor/Write"
WATCH = "/floor.Floor/Watch"


def _dsn() -> str:
    return os.environ["ROLLOUT_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)


async def serve(port: int) -> None:
    pool = await asyncpg.create_pool(_dsn(), min_size=4, max_size=20)
    await pool.execute("CREATE TABLE IF NOT EXISTS floor_items (id text PRIMARY KEY, state text NOT NULL)")
    redis = await create_pool(RedisSettings.from_dsn(os.environ["ROLLOUT_REDIS_URL"]))
    watchers: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)

    def dispatch(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
        # "<item>" (the one event) or "<item>:<n>/<count>" (one of several)
        for queue in watchers.get(str(payload).partition(":")[0], ()):
            queue.put_nowait(str(payload).encode())

    listener = await asyncpg.connect(_dsn())
    await listener.add_listener(CHANNEL, dispatch)

    async def write(request: bytes, context: Any) -> bytes:
        # First byte: b"J" also hands the item to a worker (b"J<count>:<item>": the job notifies <count>
        # events); b"T" is one transaction only.
        mode, rest = request[:1], request[1:].decode()
        count, _, item = rest.rpartition(":")
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO floor_items (id, state) VALUES ($1, 'new')", item)
        if mode == b"J":
            await redis.enqueue_job("floor_job", item, int(count or 1), _job_id=f"floor:{item}", _queue_name=QUEUE)
        return b"ok"

    async def watch(request: bytes, context: Any) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        key = request.decode()
        watchers[key].add(queue)
        try:
            yield b"open"
            while True:
                event = await queue.get()
                yield event
                n, _, count = event.partition(b":")[2].partition(b"/")
                if n == count:  # the last (or the only) one
                    break
        finally:
            watchers[key].discard(queue)

    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Write": grpc.unary_unary_rpc_method_handler(write),
        "Watch": grpc.unary_stream_rpc_method_handler(watch),
    }
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])  # several floor servers share the port
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("floor.Floor", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("floor server ready", flush=True)
    await server.wait_for_termination()


async def floor_job(ctx: dict[str, Any], item: str, count: int = 1) -> None:
    async with ctx["pool"].acquire() as conn, conn.transaction():
        await conn.execute("UPDATE floor_items SET state = 'done' WHERE id = $1", item)
        if count == 1:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, item)
        else:  # distinct payloads: PostgreSQL folds equal notifications of one transaction into one
            await conn.execute(
                "SELECT pg_notify($1, $2 || ':' || n || '/' || $3) FROM generate_series(1, $3::int) AS n",
                CHANNEL, item, count,
            )


async def _startup(ctx: dict[str, Any]) -> None:
    ctx["pool"] = await asyncpg.create_pool(_dsn(), min_size=2, max_size=10)


def work() -> None:
    Worker(
        functions=[func(floor_job, name="floor_job", keep_result=0)],
        redis_settings=RedisSettings.from_dsn(os.environ["ROLLOUT_REDIS_URL"]),
        queue_name=QUEUE,
        on_startup=_startup,
        poll_delay=float(os.environ.get("ROLLOUT_POLL_DELAY") or 0.005),
        keep_result=0,
        max_jobs=50,
        handle_signals=True,
    ).run()


if __name__ == "__main__":
    event_loop.install()  # the same loop as rollout's processes
    if sys.argv[1] == "server":
        asyncio.run(serve(int(sys.argv[2])))
    else:
        work()
