"""RollbackDeployment (docs/product.md §3): the validation matrix, the snapshot table, pinning, roll forward, quarantine."""

from __future__ import annotations

import json

import grpc
import pytest
import redis
from google.protobuf import field_mask_pb2, json_format, struct_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.keyring import Keyring, parse
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    events,
    failure,
    get,
    instance_of,
    propose,
    publish,
    rollback,
    set_params,
    sql,
    sql_value,
    wait_done,
)
from tests.stack import TEST_SECRETS_KEY

S = pb.Deployment
MISSING = "00000000-0000-4000-8000-000000000000"


def struct(value: dict[str, object]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def update(stub: Stub, org: str, instance_id: str, **fields: object) -> pb.Instance:
    return stub.UpdateInstance(
        api.UpdateInstanceRequest(
            organization_id=org,
            id=instance_id,
            instance=pb.Instance(**fields),  # type: ignore[arg-type]
            update_mask=field_mask_pb2.FieldMask(paths=list(fields)),
        )
    )



# --- the validation matrix --------------------------------------------------------------------------


def test_unknown_source_is_not_found(stub: Stub, org: str) -> None:
    f = failure(lambda: rollback(stub, org, MISSING))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_source_of_another_organization_is_not_found(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)

    f = failure(lambda: rollback(stub, org + "-other", done.id))

    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_malformed_source_id_is_invalid_argument(stub: Stub, org: str) -> None:
    f = failure(lambda: rollback(stub, org, "v1"))
    assert (f.code, list(f.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["id"])


def test_proposed_source_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)

    f = failure(lambda: rollback(stub, org, proposal.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SOURCE_NOT_COMPLETED")
    assert "PROPOSED" in f.message


def test_rejected_source_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=proposal.id))

    f = failure(lambda: rollback(stub, org, proposal.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SOURCE_NOT_COMPLETED")


def test_failed_source_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    set_params(stub, org, instance.id, {"rollout.simulate": {"fail": "provision"}})
    failed = deploy(stub, org, instance.id)
    assert failed.status == S.STATUS_FAILED

    f = failure(lambda: rollback(stub, org, failed.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SOURCE_NOT_COMPLETED")


def test_pending_and_running_sources_are_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    set_params(stub, org, instance.id, {"rollout.simulate": {"delay_ms": 3000}})
    running, pending = propose(stub, org, instance.id), propose(stub, org, instance.id)
    approve(stub, org, running.id)
    approve(stub, org, pending.id)
    for event in stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=running.id), timeout=30):
        if event.type == pb.DeploymentEvent.TYPE_STARTED:
            break
    assert (get(stub, org, running.id).status, get(stub, org, pending.id).status) == (S.STATUS_RUNNING, S.STATUS_PENDING)

    for source in (running, pending):
        f = failure(lambda s=source: rollback(stub, org, s.id))
        assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SOURCE_NOT_COMPLETED")


def test_decommission_source_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    deploy(stub, org, instance.id)
    down = stub.DecommissionInstance(api.DecommissionInstanceRequest(organization_id=org, id=instance.id))
    approve(stub, org, down.id)
    assert wait_done(stub, org, down.id).status == S.STATUS_COMPLETED

    f = failure(lambda: rollback(stub, org, down.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SOURCE_NOT_PROVISION")


def test_source_whose_release_failed_is_refused(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    deploy(stub, org, instance.id)  # `done` becomes a past run
    # No RPC turns a published release FAILED; a build found bad later is marked so by the release pipeline.
    sql(backends[0], "UPDATE releases SET state = 'FAILED' WHERE id = $1::uuid", v1.id)

    f = failure(lambda: rollback(stub, org, done.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RELEASE_NOT_READY")


def test_source_whose_artifact_is_gone_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    deploy(stub, org, instance.id)  # `done` becomes a past run
    stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=v1.id))

    f = failure(lambda: rollback(stub, org, done.id))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ARTIFACT_GONE")


def test_archived_release_with_its_artifact_can_be_rolled_back_to(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    deploy(stub, org, instance.id)  # `done` becomes a past run
    stub.ArchiveRelease(api.ArchiveReleaseRequest(organization_id=org, id=v1.id))

    assert rollback(stub, org, done.id).status == S.STATUS_PROPOSED


# --- the snapshot table -----------------------------------------------------------------------------


@pytest.fixture()
def moved(stub: Stub, org: str) -> tuple[pb.Instance, pb.Deployment, pb.Deployment, str]:
    """A source deployment, then an instance renamed, moved, re-wired and re-configured; its rollback proposal."""
    db_a = create_instance(stub, org, name="db-a")
    db_b = create_instance(stub, org, name="db-b")
    instance = create_instance(
        stub, org, params=struct({"workers": 2, "feature": {"x": True}}), connections={"db": db_a.id}
    )
    publish(stub, org, "1.0.0")
    source = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0", release_channel="stable")
    update(stub, org, instance.id, name="web-renamed", environment="staging", connections={"db": db_b.id, "cache": db_a.id})
    set_params(stub, org, instance.id, {"workers": 8, "md_metadata": {"injected": "by user"}})
    deploy(stub, org, instance.id)
    return instance, source, rollback(stub, org, source.id), db_a.id


def test_rollback_is_a_proposed_provision_pointing_at_its_source(stub: Stub, org: str, moved: tuple) -> None:
    _, source, proposal, _ = moved
    assert (proposal.status, proposal.action) == (S.STATUS_PROPOSED, S.ACTION_PROVISION)
    assert (proposal.rollback_of.id, proposal.rollback_of.version) == (source.id, "1.0.0")
    assert proposal.message == f"Rollback to deployment {source.id} (v1.0.0)"
    assert proposal.id != source.id


def test_snapshot_params_verbatim(stub: Stub, org: str, moved: tuple) -> None:
    _, source, proposal, _ = moved
    assert json_format.MessageToDict(proposal.params) == {"workers": 2, "feature": {"x": True}}
    assert proposal.params == source.params


def test_snapshot_md_metadata_regenerated_from_current_location(stub: Stub, org: str, moved: tuple) -> None:
    instance, source, proposal, _ = moved
    assert json_format.MessageToDict(source.md_metadata)["instance_name"] == "web"
    assert json_format.MessageToDict(proposal.md_metadata) == {
        "organization_id": org,
        "project": "shop",
        "environment": "staging",
        "instance_id": instance.id,
        "instance_name": "web-renamed",
    }


def test_snapshot_connection_params_verbatim(stub: Stub, org: str, moved: tuple) -> None:
    _, _, proposal, db_a = moved
    assert dict(proposal.connection_params) == {"db": db_a}


def test_snapshot_release_version_and_channel_verbatim(stub: Stub, org: str, moved: tuple) -> None:
    _, source, proposal, _ = moved
    assert (proposal.bundle_release_id, proposal.version, proposal.release_channel) == (
        source.bundle_release_id, "1.0.0", "stable")


def test_secrets_are_untouched_and_never_shown(
    stub: Stub, org: str, backends: tuple[str, str], stack: object
) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    secret_v1, secret_v2 = "s3cr3t-first-" + org, "s3cr3t-second-" + org
    stub.SetInstanceSecrets(api.SetInstanceSecretsRequest(organization_id=org, id=instance.id, secrets={"token": secret_v1}))
    source = deploy(stub, org, instance.id)
    stub.SetInstanceSecrets(api.SetInstanceSecretsRequest(organization_id=org, id=instance.id, secrets={"token": secret_v2}))
    deploy(stub, org, instance.id)  # `source` becomes a past run
    proposal = rollback(stub, org, source.id)
    approve(stub, org, proposal.id)
    assert wait_done(stub, org, proposal.id).status == S.STATUS_COMPLETED

    [value] = sql(backends[0], "SELECT key_id, value FROM instance_secrets WHERE instance_id = $1::uuid", instance.id)
    dump = sql_value(
        backends[0],
        "SELECT string_agg(t::text, ' ') FROM (SELECT d::text AS t FROM deployments d WHERE organization_id = $1"
        " UNION ALL SELECT e::text FROM deployment_events e WHERE organization_id = $1"
        " UNION ALL SELECT i::text FROM instances i WHERE organization_id = $1) rows",
        org,
    )
    # The rollback did not bring the old secret back.
    assert Keyring(parse([TEST_SECRETS_KEY], "test")).decrypt(value["key_id"], instance.id, "token", value["value"]) == (
        secret_v2.encode())
    assert instance_of(stub, org, instance.id).secret_names == ["token"]
    for secret in (secret_v1, secret_v2):
        assert secret not in dump
        for message in (get(stub, org, proposal.id), instance_of(stub, org, instance.id), *events(stub, org, proposal.id)):
            assert secret.encode() not in message.SerializeToString()
        for log in stack.workdir.glob("*.log"):  # type: ignore[attr-defined]
            assert secret not in log.read_text(errors="replace")


# --- pinning, roll forward, reject ----------------------------------------------------------------------


def test_rollback_approval_pins_the_pointer_and_next_proposal_composes_on_it(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org, version_constraint="^1")
    v1 = publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    v2 = publish(stub, org, "1.1.0")
    second = deploy(stub, org, instance.id)
    assert second.version == "1.1.0"

    back = rollback(stub, org, first.id)
    approve(stub, org, back.id)
    assert wait_done(stub, org, back.id).status == S.STATUS_COMPLETED

    live = instance_of(stub, org, instance.id)
    assert live.active_deployment_id == back.id
    assert (live.pinned, live.bundle_release_id, live.version) == (True, v1.id, "1.0.0")
    assert live.route_generation == 3
    set_params(stub, org, instance.id, {"workers": 3})
    nxt = propose(stub, org, instance.id)
    assert (nxt.bundle_release_id, nxt.version) == (v1.id, "1.0.0")  # not 1.1.0: the pin holds
    assert json_format.MessageToDict(nxt.params) == {"workers": 3}

    # Roll forward: the deployment rolled back from is still COMPLETED, so it can be returned to.
    forward = rollback(stub, org, second.id)
    approve(stub, org, forward.id)
    assert wait_done(stub, org, forward.id).status == S.STATUS_COMPLETED
    live = instance_of(stub, org, instance.id)
    assert (live.active_deployment_id, live.bundle_release_id, live.version) == (forward.id, v2.id, "1.1.0")


def test_normal_proposal_never_moves_the_pointer_and_constraint_change_clears_the_pin(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    assert not instance_of(stub, org, instance.id).pinned
    back = rollback(stub, org, first.id)
    approve(stub, org, back.id)
    wait_done(stub, org, back.id)
    assert instance_of(stub, org, instance.id).pinned

    cleared = update(stub, org, instance.id, version_constraint=">=1.0.0")

    assert (cleared.pinned, cleared.bundle_release_id, cleared.version) == (False, "", "")


def test_rejected_rollback_leaves_the_instance_untouched(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0")
    second = deploy(stub, org, instance.id)
    before = instance_of(stub, org, instance.id)

    back = rollback(stub, org, first.id)
    rejected = stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=back.id, reason="not now"))

    assert rejected.status == S.STATUS_REJECTED
    after = instance_of(stub, org, instance.id)
    assert after == before and after.active_deployment_id == second.id


def test_artifact_deleted_after_rollback_approval_fails_the_run(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)  # `first` becomes a past run
    set_params(stub, org, instance.id, {"rollout.simulate": {"delay_ms": 1500}})
    blocker = propose(stub, org, instance.id)
    back = rollback(stub, org, first.id)
    approve(stub, org, blocker.id)
    approve(stub, org, back.id)

    stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=v1.id))

    failed = wait_done(stub, org, back.id)
    assert failed.status == S.STATUS_FAILED and failed.error.startswith("ARTIFACT_GONE")
    live = instance_of(stub, org, instance.id)
    assert (live.active_deployment_id, live.pinned) == (blocker.id, False)


def test_route_change_is_published_on_every_switch(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    with redis.Redis.from_url(backends[1]) as client, client.pubsub() as channel:
        channel.subscribe("rollout:routes")
        assert channel.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
        done = deploy(stub, org, instance.id)
        messages = []
        while True:
            message = channel.get_message(timeout=10)
            assert message is not None, "no route-change message"
            if message["type"] == "message":
                body = json.loads(message["data"])
                if body["instance_id"] == instance.id:
                    messages.append(body)
                    break
    assert messages == [{
        "organization_id": org, "instance_id": instance.id, "active_deployment_id": done.id,
        "bundle_release_id": done.bundle_release_id, "version": "1.0.0", "route_generation": 1,
    }]


# --- quarantine -----------------------------------------------------------------------------------------


def test_rolled_back_release_is_quarantined_until_a_newer_one_is_published(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    bad = publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    back = rollback(stub, org, first.id)
    approve(stub, org, back.id)
    wait_done(stub, org, back.id)
    assert list(instance_of(stub, org, instance.id).quarantined_release_ids) == [bad.id]

    update(stub, org, instance.id, version_constraint="*")  # clears the pin: resolution runs again
    assert propose(stub, org, instance.id).version == "1.0.0"  # 1.1.0 is skipped
    assert propose(stub, org, instance.id, bundle_release_id=bad.id).version == "1.1.0"  # named explicitly: allowed

    publish(stub, org, "1.1.1")

    assert list(instance_of(stub, org, instance.id).quarantined_release_ids) == []
    assert propose(stub, org, instance.id).version == "1.1.1"


def test_deploying_a_quarantined_release_by_name_ends_its_quarantine(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    bad = publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    back = rollback(stub, org, first.id)
    approve(stub, org, back.id)
    wait_done(stub, org, back.id)
    assert list(instance_of(stub, org, instance.id).quarantined_release_ids) == [bad.id]

    again = deploy(stub, org, instance.id, bundle_release_id=bad.id)

    assert again.status == S.STATUS_COMPLETED
    assert list(instance_of(stub, org, instance.id).quarantined_release_ids) == []
