"""Two stacks (their own data folders, a server and a worker each) on one PostgreSQL, one Redis and one store.

Sharing an S3 store, they run each other's deployments and never see an
artifact as gone. With a folder store each, the second one refuses to start
and says why, instead of failing the first one's deployments with
ARTIFACT_GONE (what a user saw before, with `artifact_present: true`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from server.embedded import EmbeddedPostgres
from tests.auth import admin_token, as_principal
from tests.integration.databases import fresh_database
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    propose,
    publish,
    sql,
    upload,
    wait_done,
)
from tests.s3 import BUCKET, MotoServer
from tests.stack import Process, Stack

S = pb.Deployment
INSTANCES, RUNS_EACH = 10, 10  # 100 deployments


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of these tests' own: the session's workers run whatever their database holds."""
    with EmbeddedPostgres(tmp_path_factory.mktemp("two-stacks") / "pg", durable=False) as pg:
        yield pg


def _stacks(database_url: str, redis_url: str, workdir: Path) -> tuple[Stack, Stack]:
    (workdir / "one").mkdir()
    (workdir / "two").mkdir()
    return Stack(database_url, redis_url, workdir / "one"), Stack(database_url, redis_url, workdir / "two")


def _start_side_by_side(stacks: tuple[Stack, Stack], settings: dict[str, str]) -> tuple[list[str], list[Process]]:
    """Each stack's server and worker, started at once: each spends seconds importing before it listens."""
    with ThreadPoolExecutor(4) as pool:
        servers = [pool.submit(s.start_server, **settings) for s in stacks]
        workers = [pool.submit(s.start_worker, **settings) for s in stacks]
        return [f.result()[1] for f in servers], [f.result() for f in workers]


def _exit_code(process: Process) -> int:
    return process.popen.wait(timeout=60)


# 70-85 s measured on this 2-core machine while other suites loaded it (load average ~14); room above that.
@pytest.mark.timeout(300)
def test_two_stacks_sharing_an_s3_store_run_100_deployments_and_no_artifact_is_gone(
    own_postgres: EmbeddedPostgres, backends: tuple[str, str], moto: MotoServer, tmp_path: Path
) -> None:
    settings = {**moto.env(f"s3://{BUCKET}/two-stacks"), "ROLLOUT_QUEUE_NAME": "rollout:two-stacks-s3"}
    with fresh_database(own_postgres.url) as url:
        one, two = _stacks(url, backends[1], tmp_path)
        try:
            one.migrate(**settings)
            two.migrate(**settings)  # the same store: accepted, and no second installation
            addresses, workers = _start_side_by_side((one, two), settings)
            with grpc.insecure_channel(addresses[0]) as a, grpc.insecure_channel(addresses[1]) as b:
                token = admin_token(url, "acme")
                stubs = [as_principal(a, token), as_principal(b, token)]
                releases = [upload(stubs[0], "acme", "1.0.0", b"v1" * 300_000).id, publish(stubs[1], "acme", "2.0.0").id]
                ids = _propose_and_approve_everywhere(stubs, releases)
                ended = [wait_done(stubs[n % 2], "acme", i, timeout=300) for n, i in enumerate(ids)]
        finally:
            one.stop_all()
            two.stop_all()
        assert sql(url, "SELECT count(*) AS n FROM installation")[0]["n"] == 1
        started = [r["message"] for r in sql(url, "SELECT message FROM deployment_events WHERE type = 'STARTED'")]

    assert [d.error for d in ended if "ARTIFACT_GONE" in d.error] == []
    assert {d.status for d in ended} == {S.STATUS_COMPLETED}, {d.error for d in ended}
    assert {d.bundle_release_id for d in ended} == set(releases)
    # Each stack's worker ran deployments whose artifacts the other stack's server received.
    ran_by = {int(m) for m in re.findall(r"started on worker [^/\s]+/(\d+)", " ".join(started))}
    assert ran_by == {w.popen.pid for w in workers}, ran_by


def _propose_and_approve_everywhere(stubs: list[Stub], releases: list[str]) -> list[str]:
    """RUNS_EACH deployments of each instance, alternating releases, proposed on one server, approved on the
    other; the instances side by side (one client each), as several teams would."""

    def runs_of(i: int) -> list[str]:
        instance = create_instance(stubs[i % 2], "acme", name=f"web-{i}")
        ids = []
        for run in range(RUNS_EACH):
            proposal = propose(stubs[run % 2], "acme", instance.id, bundle_release_id=releases[run % 2])
            approve(stubs[(run + 1) % 2], "acme", proposal.id)
            ids.append(proposal.id)
        return ids

    with ThreadPoolExecutor(INSTANCES) as pool:
        return [i for ids in pool.map(runs_of, range(INSTANCES)) for i in ids]


def test_a_second_stack_with_a_folder_store_of_its_own_refuses_to_start_and_says_why(
    own_postgres: EmbeddedPostgres, backends: tuple[str, str], tmp_path: Path
) -> None:
    queue = {"ROLLOUT_QUEUE_NAME": "rollout:two-stacks-folders"}
    with fresh_database(own_postgres.url) as url:
        one, two = _stacks(url, backends[1], tmp_path)
        try:
            one.migrate(**queue)
            _, address = one.start_server(**queue)
            one.start_worker(**queue)
            (installation,) = sql(url, "SELECT id, artifact_store FROM installation")
            folders = [(s.workdir / "data" / "artifacts").as_uri() for s in (one, two)]
            expected = (
                f"this database was set up with artifact store {folders[0]} (installation {installation['id']}); "
                f"ROLLOUT_ARTIFACT_STORE points at {folders[1]}, where its marker is missing: "
                "point every server and worker at the same store"
            )

            server, worker = two.spawn("server", **queue), two.spawn("workers", **queue)
            migration = two.migrate(check=False, **queue)

            assert (_exit_code(server), _exit_code(worker), migration.returncode) == (1, 1, 1)
            assert expected in server.log.read_text() and expected in worker.log.read_text()
            assert expected in migration.stderr and "migration refused" in migration.stderr
            assert [dict(r) for r in sql(url, "SELECT id, artifact_store FROM installation")] == [dict(installation)]
            assert not (two.workdir / "data" / "artifacts" / "_rollout").exists()
            with grpc.insecure_channel(address) as channel:  # the first stack is untouched
                stub = as_principal(channel, admin_token(url, "acme"))
                publish(stub, "acme", "1.0.0")
                assert deploy(stub, "acme", create_instance(stub, "acme").id).status == S.STATUS_COMPLETED
        finally:
            one.stop_all()
            two.stop_all()
