"""The first real flow: create → publish → propose → approve → a worker runs it to COMPLETED."""

from __future__ import annotations

from google.protobuf import struct_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, approve, create_instance, events, get, propose, publish

E = pb.DeploymentEvent
S = pb.Deployment


def test_propose_approve_runs_to_completed(stub: Stub, org: str) -> None:
    params = struct_pb2.Struct()
    params.update({"workers": 3, "md_metadata": {"stale": True}})
    instance = create_instance(stub, org, params=params, version_constraint="^1")
    publish(stub, org, "1.0.0")
    newest = publish(stub, org, "1.2.0")
    publish(stub, org, "2.0.0")  # outside ^1

    proposal = propose(stub, org, instance.id)
    assert proposal.status == S.STATUS_PROPOSED
    assert proposal.action == S.ACTION_PROVISION
    assert proposal.bundle_release_id == newest.id and proposal.version == "1.2.0"
    assert dict(proposal.params) == {"workers": 3.0}
    assert proposal.md_metadata["instance_name"] == "web"
    assert proposal.md_metadata["organization_id"] == org

    approved = approve(stub, org, proposal.id)
    assert approved.status == S.STATUS_PENDING
    assert approved.decided_by

    seen = events(stub, org, proposal.id)
    assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
    assert [e.type for e in seen] == [
        E.TYPE_PROPOSED, E.TYPE_APPROVED, E.TYPE_STARTED, E.TYPE_ARTIFACT_VERIFIED,
        E.TYPE_PROVISIONED, E.TYPE_SWITCHED, E.TYPE_COMPLETED,
    ]
    assert seen[-1].status == S.STATUS_COMPLETED

    assert get(stub, org, proposal.id).status == S.STATUS_COMPLETED
    listed = stub.ListDeployments(
        api.ListDeploymentsRequest(
            organization_id=org,
            instance_id=instance.id,
            filter="action = PROVISION AND status = COMPLETED",
            order_by="create_time desc",
        )
    )
    assert [d.id for d in listed.deployments] == [proposal.id]
    live = stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id))
    assert live.active_deployment_id == proposal.id
    assert live.route_generation == 1
    assert not live.pinned  # a normal proposal never moves the release pointer
