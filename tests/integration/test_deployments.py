"""ProposeDeployment, ApproveDeployment, RejectDeployment, GetDeployment, ListDeployments, DecommissionInstance."""

from __future__ import annotations

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    events,
    failure,
    get,
    propose,
    publish,
    set_params,
    wait_done,
)

S = pb.Deployment
MISSING = "00000000-0000-4000-8000-000000000000"


def test_propose_resolves_newest_ready_release_in_constraint_and_channel(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org, version_constraint="~1.2")
    publish(stub, org, "1.2.0")
    wanted = publish(stub, org, "1.2.5")
    publish(stub, org, "1.3.0")
    publish(stub, org, "1.2.9", release_channel="beta")
    publish(stub, org, "1.2.7", state=pb.Release.STATE_FAILED)
    archived = publish(stub, org, "1.2.8")
    stub.ArchiveRelease(api.ArchiveReleaseRequest(organization_id=org, id=archived.id))
    publish(stub, org, "1.2.6", bundle="other")

    proposal = propose(stub, org, instance.id)

    assert (proposal.bundle_release_id, proposal.version, proposal.release_channel) == (wanted.id, "1.2.5", "stable")


def test_propose_skips_releases_whose_artifact_is_gone(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    kept = publish(stub, org, "1.0.0")
    gone = publish(stub, org, "1.1.0")
    stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=gone.id))

    assert propose(stub, org, instance.id).bundle_release_id == kept.id


def test_propose_without_matching_release_is_failed_precondition(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org, version_constraint="^2")
    publish(stub, org, "1.0.0")

    f = failure(lambda: propose(stub, org, instance.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_MATCHING_RELEASE")
    listed = stub.ListDeployments(api.ListDeploymentsRequest(organization_id=org, instance_id=instance.id))
    assert not listed.deployments


def test_explicit_release_is_one_shot_and_keeps_the_pointer(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    old = publish(stub, org, "1.0.0")
    publish(stub, org, "1.1.0")

    done = deploy(stub, org, instance.id, bundle_release_id=old.id)

    assert (done.status, done.version) == (S.STATUS_COMPLETED, "1.0.0")
    live = stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id))
    assert (live.pinned, live.bundle_release_id, live.active_deployment_id) == (False, "", done.id)
    assert propose(stub, org, instance.id).version == "1.1.0"


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("other_bundle", "RELEASE_BUNDLE_MISMATCH"),
        ("failed", "RELEASE_NOT_READY"),
        ("artifact_deleted", "ARTIFACT_GONE"),
    ],
)
def test_explicit_release_must_be_deployable(stub: Stub, org: str, setup: str, reason: str) -> None:
    instance = create_instance(stub, org)
    if setup == "other_bundle":
        release = publish(stub, org, "1.0.0", bundle="db")
    elif setup == "failed":
        release = publish(stub, org, "1.0.0", state=pb.Release.STATE_FAILED)
    else:
        release = publish(stub, org, "1.0.0")
        stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=release.id))

    f = failure(lambda: propose(stub, org, instance.id, bundle_release_id=release.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, reason)


def test_explicit_archived_release_may_be_deployed(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    release = publish(stub, org, "1.0.0")
    stub.ArchiveRelease(api.ArchiveReleaseRequest(organization_id=org, id=release.id))

    assert propose(stub, org, instance.id, bundle_release_id=release.id).version == "1.0.0"


def test_propose_unknown_instance_or_release_is_not_found(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    assert failure(lambda: propose(stub, org, MISSING)).code == grpc.StatusCode.NOT_FOUND
    f = failure(lambda: propose(stub, org, instance.id, bundle_release_id=MISSING))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_other_organizations_deployments_are_not_found(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    other = org + "-b"

    for call in (
        lambda: stub.GetDeployment(api.GetDeploymentRequest(organization_id=other, id=proposal.id)),
        lambda: approve(stub, other, proposal.id),
        lambda: stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=other, id=proposal.id)),
        lambda: propose(stub, other, instance.id),
        lambda: stub.ListDeployments(api.ListDeploymentsRequest(organization_id=other, instance_id=instance.id)),
        lambda: events(stub, other, proposal.id),
    ):
        assert failure(call).code == grpc.StatusCode.NOT_FOUND
    assert get(stub, org, proposal.id).status == S.STATUS_PROPOSED


def test_approve_only_a_proposed_deployment(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)

    f = failure(lambda: approve(stub, org, done.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "DEPLOYMENT_NOT_PROPOSED")
    assert "COMPLETED" in f.message
    assert failure(lambda: approve(stub, org, MISSING)).code == grpc.StatusCode.NOT_FOUND


def test_reject_ends_the_proposal_and_leaves_the_instance_untouched(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)

    rejected = stub.RejectDeployment(
        api.RejectDeploymentRequest(organization_id=org, id=proposal.id, reason="wrong window")
    )

    assert (rejected.status, rejected.reject_reason) == (S.STATUS_REJECTED, "wrong window")
    assert rejected.decided_by and rejected.HasField("decide_time")
    assert [e.type for e in events(stub, org, proposal.id)][-1] == pb.DeploymentEvent.TYPE_REJECTED
    live = stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id))
    assert (live.active_deployment_id, live.route_generation) == ("", 0)
    for call in (
        lambda: approve(stub, org, proposal.id),
        lambda: stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=proposal.id)),
    ):
        f = failure(call)
        assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "DEPLOYMENT_NOT_PROPOSED")


def test_list_deployments_last_good_filter_order_and_pages(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    completed = [deploy(stub, org, instance.id).id for _ in range(3)]
    set_params(stub, org, instance.id, {"rollout.simulate": {"fail": "provision"}})
    failed = deploy(stub, org, instance.id)
    assert failed.status == S.STATUS_FAILED
    proposal = propose(stub, org, instance.id)
    stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=proposal.id))

    def page(token: str = "", **kw: str | int) -> api.ListDeploymentsResponse:
        return stub.ListDeployments(
            api.ListDeploymentsRequest(organization_id=org, instance_id=instance.id, page_token=token, **kw)  # type: ignore[arg-type]
        )

    good = page(filter="action = PROVISION AND status = COMPLETED", order_by="create_time desc")
    assert [d.id for d in good.deployments] == list(reversed(completed))
    prefixed = page(filter="action = ACTION_PROVISION AND status = STATUS_REJECTED")
    assert [d.id for d in prefixed.deployments] == [proposal.id]

    ascending, token = [], ""
    while True:
        response = page(token, order_by="create_time asc", page_size=2)
        ascending += [d.id for d in response.deployments]
        token = response.next_page_token
        if not token:
            break
    assert ascending == completed + [failed.id, proposal.id]


@pytest.mark.parametrize(
    ("fields", "violation"),
    [
        ({"filter": "status = DONE"}, "filter"),
        ({"filter": "colour = red"}, "filter"),
        ({"filter": "status ~ COMPLETED"}, "filter"),
        ({"order_by": "version desc"}, "order_by"),
        ({"page_size": -1}, "page_size"),
        ({"page_size": 100000}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
    ],
)
def test_list_deployments_bad_arguments(stub: Stub, org: str, fields: dict[str, object], violation: str) -> None:
    instance = create_instance(stub, org)

    f = failure(
        lambda: stub.ListDeployments(
            api.ListDeploymentsRequest(organization_id=org, instance_id=instance.id, **fields)  # type: ignore[arg-type]
        )
    )

    assert f.code == grpc.StatusCode.INVALID_ARGUMENT
    assert violation in f.violations


def test_page_token_of_another_query_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    for _ in range(3):
        propose(stub, org, instance.id)
    first = stub.ListDeployments(api.ListDeploymentsRequest(organization_id=org, instance_id=instance.id, page_size=1))

    f = failure(
        lambda: stub.ListDeployments(
            api.ListDeploymentsRequest(
                organization_id=org, instance_id=instance.id, page_size=1,
                page_token=first.next_page_token, filter="status = PROPOSED",
            )
        )
    )

    assert (f.code, list(f.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])


def test_decommission_runs_and_clears_the_active_deployment(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    deploy(stub, org, instance.id)

    proposal = stub.DecommissionInstance(api.DecommissionInstanceRequest(organization_id=org, id=instance.id))
    assert (proposal.action, proposal.status) == (S.ACTION_DECOMMISSION, S.STATUS_PROPOSED)
    approve(stub, org, proposal.id)
    done = wait_done(stub, org, proposal.id)

    assert done.status == S.STATUS_COMPLETED
    live = stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id))
    assert (live.active_deployment_id, live.route_generation) == ("", 2)
