"""The floor of (f): a plain Redis publish → subscriber → proxy switch, with nothing of rollout in between.

`python -m bench.edge_floor PORT REDIS_URL`: an aiohttp proxy that forwards
every request to one backend address, and switches to the address published
on BENCH_CHANNEL the moment the message arrives.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

BENCH_CHANNEL = "bench:edge-floor"


async def serve(port: int, redis_url: str) -> None:
    current = [""]
    session = aiohttp.ClientSession()

    async def proxy(request: web.Request) -> web.Response:
        if not current[0]:
            return web.Response(status=503, text="no backend yet\n")
        async with session.get(f"http://{current[0]}{request.rel_url}") as upstream:
            return web.Response(status=upstream.status, body=await upstream.read())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    redis = Redis.from_url(redis_url)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(BENCH_CHANNEL)
        print("edge floor listening", flush=True)
        async for message in pubsub.listen():
            if message["type"] == "message":
                current[0] = message["data"].decode()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))
