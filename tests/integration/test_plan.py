"""PlanDeployment: a worker stores the diff between what is live and what the proposal would make live."""

from __future__ import annotations

import grpc
from google.protobuf import json_format

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    failure,
    plan,
    propose,
    publish,
    rollback,
    set_params,
    wait_done,
)
from tests.integration.test_rollback import update


def plan_of(deployment: pb.Deployment) -> dict:  # type: ignore[type-arg]
    return json_format.MessageToDict(deployment.plan)


def test_plan_of_a_rollback_shows_the_exact_diff(stub: Stub, org: str) -> None:
    db_a = create_instance(stub, org, name="db-a")
    db_b = create_instance(stub, org, name="db-b")
    instance = create_instance(stub, org, connections={"db": db_a.id})
    set_params(stub, org, instance.id, {"workers": 2, "tls": {"enabled": True}, "old": "x"})
    publish(stub, org, "1.0.0", schema_version=3)
    source = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0", schema_version=4)
    update(stub, org, instance.id, connections={"db": db_b.id, "cache": db_a.id})
    set_params(stub, org, instance.id, {"workers": 4, "tls": {"enabled": True}, "new": 1})
    live = deploy(stub, org, instance.id)

    planned = plan(stub, org, rollback(stub, org, source.id).id)

    assert planned.status == pb.Deployment.STATUS_PROPOSED
    body = plan_of(planned)
    assert body["live_deployment_id"] == live.id
    assert body["release_change"] == {"from": "1.1.0", "to": "1.0.0"}
    assert body["params"] == {"added": {"old": "x"}, "removed": {"new": 1.0}, "changed": {"workers": {"from": 4.0, "to": 2.0}}}
    assert body["connections"] == {"added": {}, "removed": {"cache": db_a.id}, "changed": {"db": {"from": db_b.id, "to": db_a.id}}}
    assert body["runtime_instances"] is None  # STATIC
    assert body["stale"] is False
    assert any(w.startswith("data is not migrated back") for w in body["warnings"])
    assert "secrets are not rolled back: the instance's current secrets apply" in body["warnings"]
    planned_event = [e for e in events_until_planned(stub, org, planned.id) if e.type == pb.DeploymentEvent.TYPE_PLANNED][0]
    assert "release 1.1.0 → 1.0.0" in planned_event.message


def events_until_planned(stub: Stub, org: str, deployment_id: str) -> list[pb.DeploymentEvent]:
    stream = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=deployment_id), timeout=10)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == pb.DeploymentEvent.TYPE_PLANNED:
            stream.cancel()
            break
    return seen


def test_first_deployment_plan_has_no_live_state(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    set_params(stub, org, instance.id, {"a": 1})
    publish(stub, org, "1.0.0")

    body = plan_of(plan(stub, org, propose(stub, org, instance.id).id))

    assert body["live_deployment_id"] is None and body["live_release"] is None
    assert body["release_change"] == {"from": None, "to": "1.0.0"}
    assert body["params"]["added"] == {"a": 1.0}


def test_plan_becomes_stale_when_the_active_deployment_changes(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    deploy(stub, org, instance.id)
    waiting = propose(stub, org, instance.id)
    assert plan_of(plan(stub, org, waiting.id))["stale"] is False

    deploy(stub, org, instance.id)

    body = plan_of(stub.GetDeployment(api.GetDeploymentRequest(organization_id=org, id=waiting.id)))
    assert body["stale"] is True
    assert any(w.startswith("stale") for w in body["warnings"])
    assert plan_of(plan(stub, org, waiting.id, nth=2))["stale"] is False  # planning again refreshes it


def test_planning_a_non_proposed_deployment_is_refused(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)

    f = failure(lambda: stub.PlanDeployment(api.PlanDeploymentRequest(organization_id=org, id=done.id)))

    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "DEPLOYMENT_NOT_PROPOSED")
    missing = failure(
        lambda: stub.PlanDeployment(
            api.PlanDeploymentRequest(organization_id=org, id="00000000-0000-4000-8000-000000000000")
        )
    )
    assert missing.code == grpc.StatusCode.NOT_FOUND


def test_plan_warns_about_a_quarantined_release_named_explicitly(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    bad = publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    back = rollback(stub, org, first.id)
    approve(stub, org, back.id)
    wait_done(stub, org, back.id)

    body = plan_of(plan(stub, org, propose(stub, org, instance.id, bundle_release_id=bad.id).id))

    assert any("quarantined" in w for w in body["warnings"])
