"""Roll back to the previous good run in one call (RollbackDeployment with instance_id + TARGET_PREVIOUS_GOOD)."""

from __future__ import annotations

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    deploy_in_turn,
    failure,
    instance_of,
    publish,
    rollback,
    sql,
    wait_done,
)

PREVIOUS_GOOD = api.RollbackDeploymentRequest.TARGET_PREVIOUS_GOOD


def previous_good(stub: Stub, org: str, instance_id: str, reason: str = "") -> pb.Deployment:
    return stub.RollbackDeployment(
        api.RollbackDeploymentRequest(organization_id=org, instance_id=instance_id, target=PREVIOUS_GOOD, reason=reason)
    )


def test_it_returns_to_the_run_before_the_active_one_even_when_the_bad_release_completed(stub: Stub, org: str) -> None:
    # Seed 000's "broken in real traffic": v2 completed, so the "last good" query's first row is v2 itself.
    instance = create_instance(stub, org)
    good, bad = deploy_in_turn(stub, org, instance.id, ["1.0.0", "2.0.0"])
    assert instance_of(stub, org, instance.id).active_deployment_id == bad.id

    proposal = previous_good(stub, org, instance.id)

    assert (proposal.rollback_of.id, proposal.version) == (good.id, "1.0.0")
    approve(stub, org, proposal.id)
    assert wait_done(stub, org, proposal.id).status == pb.Deployment.STATUS_COMPLETED
    assert instance_of(stub, org, instance.id).version == "1.0.0"


def test_it_skips_failed_and_quarantined_releases_and_gone_artifacts(
    stub: Stub, org: str, backends: tuple[str, str]
) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    oldest = deploy(stub, org, instance.id)
    v2 = publish(stub, org, "2.0.0")
    gone = deploy(stub, org, instance.id)
    v3 = publish(stub, org, "3.0.0")
    failed = deploy(stub, org, instance.id)
    publish(stub, org, "4.0.0")
    quarantined_source = deploy(stub, org, instance.id)
    # Roll back from 4.0.0 to 3.0.0: 4.0.0 is now quarantined for the instance; 3.0.0 is active.
    back = rollback(stub, org, failed.id)
    approve(stub, org, back.id)
    wait_done(stub, org, back.id)
    stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=v2.id))
    sql(backends[0], "UPDATE releases SET state = 'FAILED' WHERE id = $1::uuid", v3.id)
    live = instance_of(stub, org, instance.id)
    assert live.active_deployment_id == back.id and list(live.quarantined_release_ids) != []

    proposal = previous_good(stub, org, instance.id)

    # Not the active run (3.0.0, now FAILED anyway), not 4.0.0 (quarantined), not 3.0.0's first run
    # (FAILED), not 2.0.0 (artifact gone): 1.0.0.
    assert proposal.rollback_of.id == oldest.id, (quarantined_source.id, gone.id, failed.id)
    assert proposal.bundle_release_id == v1.id


def test_no_rollback_target(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    never = failure(lambda: previous_good(stub, org, instance.id))
    deploy(stub, org, instance.id)
    only_the_active_one = failure(lambda: previous_good(stub, org, instance.id))

    for refused in (never, only_the_active_one):
        assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_ROLLBACK_TARGET")


def test_a_rollback_to_the_active_deployment_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    active = deploy(stub, org, instance.id)

    refused = failure(lambda: rollback(stub, org, active.id))

    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SOURCE_IS_ACTIVE")


def test_the_reason_is_in_the_message_the_events_and_the_audit_record(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    deploy_in_turn(stub, org, instance.id, ["1.0.0", "2.0.0"])
    reason = "INC-4711: checkout 500s after 2.0.0"

    proposal = previous_good(stub, org, instance.id, reason)

    assert proposal.message.endswith(f": {reason}")
    watch = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=proposal.id), timeout=30)
    proposed = next(watch)
    watch.cancel()
    assert proposed.type == pb.DeploymentEvent.TYPE_PROPOSED and reason in proposed.message
    [record] = stub.ListAuditEvents(
        api.ListAuditEventsRequest(organization_id=org, filter="action = deployment.rollback")
    ).audit_events
    assert (record.reason, record.resource) == (reason, f"deployments/{proposal.id}")


def test_bad_selectors_are_invalid(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    both = failure(lambda: stub.RollbackDeployment(api.RollbackDeploymentRequest(
        organization_id=org, id=instance.id, instance_id=instance.id, target=PREVIOUS_GOOD)))
    no_target = failure(lambda: stub.RollbackDeployment(api.RollbackDeploymentRequest(
        organization_id=org, instance_id=instance.id)))
    unknown_target = failure(lambda: stub.RollbackDeployment(api.RollbackDeploymentRequest(
        organization_id=org, instance_id=instance.id, target=7)))  # type: ignore[arg-type]
    nothing = failure(lambda: stub.RollbackDeployment(api.RollbackDeploymentRequest(organization_id=org)))
    too_long = failure(lambda: previous_good(stub, org, instance.id, "x" * 513))

    assert all(f.code == grpc.StatusCode.INVALID_ARGUMENT for f in (both, no_target, unknown_target, nothing, too_long))
    assert "id" in both.violations and "target" in no_target.violations and "target" in unknown_target.violations
    assert "reason" in too_long.violations
