"""Instances through the real gRPC channel: create, get, list, update and write-only secrets."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, create_instance, failure

INVALID = grpc.StatusCode.INVALID_ARGUMENT
I = pb.Instance


def _create(org: str, **instance: object) -> api.CreateInstanceRequest:
    return api.CreateInstanceRequest(organization_id=org, instance=pb.Instance(**instance))  # type: ignore[arg-type]


def _valid(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "name": "web", "project": "shop", "environment": "production", "bundle": "web", "kind": I.KIND_STATIC,
    }
    fields.update(overrides)
    return fields


def _invalid_create(stub: Stub, org: str, **overrides: object) -> dict[str, str]:
    found = failure(lambda: stub.CreateInstance(_create(org, **_valid(**overrides))))
    assert found.code == INVALID and found.reason == "INVALID_ARGUMENT", found
    return found.violations


def _get(stub: Stub, org: str, instance_id: str) -> pb.Instance:
    return stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance_id))


def _list(stub: Stub, org: str, **fields: object) -> api.ListInstancesResponse:
    return stub.ListInstances(api.ListInstancesRequest(organization_id=org, **fields))  # type: ignore[arg-type]


def _update(stub: Stub, org: str, instance_id: str, paths: list[str], **fields: object) -> pb.Instance:
    return stub.UpdateInstance(
        api.UpdateInstanceRequest(
            organization_id=org,
            id=instance_id,
            instance=pb.Instance(**fields),  # type: ignore[arg-type]
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        )
    )


def _secrets(stub: Stub, org: str, instance_id: str, secrets: dict[str, str] | None = None,
             remove: list[str] | None = None) -> pb.Instance:
    return stub.SetInstanceSecrets(
        api.SetInstanceSecretsRequest(organization_id=org, id=instance_id, secrets=secrets or {}, remove_names=remove or [])
    )


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


# CreateInstance


def test_create_returns_the_instance_with_defaults(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, labels={"team": "payments"}, params=_struct({"workers": 2}))
    assert uuid.UUID(created.id)
    assert (created.name, created.project, created.environment, created.bundle) == ("web", "shop", "production", "web")
    assert created.kind == I.KIND_STATIC and created.replicas == 0
    assert created.release_channel == "stable"
    assert created.version_constraint == ""
    assert dict(created.labels) == {"team": "payments"}
    assert dict(created.params) == {"workers": 2.0}
    assert not created.pinned and not created.bundle_release_id and not created.version
    assert not created.active_deployment_id and created.route_generation == 0
    assert list(created.secret_names) == []
    assert created.HasField("create_time") and created.HasField("update_time")


def test_create_keeps_an_explicit_channel_and_constraint(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, release_channel="beta", version_constraint=">=1.0.0 <2.0.0")
    assert created.release_channel == "beta"
    assert created.version_constraint == ">=1.0.0 <2.0.0"


def test_create_dynamic_with_replicas(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, kind=I.KIND_DYNAMIC, replicas=3)
    assert created.kind == I.KIND_DYNAMIC and created.replicas == 3
    assert create_instance(stub, org, name="zero", kind=I.KIND_DYNAMIC, replicas=0).replicas == 0
    assert create_instance(stub, org, name="most", kind=I.KIND_DYNAMIC, replicas=100).replicas == 100


def test_create_ignores_output_only_fields(stub: Stub, org: str) -> None:
    forged = str(uuid.uuid4())
    created = create_instance(
        stub, org, id=forged, pinned=True, active_deployment_id=forged, route_generation=9, secret_names=["x"]
    )
    assert created.id != forged
    assert not created.pinned and not created.active_deployment_id and created.route_generation == 0
    assert list(created.secret_names) == []


def test_create_with_a_connection_to_an_instance_of_the_org(stub: Stub, org: str) -> None:
    db = create_instance(stub, org, name="db", bundle="postgres")
    app = create_instance(stub, org, name="app", connections={"database": db.id})
    assert dict(app.connections) == {"database": db.id}
    assert dict(_get(stub, org, app.id).connections) == {"database": db.id}


def test_create_static_with_replicas_is_refused(stub: Stub, org: str) -> None:
    assert "instance.replicas" in _invalid_create(stub, org, kind=I.KIND_STATIC, replicas=1)


@pytest.mark.parametrize("replicas", [-1, 101])
def test_create_dynamic_with_replicas_out_of_range_is_refused(stub: Stub, org: str, replicas: int) -> None:
    assert "instance.replicas" in _invalid_create(stub, org, kind=I.KIND_DYNAMIC, replicas=replicas)


@pytest.mark.parametrize("kind", [I.KIND_UNSPECIFIED, 7])
def test_create_without_a_known_kind_is_refused(stub: Stub, org: str, kind: int) -> None:
    assert set(_invalid_create(stub, org, kind=kind)) == {"instance.kind"}


def test_create_without_an_instance_is_refused(stub: Stub, org: str) -> None:
    found = failure(lambda: stub.CreateInstance(api.CreateInstanceRequest(organization_id=org)))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"instance"})


def test_create_without_required_fields_names_each_one(stub: Stub, org: str) -> None:
    found = failure(lambda: stub.CreateInstance(_create(org, kind=I.KIND_STATIC)))
    assert found.code == INVALID and found.reason == "INVALID_ARGUMENT"
    assert set(found.violations) == {"instance.name", "instance.project", "instance.environment", "instance.bundle"}


def test_create_without_organization_is_refused(stub: Stub) -> None:
    found = failure(lambda: stub.CreateInstance(_create("", **_valid())))
    assert (found.code, set(found.violations)) == (INVALID, {"organization_id"})


@pytest.mark.parametrize("field", ["name", "project", "environment", "bundle", "release_channel"])
def test_create_with_a_malformed_slug_is_refused(stub: Stub, org: str, field: str) -> None:
    assert set(_invalid_create(stub, org, **{field: "Not A Slug"})) == {f"instance.{field}"}


def test_create_with_a_too_long_name_is_refused(stub: Stub, org: str) -> None:
    assert set(_invalid_create(stub, org, name="a" * 64)) == {"instance.name"}
    assert create_instance(stub, org, name="a" * 63).name == "a" * 63


@pytest.mark.parametrize("constraint", ["banana", "^1.x.y", ">=", "1.0.0 ||"])
def test_create_with_a_bad_version_constraint_is_refused(stub: Stub, org: str, constraint: str) -> None:
    assert set(_invalid_create(stub, org, version_constraint=constraint)) == {"instance.version_constraint"}


@pytest.mark.parametrize("constraint", ["^1.2", "~1.2.3", ">=1.0.0 <2.0.0", "1.x", "*"])
def test_create_accepts_documented_constraint_forms(stub: Stub, org: str, constraint: str) -> None:
    assert create_instance(stub, org, version_constraint=constraint).version_constraint == constraint


def test_create_with_a_bad_label_key_is_refused(stub: Stub, org: str) -> None:
    assert set(_invalid_create(stub, org, labels={"Bad Key": "x"})) == {"instance.labels[Bad Key]"}


def test_create_with_a_too_long_label_value_is_refused(stub: Stub, org: str) -> None:
    assert set(_invalid_create(stub, org, labels={"team": "x" * 256})) == {"instance.labels[team]"}


def test_create_with_too_many_labels_is_refused(stub: Stub, org: str) -> None:
    labels = {f"k{i}": "v" for i in range(65)}
    assert "instance.labels" in _invalid_create(stub, org, labels=labels)


def test_create_with_a_malformed_connection_is_refused(stub: Stub, org: str) -> None:
    violations = _invalid_create(stub, org, connections={"db": "not-a-uuid", "Bad Name": str(uuid.uuid4())})
    assert set(violations) == {"instance.connections[db]", "instance.connections[Bad Name]"}


def test_create_with_a_connection_to_a_missing_instance_is_refused(stub: Stub, org: str) -> None:
    violations = _invalid_create(stub, org, connections={"db": str(uuid.uuid4())})
    assert set(violations) == {"instance.connections[db]"}
    assert _list(stub, org).instances == []


def test_create_with_a_connection_to_another_orgs_instance_is_refused(stub: Stub, org: str, other: Stub) -> None:
    theirs = create_instance(other, org + "-other", name="db")
    violations = _invalid_create(stub, org, connections={"db": theirs.id})
    assert set(violations) == {"instance.connections[db]"}


def test_create_with_oversized_params_is_refused(stub: Stub, org: str) -> None:
    assert set(_invalid_create(stub, org, params=_struct({"blob": "x" * (64 * 1024)}))) == {"instance.params"}


def test_create_with_non_finite_params_is_refused(stub: Stub, org: str) -> None:
    assert set(_invalid_create(stub, org, params=_struct({"ratio": float("nan")}))) == {"instance.params"}


def test_create_with_a_nul_inside_params_is_refused(stub: Stub, org: str) -> None:
    assert set(_invalid_create(stub, org, params=_struct({"k": "a\x00b"}))) == {"instance.params"}


def test_create_with_a_taken_name_is_already_exists(stub: Stub, org: str) -> None:
    create_instance(stub, org, name="web", project="shop", environment="production")
    found = failure(lambda: create_instance(stub, org, name="web", project="shop", environment="production"))
    assert (found.code, found.reason) == (grpc.StatusCode.ALREADY_EXISTS, "INSTANCE_EXISTS")
    assert len(_list(stub, org).instances) == 1


def test_create_same_name_in_another_environment_or_project_is_fine(stub: Stub, org: str) -> None:
    first = create_instance(stub, org, name="web", environment="production")
    staging = create_instance(stub, org, name="web", environment="staging")
    other_project = create_instance(stub, org, name="web", project="blog")
    assert len({first.id, staging.id, other_project.id}) == 3


def test_create_same_name_in_another_org_is_fine(stub: Stub, org: str, other: Stub) -> None:
    mine = create_instance(stub, org)
    theirs = create_instance(other, org + "-other")
    assert mine.id != theirs.id


# GetInstance


def test_get_returns_the_created_instance(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, labels={"a": "b"})
    assert _get(stub, org, created.id) == created


def test_get_unknown_id_is_not_found(stub: Stub, org: str) -> None:
    found = failure(lambda: _get(stub, org, str(uuid.uuid4())))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_get_another_orgs_instance_is_not_found_like_a_missing_one(stub: Stub, org: str, other: Stub) -> None:
    theirs = create_instance(other, org + "-other")
    missing_id = str(uuid.uuid4())
    found = failure(lambda: _get(stub, org, theirs.id))
    missing = failure(lambda: _get(stub, org, missing_id))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    # Nothing in the answer tells the two apart.
    assert found.message.replace(theirs.id, "ID") == missing.message.replace(missing_id, "ID")


@pytest.mark.parametrize("bad_id", ["", "nope", "12345678123456781234567812345678", str(uuid.uuid4())[:-1]])
def test_get_with_a_malformed_id_is_invalid(stub: Stub, org: str, bad_id: str) -> None:
    found = failure(lambda: _get(stub, org, bad_id))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"id"})


def test_get_with_a_malformed_organization_is_invalid(stub: Stub) -> None:
    found = failure(lambda: _get(stub, "Not An Org", str(uuid.uuid4())))
    assert (found.code, set(found.violations)) == (INVALID, {"organization_id"})


# ListInstances


def test_list_pages_through_every_instance_exactly_once(stub: Stub, org: str) -> None:
    created = [create_instance(stub, org, name=f"web-{i}").id for i in range(7)]
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    while True:
        page = _list(stub, org, page_size=3, page_token=token)
        seen += [i.id for i in page.instances]
        token = page.next_page_token
        if not token:
            break
        tokens.append(token)
    assert seen == created  # ascending create time by default
    assert len(tokens) == 2 and len(set(tokens)) == 2


def test_list_last_page_has_an_empty_token(stub: Stub, org: str) -> None:
    for i in range(3):
        create_instance(stub, org, name=f"web-{i}")
    first = _list(stub, org, page_size=2)
    last = _list(stub, org, page_size=2, page_token=first.next_page_token)
    assert len(first.instances) == 2 and first.next_page_token
    assert len(last.instances) == 1 and last.next_page_token == ""


def test_list_exact_page_ends_without_token(stub: Stub, org: str) -> None:
    for i in range(3):
        create_instance(stub, org, name=f"web-{i}")
    page = _list(stub, org, page_size=3)
    assert len(page.instances) == 3 and page.next_page_token == ""


def test_list_empty_org_is_empty(stub: Stub, org: str) -> None:
    page = _list(stub, org)
    assert list(page.instances) == [] and page.next_page_token == ""


def test_list_filters_by_environment(stub: Stub, org: str) -> None:
    staging = create_instance(stub, org, name="a", environment="staging")
    create_instance(stub, org, name="b", environment="production")
    quoted = create_instance(stub, org, name="c", environment="staging", project="blog")
    assert [i.id for i in _list(stub, org, filter="environment = staging").instances] == [staging.id, quoted.id]
    both = _list(stub, org, filter='environment = "staging" AND project = blog').instances
    assert [i.id for i in both] == [quoted.id]


def test_list_orders_by_create_time_desc(stub: Stub, org: str) -> None:
    ids = [create_instance(stub, org, name=f"web-{i}").id for i in range(4)]
    assert [i.id for i in _list(stub, org, order_by="create_time desc").instances] == ids[::-1]
    assert [i.id for i in _list(stub, org, order_by="create_time asc").instances] == ids


def test_list_desc_pages_keep_descending_order(stub: Stub, org: str) -> None:
    ids = [create_instance(stub, org, name=f"web-{i}").id for i in range(5)]
    first = _list(stub, org, order_by="create_time desc", page_size=2)
    second = _list(stub, org, order_by="create_time desc", page_size=2, page_token=first.next_page_token)
    third = _list(stub, org, order_by="create_time desc", page_size=2, page_token=second.next_page_token)
    seen = [i.id for page in (first, second, third) for i in page.instances]
    assert seen == ids[::-1] and third.next_page_token == ""


def test_list_never_shows_another_orgs_instances(stub: Stub, org: str, other: Stub) -> None:
    mine = create_instance(stub, org)
    create_instance(other, org + "-other")
    create_instance(other, org + "-other", name="web-2")
    assert [i.id for i in _list(stub, org).instances] == [mine.id]


def _list_failure(stub: Stub, org: str, **fields: object) -> dict[str, str]:
    found = failure(lambda: _list(stub, org, **fields))
    assert (found.code, found.reason) == (INVALID, "INVALID_ARGUMENT"), found
    return found.violations


@pytest.mark.parametrize(
    "bad_filter",
    ["environment", "environment ~ staging", "color = red", "environment > staging", "environment = a OR name = b"],
)
def test_list_with_a_bad_filter_is_invalid(stub: Stub, org: str, bad_filter: str) -> None:
    assert set(_list_failure(stub, org, filter=bad_filter)) == {"filter"}


def test_list_with_a_badly_escaped_quoted_value_is_invalid(stub: Stub, org: str) -> None:
    assert set(_list_failure(stub, org, filter='name = "\\q"')) == {"filter"}


def test_list_with_an_escaped_nul_in_the_filter_is_invalid(stub: Stub, org: str) -> None:
    assert set(_list_failure(stub, org, filter='name = "\\u0000"')) == {"filter"}


@pytest.mark.parametrize("order_by", ["name", "create_time up", "create_time desc extra", "update_time desc"])
def test_list_with_a_bad_order_by_is_invalid(stub: Stub, org: str, order_by: str) -> None:
    assert set(_list_failure(stub, org, order_by=order_by)) == {"order_by"}


@pytest.mark.parametrize("page_size", [-1, 1001])
def test_list_with_a_page_size_out_of_range_is_invalid(stub: Stub, org: str, page_size: int) -> None:
    assert set(_list_failure(stub, org, page_size=page_size)) == {"page_size"}


@pytest.mark.parametrize("token", ["garbage", "!!!", base64.urlsafe_b64encode(b'{"q": 1}').decode(), "e30"])
def test_list_with_a_garbage_page_token_is_invalid(stub: Stub, org: str, token: str) -> None:
    assert set(_list_failure(stub, org, page_token=token)) == {"page_token"}


def test_list_token_reused_with_a_different_filter_is_invalid(stub: Stub, org: str) -> None:
    for i in range(3):
        create_instance(stub, org, name=f"web-{i}")
    token = _list(stub, org, page_size=1).next_page_token
    assert set(_list_failure(stub, org, page_size=1, page_token=token, filter="environment = production")) == {
        "page_token"
    }
    assert set(_list_failure(stub, org, page_size=1, page_token=token, order_by="create_time desc")) == {"page_token"}


def test_list_token_of_another_org_is_invalid(stub: Stub, org: str, other: Stub) -> None:
    for i in range(2):
        create_instance(stub, org, name=f"web-{i}")
    token = _list(stub, org, page_size=1).next_page_token
    assert set(_list_failure(other, org + "-other", page_size=1, page_token=token)) == {"page_token"}


def _tampered(token: str, **changes: str) -> str:
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload.update(changes)
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_list_with_a_tampered_token_cursor_id_is_invalid(stub: Stub, org: str) -> None:
    for i in range(2):
        create_instance(stub, org, name=f"web-{i}")
    token = _list(stub, org, page_size=1).next_page_token
    assert set(_list_failure(stub, org, page_size=1, page_token=_tampered(token, i="not-a-uuid"))) == {"page_token"}


def test_list_with_a_tampered_token_time_is_invalid(stub: Stub, org: str) -> None:
    for i in range(2):
        create_instance(stub, org, name=f"web-{i}")
    token = _list(stub, org, page_size=1).next_page_token
    assert set(_list_failure(stub, org, page_size=1, page_token=_tampered(token, t="yesterday"))) == {"page_token"}


# UpdateInstance


def test_update_renames(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, name="web")
    updated = _update(stub, org, created.id, ["name"], name="shop-web")
    assert updated.name == "shop-web" and updated.id == created.id
    assert _get(stub, org, created.id).name == "shop-web"
    assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()


def test_update_moves_to_another_environment(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, environment="production")
    _update(stub, org, created.id, ["environment"], environment="staging")
    assert _get(stub, org, created.id).environment == "staging"
    assert [i.id for i in _list(stub, org, filter="environment = staging").instances] == [created.id]
    assert list(_list(stub, org, filter="environment = production").instances) == []


def test_update_changes_only_masked_fields(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, labels={"team": "a"}, params=_struct({"workers": 1}))
    updated = _update(
        stub, org, created.id, ["labels"],
        name="other", environment="staging", labels={"team": "b"}, params=_struct({"workers": 9}),
    )
    assert dict(updated.labels) == {"team": "b"}
    assert (updated.name, updated.environment) == ("web", "production")
    assert dict(updated.params) == {"workers": 1.0}
    assert _get(stub, org, created.id) == updated


def test_update_edits_params_constraint_and_channel(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    updated = _update(
        stub, org, created.id, ["params", "version_constraint", "release_channel"],
        params=_struct({"workers": 4, "tier": "gold"}), version_constraint="^2", release_channel="beta",
    )
    assert dict(updated.params) == {"workers": 4.0, "tier": "gold"}
    assert (updated.version_constraint, updated.release_channel) == ("^2", "beta")
    assert not updated.pinned


def test_update_with_an_empty_channel_restores_the_default(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, release_channel="beta")
    assert _update(stub, org, created.id, ["release_channel"]).release_channel == "stable"


def test_update_clears_labels_when_masked_and_empty(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, labels={"team": "a"})
    assert dict(_update(stub, org, created.id, ["labels"]).labels) == {}


def test_update_connections(stub: Stub, org: str) -> None:
    db = create_instance(stub, org, name="db")
    app = create_instance(stub, org, name="app")
    assert dict(_update(stub, org, app.id, ["connections"], connections={"db": db.id}).connections) == {"db": db.id}


def test_update_connection_to_a_missing_instance_is_invalid(stub: Stub, org: str) -> None:
    app = create_instance(stub, org)
    found = failure(lambda: _update(stub, org, app.id, ["connections"], connections={"db": str(uuid.uuid4())}))
    assert (found.code, set(found.violations)) == (INVALID, {"instance.connections[db]"})
    assert dict(_get(stub, org, app.id).connections) == {}


def test_update_connection_to_another_orgs_instance_is_invalid(stub: Stub, org: str, other: Stub) -> None:
    app = create_instance(stub, org)
    theirs = create_instance(other, org + "-other", name="db")
    found = failure(lambda: _update(stub, org, app.id, ["connections"], connections={"db": theirs.id}))
    assert (found.code, set(found.violations)) == (INVALID, {"instance.connections[db]"})


def test_update_replicas_of_a_dynamic_instance(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, kind=I.KIND_DYNAMIC, replicas=1)
    assert _update(stub, org, created.id, ["replicas"], replicas=5).replicas == 5


def test_update_replicas_of_a_static_instance_is_invalid(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, kind=I.KIND_STATIC)
    found = failure(lambda: _update(stub, org, created.id, ["replicas"], replicas=2))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"instance.replicas"})
    assert _get(stub, org, created.id).replicas == 0


def test_update_replicas_out_of_range_is_invalid(stub: Stub, org: str) -> None:
    created = create_instance(stub, org, kind=I.KIND_DYNAMIC)
    found = failure(lambda: _update(stub, org, created.id, ["replicas"], replicas=101))
    assert (found.code, set(found.violations)) == (INVALID, {"instance.replicas"})


@pytest.mark.parametrize("path", ["kind", "bundle", "id", "secret_names", "pinned", "bogus"])
def test_update_of_an_immutable_or_unknown_path_is_invalid(stub: Stub, org: str, path: str) -> None:
    created = create_instance(stub, org)
    found = failure(lambda: _update(stub, org, created.id, [path], kind=I.KIND_DYNAMIC, bundle="other"))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"update_mask"})
    assert _get(stub, org, created.id) == created


def test_update_with_an_empty_mask_is_invalid(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    found = failure(lambda: _update(stub, org, created.id, [], name="other"))
    assert (found.code, set(found.violations)) == (INVALID, {"update_mask"})


def test_update_with_a_malformed_value_names_the_field(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    found = failure(lambda: _update(stub, org, created.id, ["name", "version_constraint"], name="Bad", version_constraint="nope"))
    assert (found.code, set(found.violations)) == (INVALID, {"instance.name", "instance.version_constraint"})


def test_update_with_a_malformed_id_is_invalid(stub: Stub, org: str) -> None:
    found = failure(lambda: _update(stub, org, "nope", ["name"], name="x"))
    assert (found.code, set(found.violations)) == (INVALID, {"id"})


def test_update_unknown_instance_is_not_found(stub: Stub, org: str) -> None:
    found = failure(lambda: _update(stub, org, str(uuid.uuid4()), ["name"], name="x"))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_update_another_orgs_instance_is_not_found(stub: Stub, org: str, other: Stub) -> None:
    theirs = create_instance(other, org + "-other")
    found = failure(lambda: _update(stub, org, theirs.id, ["name"], name="mine"))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    assert _get(other, org + "-other", theirs.id).name == "web"


def test_update_rename_onto_an_existing_name_is_already_exists(stub: Stub, org: str) -> None:
    create_instance(stub, org, name="taken")
    created = create_instance(stub, org, name="web")
    found = failure(lambda: _update(stub, org, created.id, ["name"], name="taken"))
    assert (found.code, found.reason) == (grpc.StatusCode.ALREADY_EXISTS, "INSTANCE_EXISTS")
    assert _get(stub, org, created.id).name == "web"


def test_update_move_onto_an_existing_name_is_already_exists(stub: Stub, org: str) -> None:
    create_instance(stub, org, name="web", environment="staging")
    created = create_instance(stub, org, name="web", environment="production")
    found = failure(lambda: _update(stub, org, created.id, ["environment"], environment="staging"))
    assert (found.code, found.reason) == (grpc.StatusCode.ALREADY_EXISTS, "INSTANCE_EXISTS")


# SetInstanceSecrets

SECRET = "s3cr3t-value-7f1e"


def test_secrets_set_lists_names_sorted(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    updated = _secrets(stub, org, created.id, {"zeta": "1", "alpha": "2", "db_password": SECRET})
    assert list(updated.secret_names) == ["alpha", "db_password", "zeta"]
    assert list(_get(stub, org, created.id).secret_names) == ["alpha", "db_password", "zeta"]


def test_secret_values_never_appear_in_responses(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    response = _secrets(stub, org, created.id, {"db_password": SECRET})
    got = _get(stub, org, created.id)
    listed = _list(stub, org)
    for message in (response, got, listed):
        assert SECRET.encode() not in message.SerializeToString()
    assert list(listed.instances[0].secret_names) == ["db_password"]


def test_secrets_overwrite_keeps_one_name(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    _secrets(stub, org, created.id, {"token": "first"})
    updated = _secrets(stub, org, created.id, {"token": "second"})
    assert list(updated.secret_names) == ["token"]


def test_secrets_remove_names(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    _secrets(stub, org, created.id, {"a": "1", "b": "2", "c": "3"})
    updated = _secrets(stub, org, created.id, {"d": "4"}, remove=["a", "c", "never-set"])
    assert list(updated.secret_names) == ["b", "d"]
    assert list(_get(stub, org, created.id).secret_names) == ["b", "d"]


def test_secrets_empty_request_is_invalid(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    found = failure(lambda: _secrets(stub, org, created.id))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"secrets"})


def test_secrets_oversized_value_is_invalid_without_echoing_it(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    value = "Q" * (8 * 1024 + 1)
    found = failure(lambda: _secrets(stub, org, created.id, {"blob": value}))
    assert (found.code, set(found.violations)) == (INVALID, {"secrets[blob]"})
    assert "QQQQ" not in found.violations["secrets[blob]"]
    assert "QQQQ" not in found.message
    assert list(_get(stub, org, created.id).secret_names) == []


def test_secrets_value_at_the_limit_is_accepted(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    assert list(_secrets(stub, org, created.id, {"blob": "Q" * (8 * 1024)}).secret_names) == ["blob"]


def test_secrets_bad_name_is_invalid(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    found = failure(lambda: _secrets(stub, org, created.id, {"1 bad": SECRET}))
    assert (found.code, set(found.violations)) == (INVALID, {"secrets[1 bad]"})
    assert SECRET not in found.message


def test_secrets_set_and_remove_the_same_name_is_invalid(stub: Stub, org: str) -> None:
    created = create_instance(stub, org)
    found = failure(lambda: _secrets(stub, org, created.id, {"token": "x"}, remove=["token"]))
    assert (found.code, set(found.violations)) == (INVALID, {"remove_names[0]"})


def test_secrets_unknown_instance_is_not_found(stub: Stub, org: str) -> None:
    found = failure(lambda: _secrets(stub, org, str(uuid.uuid4()), {"token": SECRET}))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_secrets_on_another_orgs_instance_is_not_found(stub: Stub, org: str, other: Stub) -> None:
    theirs = create_instance(other, org + "-other")
    found = failure(lambda: _secrets(stub, org, theirs.id, {"token": SECRET}))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    assert list(_get(other, org + "-other", theirs.id).secret_names) == []


def test_secrets_with_a_malformed_id_is_invalid(stub: Stub, org: str) -> None:
    found = failure(lambda: _secrets(stub, org, "nope", {"token": SECRET}))
    assert (found.code, set(found.violations)) == (INVALID, {"id"})
