"""The HTTP side: find the route by Host, then proxy (DYNAMIC) or serve files (STATIC).

Answers of the router itself are short plain text, so a `curl` says what is
wrong: 404 for a host no instance is served at, 503 when the routes are not
loaded yet, nothing is deployed or no runtime instance is HEALTHY, 502 when
the backends did not answer, 504 when one was too slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from router.config import RouterSettings
from router.feed import Feed
from router.static import StaticFiles
from router.table import RouteTable
from server.artifacts import ArtifactStore
from server.domain.models import Kind
from server.domain.routes import Backend, Route

log = logging.getLogger(__name__)

# Not forwarded either way (RFC 9110 §7.6.1), and Host is rebuilt by the client for the backend.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    )
)
# Requests whose repeat changes nothing: after a backend dropped the connection they go to another one.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers up to this size are read whole, then sent (faster than streaming small bodies).
BUFFERED_LIMIT = 256 * 1024

TABLE: web.AppKey[RouteTable] = web.AppKey("table", RouteTable)
FEED: web.AppKey[Feed] = web.AppKey("feed", Feed)


def host_of(header: str) -> str:
    """The Host header without its port, lowercased: `Web.Shop.localhost:8080` → `web.shop.localhost`."""
    name = header.rsplit("]", 1)[0] + "]" if header.startswith("[") else header.partition(":")[0]
    return name.lower().rstrip(".")


def plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers={"Cache-Control": "no-store"})


class Proxy:
    def __init__(self, settings: RouterSettings, table: RouteTable, static: StaticFiles) -> None:
        self.settings, self.table, self.static = settings, table, static
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=self.settings.upstream_timeout_seconds, sock_connect=self.settings.connect_timeout_seconds)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def on_routes(self, routes: list[Route]) -> None:
        """A STATIC release is fetched as soon as a route names it, so the switch finds it ready."""
        for route in routes:
            if route.kind is Kind.STATIC and route.release_id and route.artifact_uri:
                task = self.static.folder(route.release_id, route.artifact_uri)
                task.add_done_callback(_quiet)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = host_of(request.host or "")
        if not self.table.loaded:
            return plain(503, "routes not loaded yet; the router is connecting to the control plane")
        route = self.table.lookup(host)
        if route is None:
            return plain(404, f"no instance is served at {host or 'this host'}")
        if not route.release_id:
            return plain(503, f"{host} has nothing deployed")
        if route.kind is Kind.STATIC:
            return await self._static(request, route)
        return await self._proxy(request, route, host)

    async def _static(self, request: web.Request, route: Route) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return plain(405, "static files answer GET and HEAD only")
        try:
            folder = await asyncio.shield(self.static.folder(route.release_id, route.artifact_uri))
        except FileNotFoundError:
            return plain(503, f"the artifact of release {route.version} is gone from the artifact store")
        except OSError as exc:
            log.warning("router: fetching release %s failed: %s", route.release_id, exc)
            return plain(503, "the artifact store could not be read; try again")
        found = self.static.file(folder, request.path)
        if found is None:
            return plain(404, f"no file {request.path} in release {route.version}")
        return web.FileResponse(found, headers={"Content-Type": self.static.content_type(found), "X-Rollout-Version": route.version})

    async def _proxy(self, request: web.Request, route: Route, host: str) -> web.StreamResponse:
        backends = self.table.backends(route, time.monotonic())
        if not backends:
            return plain(503, f"no healthy runtime instance of {host} (v{route.version})")
        body = await request.read() if request.body_exists else None
        last: Exception | None = None
        for backend in backends[:2]:  # the first, and once more on another
            try:
                return await self._forward(request, backend, body)
            except aiohttp.ClientConnectorError as exc:  # nothing was sent: any request may go elsewhere
                self.table.refused(backend, time.monotonic() + self.settings.down_seconds)
                last = exc
            except TimeoutError:  # before the connection errors: aiohttp's read timeout is one of them too
                return plain(504, f"the runtime instance of {host} did not answer in time")
            except aiohttp.ClientConnectionError as exc:
                # The connection broke once the request was (perhaps partly) sent: disconnected, reset, or a
                # pooled keep-alive connection the dead backend had closed ("Cannot write to closing transport").
                self.table.refused(backend, time.monotonic() + self.settings.down_seconds)
                last = exc
                if request.method not in IDEMPOTENT:
                    break
        log.warning("router: no backend of %s answered: %s", host, last)
        return plain(502, f"no runtime instance of {host} answered")

    async def _forward(self, request: web.Request, backend: Backend, body: bytes | None) -> web.StreamResponse:
        assert self.session is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        peer = request.remote or ""
        headers += [("X-Forwarded-For", peer), ("X-Forwarded-Proto", request.scheme), ("X-Forwarded-Host", request.host)]
        url = f"http://{backend.address}{request.rel_url}"
        async with self.session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False, skip_auto_headers=("User-Agent",)
        ) as upstream:
            self.table.answered(backend)
            out_headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]
            size = upstream.content_length
            if size is not None and size <= BUFFERED_LIMIT:
                data = await upstream.read()
                response = web.Response(status=upstream.status, reason=upstream.reason, body=data)
                for k, v in out_headers:
                    if k.lower() != "content-length":
                        response.headers.add(k, v)
                return response
            streamed = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in out_headers:
                streamed.headers.add(k, v)
            await streamed.prepare(request)
            async for chunk in upstream.content.iter_any():
                await streamed.write(chunk)
            await streamed.write_eof()
            return streamed


def _quiet(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("router: prefetching a static release failed: %s", task.exception())


def create_app(settings: RouterSettings, store: ArtifactStore) -> web.Application:
    """The application: its route feed and client session start and stop with it."""
    table = RouteTable()
    proxy = Proxy(settings, table, StaticFiles(store, settings.cache_dir))
    feed = Feed(settings, table, proxy.on_routes)
    app = web.Application(handler_args={"max_field_size": 16 * 1024})
    app[TABLE], app[FEED] = table, feed
    app.router.add_route("*", "/{tail:.*}", proxy.handle)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await proxy.start()
        following = asyncio.create_task(feed.forever())
        yield
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await proxy.close()

    app.cleanup_ctx.append(lifecycle)
    return app
