"""The grpc.aio server: create_server() for tests and main(), serve() for the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc

from rollout.v1 import rollout_service_pb2
from server.api import convert, health, reflection
from server.api.handlers import generic_handler
from server.api.servicer import RolloutServicer
from server.app import gauges, installation
from server.app.context import Services
from server.config import Settings
from server.store.event_hub import EventHub
from server.store.faults import is_transient
from server.telemetry import metrics

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
ROLLOUT = rollout_service_pb2.DESCRIPTOR.services_by_name["RolloutService"]


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    services: Services
    health: health.HealthServicer
    hub: EventHub
    tasks: list[asyncio.Task[None]]
    # Fails with WrongStore if the artifact store, unreachable at start, turns out not to be the database's.
    refused: asyncio.Future[None]

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        # Open watch streams end with UNAVAILABLE first, so their clients reconnect elsewhere.
        await self.hub.close()
        await self.server.stop(grace)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.services.close()


async def create_server(settings: Settings) -> Running:
    """Builds and starts the server on settings.listen (port 0 picks a free port). WrongStore, before it
    listens, if it is not pointed at its database's artifact store."""
    services = await Services.open(settings)
    convert.use_public_domain(settings.public_domain)
    try:
        proven = await _proven(services)
    except BaseException:
        await services.close()
        raise
    hub = EventHub(settings.database_url)
    hub.start()
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 1 if settings.share_port else 0),
        ]
    )
    services_served = (ROLLOUT, health.SERVICE_DESCRIPTOR, reflection.SERVICE_DESCRIPTOR)
    health_servicer = health.HealthServicer(("", ROLLOUT.full_name))
    reflection_servicer = reflection.ReflectionServicer(
        [s.full_name for s in services_served], reflection.documented_files()
    )
    server.add_generic_rpc_handlers(
        (
            generic_handler(ROLLOUT, RolloutServicer(services, hub)),
            generic_handler(health.SERVICE_DESCRIPTOR, health_servicer),
            generic_handler(reflection.SERVICE_DESCRIPTOR, reflection_servicer),
        )
    )
    port = _listen(server, settings)
    if port == 0:
        raise SystemExit(f"rollout: cannot listen on {settings.listen}")
    await server.start()
    refused = asyncio.get_running_loop().create_future()
    tasks = [asyncio.create_task(_serving_once_proven(health_servicer, services, proven, refused))]
    if settings.metrics_listen:
        scrapes = await metrics.serve(settings.metrics_listen, metrics.Snapshot(lambda: gauges.read(services)))
        tasks.append(asyncio.create_task(_until_cancelled(scrapes)))
    return Running(server, port, services, health_servicer, hub, tasks, refused)


async def _proven(services: Services) -> bool:
    """Whether the store is proven now; False when the database or the store cannot be reached yet. Then
    the server starts all the same (NOT_SERVING, every call UNAVAILABLE) and proves it once they answer."""
    try:
        await installation.prove(services.reader, services.artifacts)
        return True
    except installation.WrongStore:
        raise
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("cannot check the artifact store yet (%s); starting NOT_SERVING", type(exc).__name__)
        return False


async def _serving_once_proven(
    servicer: health.HealthServicer, services: Services, proven: bool, refused: asyncio.Future[None]
) -> None:
    if not proven:
        try:
            await installation.prove_patiently(services.reader, services.artifacts)
        except installation.WrongStore as exc:
            refused.set_exception(exc)
            return
    await health.watch_backends(servicer, services)


async def _until_cancelled(listener: asyncio.Server) -> None:
    async with listener:
        await listener.serve_forever()


def _listen(server: grpc.aio.Server, settings: Settings) -> int:
    """Plaintext by default; TLS with a certificate and key; mutual TLS when a client CA is also given,
    in which case a client certificate whose common name is `<organization>/<principal name>`
    authenticates as that principal (server/api/guard.py)."""
    if not settings.tls_cert:
        return server.add_insecure_port(settings.listen)
    key = Path(settings.tls_key).read_bytes()
    cert = Path(settings.tls_cert).read_bytes()
    client_ca = Path(settings.tls_client_ca).read_bytes() if settings.tls_client_ca else None
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
    return server.add_secure_port(settings.listen, credentials)


async def serve(settings: Settings) -> None:
    running = await create_server(settings)
    host = settings.listen.rsplit(":", 1)[0]
    log.info("serving rollout.v1.RolloutService on %s:%d", host, running.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait((stopped, running.refused), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    log.info("shutting down (grace %.1fs)", settings.grace_seconds)
    await running.stop(settings.grace_seconds)
    if running.refused.done():
        running.refused.result()  # raises WrongStore: the process exits non-zero
