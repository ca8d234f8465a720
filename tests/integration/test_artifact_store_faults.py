"""An S3 store that cannot be reached is a backend fault: UNAVAILABLE, retried, never ARTIFACT_GONE, never a failed run.

The test pauses the S3 server (SIGSTOP): it still accepts connections and
answers nothing, so every request runs into its timeout, the hardest case. A
refused connection is checked too, against a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.artifacts import open_store
from server.config import ArtifactSettings
from server.embedded import free_port
from server.store.faults import is_transient
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    failure,
    get,
    propose,
    publish,
    upload,
    wait_done,
    wait_until,
)
from tests.integration.stores import StoreStack
from tests.s3 import BUCKET, CREDENTIALS, MotoServer
from tests.stack import wait_serving

S = pb.Deployment
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
# Longer than a request to a silent store takes to give up (ROLLOUT_ARTIFACT_STORE_TIMEOUT_SECONDS=2, retries).
DEADLINE = 60


@contextlib.contextmanager
def _paused(moto: MotoServer) -> Iterator[None]:
    moto.pause()
    try:
        yield
    finally:
        moto.resume()


def _calls_that_need_the_store(stub: Stub, org: str, past: pb.Deployment, release: pb.Release) -> dict[str, object]:
    return {
        "RollbackDeployment": lambda: stub.RollbackDeployment(
            api.RollbackDeploymentRequest(organization_id=org, id=past.id), timeout=DEADLINE
        ),
        "GetRelease": lambda: stub.GetRelease(api.GetReleaseRequest(organization_id=org, id=release.id), timeout=DEADLINE),
        "ListReleases": lambda: stub.ListReleases(api.ListReleasesRequest(organization_id=org), timeout=DEADLINE),
        "PublishRelease": lambda: publish(stub, org, "9.0.0"),
        "UploadRelease": lambda: upload(stub, org, "9.0.1", b"x" * (6 * 1024 * 1024)),
        "ProposeDeployment": lambda: propose(stub, org, past.instance_id),
    }


def test_a_silent_store_answers_unavailable_and_a_run_waits_for_it(s3_stack: StoreStack, org: str) -> None:
    assert s3_stack.moto is not None
    stub = s3_stack.stub(org)
    instance = create_instance(stub, org)
    v1 = upload(stub, org, "1.0.0", b"version one")
    first = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    waiting = propose(stub, org, instance.id, bundle_release_id=v1.id)
    log_before = len(s3_stack.worker.log.read_text(errors="replace"))

    with _paused(s3_stack.moto):
        for name, call in _calls_that_need_the_store(stub, org, first, v1).items():
            found = failure(call)  # type: ignore[arg-type]
            assert (found.code, found.reason) == (UNAVAILABLE, "BACKEND_UNAVAILABLE"), (name, found)
        approve(stub, org, waiting.id)  # approval itself needs no store; the run's claim does
        wait_until(
            lambda: f"backend fault claiming {waiting.id}" in s3_stack.worker.log.read_text(errors="replace")[log_before:],
            "the worker meeting the silent store",
            timeout=DEADLINE,
        )
        assert get(stub, org, waiting.id).status == S.STATUS_PENDING

    done = wait_done(stub, org, waiting.id)
    assert done.status == S.STATUS_COMPLETED, done
    assert stub.GetRelease(api.GetReleaseRequest(organization_id=org, id=v1.id)).artifact_present


def test_a_refused_connection_is_a_backend_fault_not_a_missing_object() -> None:
    settings = ArtifactSettings(
        f"s3://{BUCKET}/nowhere",
        endpoint=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
        access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        timeout_seconds=1,
    )

    async def check() -> None:
        await open_store(settings).exists("store://acme/builds/web.tgz")

    with pytest.raises(Exception) as raised:
        asyncio.run(check())
    assert is_transient(raised.value), repr(raised.value)


def test_processes_started_while_the_store_is_silent_wait_for_it_then_serve(s3_stack: StoreStack) -> None:
    assert s3_stack.moto is not None
    with _paused(s3_stack.moto):
        server, address = s3_stack.stack.start_server(wait=False, **s3_stack.env)
        worker = s3_stack.stack.start_worker(wait=False, **s3_stack.env)
        with grpc.insecure_channel(address) as channel:
            check = health_pb2_grpc.HealthStub(channel).Check
            reply = check(health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        wait_until(lambda: "cannot check the artifact store yet" in worker.log.read_text(errors="replace"),
                   "the worker waiting for the store", timeout=DEADLINE)
        assert server.alive() and worker.alive()
    try:
        wait_serving(address, server, timeout=DEADLINE)
        wait_until(lambda: "started on queue" in worker.log.read_text(errors="replace"), "the worker starting",
                   timeout=DEADLINE)
    finally:
        worker.stop()
        server.stop()
