"""The edge router in tests: a real `python -m router` process in front of a real local-driver stack.

`router_stack` gives a stack of its own (its own database, queue and data
dir, like tests/integration/local_stack.py) with a drain grace long enough
that a test can finish an in-flight request between DRAINING and the stop,
and starts routers against any server of it. Every process it started is
stopped by pid when it ends. The router tests share one for the session (the
`rs` fixture, tests/integration/conftest.py); each test has its own
organization, and stops the runtime instances it started.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from server.domain.models import PrincipalKind
from server.embedded import free_port
from server.first_admin import ROUTER_GROUP, ROUTERS_POLICY, create_admin
from server.store.db import create_engine
from tests.auth import admin_token, as_principal
from tests.integration.databases import fresh_database
from tests.integration.helpers import Stub, approve, create_instance, instance_of, publish, rollback, sql, wait_done
from tests.integration.local_stack import SETTINGS, recorded_processes
from tests.stack import Process, Stack
from tools.bundle import pack
from workers.drivers import local_processes

HELLO = Path(__file__).resolve().parents[2] / "examples" / "bundles" / "hello"

ROUTER_SETTINGS = {
    **SETTINGS,
    "ROLLOUT_QUEUE_NAME": "rollout:test-router",
    # Between DRAINING and the stop: a test finishes its in-flight request well within it.
    "ROLLOUT_DRAIN_GRACE_SECONDS": "20",
}


def router_token(database_url: str, organization_id: str) -> str:
    """A token of the organization's `router` SERVICE principal, allowed `instance:read` only (as `make run` makes)."""

    async def run() -> str:
        engine = create_engine(database_url, 1)
        try:
            return await create_admin(
                engine, organization_id, "router", kind=PrincipalKind.SERVICE, group=ROUTER_GROUP, policy=ROUTERS_POLICY
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dataclass
class Router:
    process: Process
    port: int

    def get(self, host: str, path: str = "/", timeout: float = 30) -> tuple[int, str]:
        """GET through the router with `Host: host`; (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            reply = conn.getresponse()
            return reply.status, reply.read().decode(errors="replace")
        finally:
            conn.close()

    def wait_for(self, host: str, expected: str, timeout: float = 30, status: int = 200) -> None:
        """Until a GET answers `status` with `expected` in the body (bounded)."""
        deadline = time.monotonic() + timeout
        seen: tuple[int, str] = (0, "")
        while time.monotonic() < deadline:
            seen = self.get(host)
            if seen[0] == status and expected in seen[1]:
                return
            time.sleep(0.02)
        raise AssertionError(f"the router never answered {expected!r} for {host}; last {seen}\n{self.process.log_tail()}")


def start_router(stack: Stack, server: str, organization_id: str, token: str, **overrides: str) -> Router:
    port = free_port()
    env = stack.env(
        ROLLOUT_ROUTER_LISTEN=f"127.0.0.1:{port}",
        ROLLOUT_ROUTER_SERVER=server,
        ROLLOUT_ROUTER_ORGANIZATION=organization_id,
        ROLLOUT_ROUTER_TOKEN=token,
        **overrides,
    )
    process = stack._spawn("router", "router", env)
    deadline = time.monotonic() + 30
    while "router listening" not in process.log.read_text(errors="replace"):
        if not process.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"router did not start:\n{process.log_tail()}")
        time.sleep(0.05)
    return Router(process, port)


@dataclass
class RouterStack:
    stack: Stack
    address: str

    @property
    def database_url(self) -> str:
        return self.stack.database_url


@contextmanager
def router_stack(session_database_url: str, redis_url: str, workdir: Path) -> Iterator[RouterStack]:
    with fresh_database(session_database_url) as url:
        stack = Stack(url, redis_url, workdir)
        stack.migrate()  # the schema, and the installation's marker in the stack's artifact store
        try:
            _, address = stack.start_server(**ROUTER_SETTINGS)
            stack.start_worker(**ROUTER_SETTINGS)
            yield RouterStack(stack, address)
        finally:
            stack.stop_all()
            for pid, started in recorded_processes(stack):
                if local_processes.alive(pid, started):
                    os.killpg(pid, signal.SIGKILL)


@pytest.fixture()
def stub(rs: RouterStack, org: str) -> Iterator[Stub]:
    """The router stack's service (in place of the session's), called as the test organization's admin."""
    with grpc.insecure_channel(rs.address) as channel:
        yield as_principal(channel, admin_token(rs.database_url, org))


def hello_release(stub: Stub, org: str, version: str, folder: Path = HELLO) -> pb.Release:
    return publish(stub, org, version, bundle="hello", artifact_content=pack(folder, version))


def dynamic(stub: Stub, org: str, name: str = "web", replicas: int = 2) -> pb.Instance:
    return create_instance(stub, org, name=name, bundle="hello", kind=pb.Instance.KIND_DYNAMIC, replicas=replicas)


def host_of(stub: Stub, org: str, instance_id: str) -> str:
    return urlparse(instance_of(stub, org, instance_id).public_url).hostname or ""


def switch(stub: Stub, org: str, source_id: str) -> pb.Deployment:
    """Roll back (or forward) to `source_id`'s deployment, approved and finished."""
    done = wait_done(stub, org, approve(stub, org, rollback(stub, org, source_id).id).id)
    assert done.status == pb.Deployment.STATUS_COMPLETED, done.error
    return done


def stop_instance_processes(rs: RouterStack, instance_id: str) -> None:
    for r in sql(rs.database_url, "SELECT pid, pid_start FROM runtime_instances WHERE instance_id = $1::uuid", instance_id):
        if r["pid"] and local_processes.alive(r["pid"], r["pid_start"]):
            local_processes.signal_group(r["pid"], signal.SIGKILL)
