"""Idempotency keys (docs/product.md §5): one change per key, replays marked, reuse refused, transient failures retryable."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.store.db import asyncpg_dsn
from tests.auth import as_principal
from tests.integration.helpers import Stub, create_instance, deploy, failure, propose, publish, sql_value, wait_until
from tests.stack import Stack


def replayed(call: grpc.CallFuture) -> bool:  # type: ignore[type-arg]
    return ("idempotent-replayed", "true") in (call.initial_metadata() or ())


def deployments_of(stub: Stub, org: str, instance_id: str) -> list[pb.Deployment]:
    return list(
        stub.ListDeployments(
            api.ListDeploymentsRequest(organization_id=org, instance_id=instance_id, page_size=1000)
        ).deployments
    )


def test_200_concurrent_identical_rollbacks_make_one_change(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    source = deploy(stub, org, instance.id)
    deploy(stub, org, instance.id)  # `source` becomes a past run
    before = len(deployments_of(stub, org, instance.id))
    request = api.RollbackDeploymentRequest(organization_id=org, id=source.id, request_id="incident-42-rollback")
    start = threading.Barrier(200)

    def call(_: int) -> tuple[bytes, bool]:
        start.wait()
        response, rpc = stub.RollbackDeployment.with_call(request, timeout=60)
        return response.SerializeToString(), replayed(rpc)

    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(call, range(200)))

    assert len({body for body, _ in results}) == 1  # 200 identical responses
    assert sorted(flag for _, flag in results) == [False] + [True] * 199
    after = deployments_of(stub, org, instance.id)
    assert len(after) == before + 1
    assert after[0].rollback_of.id == source.id


def test_same_key_with_another_request_is_refused_and_changes_nothing(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = propose(stub, org, instance.id, request_id="key-1", message="first")
    before = deployments_of(stub, org, instance.id)

    f = failure(lambda: propose(stub, org, instance.id, request_id="key-1", message="something else"))

    assert (f.code, f.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    assert deployments_of(stub, org, instance.id) == before
    again, rpc = stub.ProposeDeployment.with_call(
        api.ProposeDeploymentRequest(organization_id=org, instance_id=instance.id, request_id="key-1", message="first")
    )
    assert again == first and replayed(rpc)


def test_key_from_the_idempotency_key_header(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    request = api.ProposeDeploymentRequest(organization_id=org, instance_id=instance.id)
    metadata = (("idempotency-key", "header-key-7"),)

    first, rpc1 = stub.ProposeDeployment.with_call(request, metadata=metadata)
    second, rpc2 = stub.ProposeDeployment.with_call(request, metadata=metadata)

    assert first == second and not replayed(rpc1) and replayed(rpc2)
    assert len(deployments_of(stub, org, instance.id)) == 1
    bad = failure(lambda: stub.ProposeDeployment(request, metadata=(("idempotency-key", "has space"),)))
    assert (bad.code, list(bad.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["idempotency-key"])


def test_deterministic_error_is_replayed_for_the_key(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org, version_constraint="^2")
    request = api.ProposeDeploymentRequest(organization_id=org, instance_id=instance.id, request_id="retry-me")
    first = failure(lambda: stub.ProposeDeployment(request))
    assert first.reason == "NO_MATCHING_RELEASE"
    publish(stub, org, "2.0.0")  # a new request would succeed now …

    again = failure(lambda: stub.ProposeDeployment(request))  # … but this key's outcome is fixed

    assert (again.code, again.reason, again.message) == (first.code, first.reason, first.message)
    assert propose(stub, org, instance.id, request_id="a-new-key").version == "2.0.0"


@pytest.mark.parametrize("key", ["k" * 256, "tab\there", "ünïcode"])
def test_malformed_keys_are_invalid(stub: Stub, org: str, key: str) -> None:
    instance = pb.Instance(name="web", project="p", environment="e", bundle="web", kind=pb.Instance.KIND_STATIC)
    f = failure(lambda: stub.CreateInstance(api.CreateInstanceRequest(organization_id=org, request_id=key, instance=instance)))
    assert (f.code, list(f.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["request_id"])


def test_killed_database_connection_does_not_burn_the_key(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    request = api.ApproveDeploymentRequest(organization_id=org, id=proposal.id, request_id="approve-once")

    async def kill_mid_call() -> grpc.StatusCode:
        blocker = await asyncpg.connect(asyncpg_dsn(backends[0]))
        try:
            tx = blocker.transaction()
            await tx.start()
            # Hold the deployment's row lock so the server's approve waits inside its transaction.
            await blocker.execute("SELECT 1 FROM deployments WHERE id = $1::uuid FOR UPDATE", proposal.id)
            future = stub.ApproveDeployment.future(request, timeout=30)
            me = await blocker.fetchval("SELECT pg_backend_pid()")
            victim = None
            while victim is None:  # the server's connection, once it waits for our lock
                victim = await blocker.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", me
                )
                await asyncio.sleep(0.01)
            await blocker.execute("SELECT pg_terminate_backend($1)", victim)
            await tx.rollback()
            try:
                future.result()
            except grpc.RpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK
        finally:
            await blocker.close()

    assert asyncio.run(kill_mid_call()) == grpc.StatusCode.UNAVAILABLE

    approved, rpc = stub.ApproveDeployment.with_call(request)
    assert approved.status == pb.Deployment.STATUS_PENDING and not replayed(rpc)
    again, rpc = stub.ApproveDeployment.with_call(request)
    assert again == approved and replayed(rpc)


def test_purged_keys_run_again(stack: Stack, org: str, backends: tuple[str, str], org_token: str) -> None:
    settings = {"ROLLOUT_IDEMPOTENCY_RETENTION_SECONDS": "0.5", "ROLLOUT_QUEUE_NAME": f"rollout:purge:{org}"}
    _, address = stack.start_server(**settings)
    stack.start_worker(**settings)
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = create_instance(stub, org)
        publish(stub, org, "1.0.0")
        first = propose(stub, org, instance.id, request_id="short-lived")

        # The sweeper purges expired keys once a second; nothing announces it.
        query = "SELECT count(*) FROM idempotency_keys WHERE organization_id = $1 AND key = 'short-lived'"
        wait_until(lambda: sql_value(backends[0], query, org) == 0, "the key's purge")
        second = propose(stub, org, instance.id, request_id="short-lived")

    assert second.id != first.id
