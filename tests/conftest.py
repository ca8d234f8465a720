"""Session-wide real services: one PostgreSQL, one Valkey, one server and two workers.

Tests isolate themselves by organization: every test gets a fresh
organization id, so no test sees another's rows and nothing needs wiping.
"""

from __future__ import annotations

import os

# The tests start PostgreSQL and server processes while other threads make gRPC calls; grpcio's
# fork handlers then hang or crash the child before it execs. Nothing here needs gRPC after a fork.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import itertools
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import settings

from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.embedded import EmbeddedPostgres, EmbeddedValkey
from server.migrate import upgrade
from tests.auth import admin_token, as_principal
from tests.integration.local_stack import LocalStack, local_stack
from tests.integration.stores import StoreStack, store_stack
from tests.s3 import BUCKET, MotoServer
from tests.stack import Stack

_counter = itertools.count()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# A SIGTERM (a CI timeout, `timeout`, a stopped job) unwinds like Ctrl-C, so every fixture's teardown
# still stops the servers, workers, PostgreSQL and Valkey it started: nothing is left running.
signal.signal(signal.SIGTERM, _interrupt)

# Property-based tests draw the same examples on every run (CI is reproducible), keep no example
# database, and never fail on timing.
settings.register_profile("rollout", derandomize=True, database=None, deadline=None, print_blob=False)
settings.load_profile("rollout")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres(tmp_path_factory.mktemp("backends") / "postgres", durable=False) as pg:
        upgrade(pg.url)
        yield pg


@pytest.fixture(scope="session")
def backends(postgres: EmbeddedPostgres) -> Iterator[tuple[str, str]]:
    with EmbeddedValkey() as valkey:
        yield postgres.url, valkey.url


@pytest.fixture(scope="session")
def session_stack(backends: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Processes on the session's database, whose artifact store is the folder <stack>/data/artifacts."""
    stack = Stack(backends[0], backends[1], tmp_path_factory.mktemp("stack"))
    stack.migrate()
    try:
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture()
def stack(session_stack: Stack) -> Iterator[Stack]:
    """The session's stack, for a test that starts servers or workers of its own: they are stopped when the
    test ends. Left running, an idle worker polls, sweeps and health-checks for the rest of the session (CPU
    every later test waits for), and one with settings of its own (a warm window of zero, a queue of its
    own) acts on every later test's rows in the session's database."""
    # Session fixtures are set up before function ones, so `address`'s processes are never among these.
    started = len(session_stack.processes)
    try:
        yield session_stack
    finally:
        session_stack.stop(session_stack.processes[started:])


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A real S3-compatible server (moto) on 127.0.0.1, with the bucket BUCKET."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def address(session_stack: Stack) -> str:
    _, address = session_stack.start_server()
    session_stack.start_worker()
    session_stack.start_worker()
    return address


@pytest.fixture(scope="session")
def local(backends: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A server and a worker with the local driver, on a database and data dir of their own."""
    with local_stack(backends[0], backends[1], tmp_path_factory.mktemp("local")) as started:
        yield started


@pytest.fixture()
def local_stub(local: LocalStack, org: str) -> Iterator[api_grpc.RolloutServiceStub]:
    """The local-driver stack's service, called as the test organization's admin there."""
    with grpc.insecure_channel(local.address) as channel:
        yield local.stub(channel, org)


@pytest.fixture(scope="session")
def channel(address: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(address) as channel:
        yield channel


@pytest.fixture(scope="session")
def file_stack(backends: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreStack]:
    """A server and a worker whose artifact store is a folder (server/artifacts), as `make run` has it."""
    with store_stack("file", *backends, tmp_path_factory.mktemp("file-stack")) as found:
        yield found


@pytest.fixture(scope="session")
def s3_stack(
    backends: tuple[str, str], moto: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreStack]:
    """A server and a worker whose artifact store is an S3 bucket (moto)."""
    with store_stack("s3", *backends, tmp_path_factory.mktemp("s3-stack"), moto) as found:
        yield found


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest) -> StoreStack:
    """Each of the two artifact stores in turn: for the tests that must hold on both."""
    found: StoreStack = request.getfixturevalue(f"{request.param}_stack")
    return found


@pytest.fixture()
def org() -> str:
    """A fresh organization per test: the unit of isolation."""
    return f"t{os.getpid() % 1000}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture()
def org_token(org: str, backends: tuple[str, str]) -> str:
    """A token of the organization's admin (bootstrapped like `make run` does)."""
    return admin_token(backends[0], org)


@pytest.fixture()
def stub(channel: grpc.Channel, org_token: str) -> api_grpc.RolloutServiceStub:
    """The service, called as the test organization's admin."""
    return as_principal(channel, org_token)


@pytest.fixture()
def other(channel: grpc.Channel, org: str, backends: tuple[str, str]) -> api_grpc.RolloutServiceStub:
    """The service, called as the admin of another organization, `<org>-other`."""
    return as_principal(channel, admin_token(backends[0], org + "-other"))


@pytest.fixture()
def artifact_file(tmp_path: Path) -> Path:
    path = tmp_path / "artifact.tgz"
    path.write_bytes(b"artifact")
    return path
