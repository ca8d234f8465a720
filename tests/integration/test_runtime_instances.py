"""DYNAMIC instances (docs/product.md §4 step 3): warm instances are reused, missing ones spawned, old ones drained later."""

from __future__ import annotations

import grpc
from google.protobuf import json_format

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.auth import as_principal
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    events,
    failure,
    instance_of,
    plan,
    publish_servable,
    rollback,
    set_params,
    wait_done,
    wait_until,
)
from tests.stack import Stack

R = pb.RuntimeInstance
E = pb.DeploymentEvent


def runtime(stub: Stub, org: str, instance_id: str, filter: str = "") -> list[pb.RuntimeInstance]:
    return list(
        stub.ListRuntimeInstances(
            api.ListRuntimeInstancesRequest(organization_id=org, instance_id=instance_id, filter=filter, page_size=100)
        ).runtime_instances
    )


def dynamic(stub: Stub, org: str, replicas: int = 3) -> pb.Instance:
    return create_instance(stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=replicas)


def progress(stub: Stub, org: str, deployment_id: str) -> list[tuple[int, int, str]]:
    return [
        (e.progress.done, e.progress.total, e.message)
        for e in events(stub, org, deployment_id)
        if e.type == E.TYPE_RUNTIME_PROGRESS
    ]


def test_first_deployment_spawns_replicas_and_waits_until_healthy(stub: Stub, org: str) -> None:
    instance = dynamic(stub, org)
    v1 = publish_servable(stub, org, "1.0.0")

    done = deploy(stub, org, instance.id)

    assert done.status == pb.Deployment.STATUS_COMPLETED
    steps = progress(stub, org, done.id)
    assert steps[0] == (0, 3, "runtime instances: 0 warm reused, 3 to spawn")
    assert [s[:2] for s in steps[1:]] == [(1, 3), (2, 3), (3, 3)]
    assert steps[-1][2] == "3 of 3 healthy"
    running = runtime(stub, org, instance.id)
    assert [(r.state, r.release_id, r.deployment_id) for r in running] == [(R.STATE_HEALTHY, v1.id, done.id)] * 3


def test_warm_rollback_spawns_nothing(stub: Stub, org: str) -> None:
    instance = dynamic(stub, org)
    v1 = publish_servable(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    v2 = publish_servable(stub, org, "1.1.0")
    second = deploy(stub, org, instance.id)
    old = runtime(stub, org, instance.id, f"release_id = {v1.id}")
    assert all(r.HasField("drain_time") for r in old)  # kept warm, scheduled to drain later

    proposal = rollback(stub, org, first.id)
    planned = json_format.MessageToDict(plan(stub, org, proposal.id).plan)
    assert planned["runtime_instances"] == {"replicas": 3, "reuse": 3, "spawn": 0, "drain": 3}
    approve(stub, org, proposal.id)
    assert wait_done(stub, org, proposal.id).status == pb.Deployment.STATUS_COMPLETED

    assert progress(stub, org, proposal.id) == [(3, 3, "runtime instances: 3 warm reused, 0 to spawn")]
    after = runtime(stub, org, instance.id)
    assert len(after) == 6  # nothing new was spawned
    assert all(not r.HasField("drain_time") for r in after if r.release_id == v1.id)
    assert all(r.HasField("drain_time") for r in after if r.release_id == v2.id)
    assert instance_of(stub, org, instance.id).active_deployment_id == proposal.id != second.id


def test_cold_rollback_spawns_and_waits_for_health(stack: Stack, org: str, org_token: str) -> None:
    # A worker whose warm window is zero: the sweeper drains the old release's instances at once.
    settings = {"ROLLOUT_QUEUE_NAME": f"rollout:test-cold:{org}", "ROLLOUT_WARM_SECONDS": "0"}
    _, address = stack.start_server(**settings)
    stack.start_worker(**settings)
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = dynamic(stub, org, replicas=2)
        v1 = publish_servable(stub, org, "1.0.0")
        first = deploy(stub, org, instance.id)
        publish_servable(stub, org, "1.1.0")
        deploy(stub, org, instance.id)
        # No event announces a drain; the sweeper runs every second.
        # DRAINING first (routers stop sending to them), STOPPED after ROLLOUT_DRAIN_GRACE_SECONDS.
        wait_until(lambda: len(runtime(stub, org, instance.id, "state = STOPPED")) == 2, "the drain of v1")
        assert not runtime(stub, org, instance.id, "state = HEALTHY AND release_id = " + v1.id)

        proposal = rollback(stub, org, first.id)
        approve(stub, org, proposal.id)
        assert wait_done(stub, org, proposal.id).status == pb.Deployment.STATUS_COMPLETED

        steps = progress(stub, org, proposal.id)
        assert steps[0] == (0, 2, "runtime instances: 0 warm reused, 2 to spawn")
        assert steps[-1] == (2, 2, "2 of 2 healthy")
        spawned = [r for r in runtime(stub, org, instance.id) if r.deployment_id == proposal.id]
        assert [(r.state, r.release_id) for r in spawned] == [(R.STATE_HEALTHY, v1.id)] * 2


def test_failing_health_check_fails_the_deployment_and_keeps_the_previous_one(stub: Stub, org: str) -> None:
    instance = dynamic(stub, org, replicas=2)
    publish_servable(stub, org, "1.0.0")
    good = deploy(stub, org, instance.id)
    publish_servable(stub, org, "1.1.0")
    set_params(stub, org, instance.id, {"rollout.simulate": {"fail": "health"}})

    bad = deploy(stub, org, instance.id)

    assert bad.status == pb.Deployment.STATUS_FAILED
    assert "failed its health check: simulated health failure" in bad.error
    assert events(stub, org, bad.id)[-1].type == E.TYPE_FAILED
    live = instance_of(stub, org, instance.id)
    assert (live.active_deployment_id, live.route_generation) == (good.id, 1)
    states = [r.state for r in runtime(stub, org, instance.id) if r.deployment_id == bad.id]
    # The run fails at the first failed health check; the other spawn may still be finishing.
    assert len(states) == 2 and R.STATE_FAILED in states and R.STATE_HEALTHY not in states


def test_list_runtime_instances_errors(stub: Stub, org: str) -> None:
    instance = dynamic(stub, org)
    bad_filter = failure(lambda: runtime(stub, org, instance.id, "state = SLEEPING"))
    assert (bad_filter.code, list(bad_filter.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["filter"])
    bad_id = failure(lambda: runtime(stub, org, instance.id, "release_id = v1"))
    assert bad_id.code == grpc.StatusCode.INVALID_ARGUMENT
    missing = failure(lambda: runtime(stub, org, "00000000-0000-4000-8000-000000000000"))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    assert runtime(stub, org, instance.id) == []
