"""WatchDeployment / WatchInstance: replay then tail; resuming misses nothing and repeats nothing."""

from __future__ import annotations

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, approve, create_instance, deploy, events, failure, propose, publish


def test_resuming_after_every_event_sees_each_exactly_once(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    full = events(stub, org, done.id)

    for k in range(len(full)):
        assert events(stub, org, done.id, after=k) == full[k:]
    assert full[-1].status == pb.Deployment.STATUS_COMPLETED


def test_live_watch_opened_before_approval_ends_after_the_terminal_event(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    stream = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=proposal.id), timeout=30)
    first = next(stream)
    assert (first.sequence, first.type) == (1, pb.DeploymentEvent.TYPE_PROPOSED)

    approve(stub, org, proposal.id)
    rest = list(stream)

    assert [e.sequence for e in rest] == list(range(2, len(rest) + 2))
    assert rest[-1].type == pb.DeploymentEvent.TYPE_COMPLETED


def test_watch_instance_resumes_by_instance_sequence(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first, second = deploy(stub, org, instance.id), deploy(stub, org, instance.id)
    request = api.WatchInstanceRequest(organization_id=org, id=instance.id)
    total = len(events(stub, org, first.id)) + len(events(stub, org, second.id))

    stream = stub.WatchInstance(request, timeout=30)
    seen = [next(stream) for _ in range(total)]
    stream.cancel()

    assert [e.instance_sequence for e in seen] == list(range(1, total + 1))
    assert [e.deployment_id for e in seen] == [first.id] * (total // 2) + [second.id] * (total // 2)
    resumed = stub.WatchInstance(
        api.WatchInstanceRequest(organization_id=org, id=instance.id, after_instance_sequence=total - 2), timeout=30
    )
    assert [next(resumed).instance_sequence for _ in range(2)] == [total - 1, total]
    resumed.cancel()


def test_watch_of_unknown_deployment_is_not_found(stub: Stub, org: str) -> None:
    f = failure(lambda: events(stub, org, "00000000-0000-4000-8000-000000000000"))
    assert f.code == grpc.StatusCode.NOT_FOUND
