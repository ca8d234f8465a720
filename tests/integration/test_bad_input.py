"""Bad input gets INVALID_ARGUMENT with field violations and leaves nothing behind (docs/product.md §8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, create_instance, failure, propose, publish, sql_value

SERVICE = "/rollout.v1.RolloutService/"
GOOD_ID = "00000000-0000-4000-8000-000000000000"


def rows_of(database_url: str, org: str) -> dict[str, int]:
    tables = ("instances", "releases", "deployments", "deployment_events")
    return {t: sql_value(database_url, f"SELECT count(*) FROM {t} WHERE organization_id = $1", org) for t in tables}


def big_params() -> struct_pb2.Struct:
    params = struct_pb2.Struct()
    params.update({"blob": "x" * (64 * 1024)})  # the limit is 64 KiB of JSON
    return params


def nul_params() -> struct_pb2.Struct:
    params = struct_pb2.Struct()
    params.update({"k": "a\x00b"})
    return params


def nan_params() -> struct_pb2.Struct:
    params = struct_pb2.Struct()
    params.update({"k": float("nan")})
    return params


def instance(**fields: Any) -> pb.Instance:
    base: dict[str, Any] = {
        "name": "web", "project": "shop", "environment": "production", "bundle": "web", "kind": pb.Instance.KIND_STATIC,
    }
    base.update(fields)
    return pb.Instance(**base)


CREATE_CASES = [
    ({"organization_id": ""}, "organization_id"),
    ({"organization_id": "Acme Corp"}, "organization_id"),
    ({"request_id": "has space"}, "request_id"),
    ({"request_id": "k" * 256}, "request_id"),
    ({"instance": None}, "instance"),
    ({"instance": instance(name="")}, "instance.name"),
    ({"instance": instance(name="ünïcode")}, "instance.name"),
    ({"instance": instance(project="")}, "instance.project"),
    ({"instance": instance(bundle="")}, "instance.bundle"),
    ({"instance": instance(kind=pb.Instance.KIND_UNSPECIFIED)}, "instance.kind"),
    ({"instance": instance(kind=42)}, "instance.kind"),
    ({"instance": instance(replicas=3)}, "instance.replicas"),
    ({"instance": instance(kind=pb.Instance.KIND_DYNAMIC, replicas=1000)}, "instance.replicas"),
    ({"instance": instance(params=big_params())}, "instance.params"),
    ({"instance": instance(params=nul_params())}, "instance.params"),
    ({"instance": instance(params=nan_params())}, "instance.params"),
    ({"instance": instance(connections={"db": "not-a-uuid"})}, "instance.connections[db]"),
    ({"instance": instance(connections={"db": GOOD_ID})}, "instance.connections[db]"),
    ({"instance": instance(labels={"Bad Key": "v"})}, "instance.labels[Bad Key]"),
    ({"instance": instance(version_constraint=">>1")}, "instance.version_constraint"),
]


@pytest.mark.parametrize(("fields", "field"), CREATE_CASES)
def test_create_instance_bad_input(
    stub: Stub, org: str, backends: tuple[str, str], fields: dict[str, Any], field: str
) -> None:
    request: dict[str, Any] = {"organization_id": org, "instance": instance()}
    request.update(fields)
    if request["instance"] is None:
        del request["instance"]

    f = failure(lambda: stub.CreateInstance(api.CreateInstanceRequest(**request)))

    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert field in f.violations, f.violations
    assert rows_of(backends[0], org) == {"instances": 0, "releases": 0, "deployments": 0, "deployment_events": 0}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, o: s.GetInstance(api.GetInstanceRequest(organization_id=o, id="123")), "id"),
        (lambda s, o: s.GetInstance(api.GetInstanceRequest(organization_id=o)), "id"),
        (lambda s, o: s.GetRelease(api.GetReleaseRequest(organization_id=o, id="x" * 10_000)), "id"),
        (lambda s, o: s.GetDeployment(api.GetDeploymentRequest(organization_id=o, id="'; DROP TABLE x")), "id"),
        (lambda s, o: s.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=o, id="")), "id"),
        (lambda s, o: s.RejectDeployment(api.RejectDeploymentRequest(organization_id=o, id=GOOD_ID, reason="r" * 5000)), "reason"),
        (lambda s, o: s.ProposeDeployment(api.ProposeDeploymentRequest(organization_id=o)), "instance_id"),
        (lambda s, o: s.ProposeDeployment(api.ProposeDeploymentRequest(organization_id=o, instance_id=GOOD_ID, bundle_release_id="v1")), "bundle_release_id"),
        (lambda s, o: s.ListInstances(api.ListInstancesRequest(organization_id=o, page_token="%%%")), "page_token"),
        (lambda s, o: s.ListReleases(api.ListReleasesRequest(organization_id=o, filter="state = SHIPPED")), "filter"),
        (lambda s, o: s.ListReleases(api.ListReleasesRequest(organization_id=o, filter='bundle = "\\q"')), "filter"),
        (lambda s, o: s.ListDeployments(api.ListDeploymentsRequest(organization_id=o, instance_id="nope")), "instance_id"),
        (lambda s, o: s.PublishRelease(api.PublishReleaseRequest(organization_id=o, release=pb.Release(bundle="web", version="1.0"), artifact_content=b"x")), "release.version"),
        (lambda s, o: s.PublishRelease(api.PublishReleaseRequest(organization_id=o, release=pb.Release(bundle="web", version="1.0.0", state=9), artifact_content=b"x")), "release.state"),
        (lambda s, o: s.PublishRelease(api.PublishReleaseRequest(organization_id=o, release=pb.Release(bundle="web", version="1.0.0"), artifact_content=b"x" * (1024 * 1024 + 1))), "artifact_content"),
        (lambda s, o: s.PublishRelease(api.PublishReleaseRequest(organization_id=o, release=pb.Release(bundle="web", version="1.0.0", artifact_uri="file://relative"))), "release.artifact_uri"),
        (lambda s, o: s.UpdateInstance(api.UpdateInstanceRequest(organization_id=o, id=GOOD_ID, update_mask=field_mask_pb2.FieldMask(paths=["kind"]))), "update_mask"),
        (lambda s, o: s.SetInstanceSecrets(api.SetInstanceSecretsRequest(organization_id=o, id=GOOD_ID)), "secrets"),
        (lambda s, o: s.WatchDeployment(api.WatchDeploymentRequest(organization_id=o, id=GOOD_ID, after_sequence=-1)).next(), "after_sequence"),
        (lambda s, o: s.WatchInstance(api.WatchInstanceRequest(organization_id=o, id="zz")).next(), "id"),
    ],
)
def test_bad_arguments_name_the_field(stub: Stub, org: str, backends: tuple[str, str], call: Any, field: str) -> None:
    f = failure(lambda: call(stub, org))

    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert field in f.violations, f.violations
    assert sum(rows_of(backends[0], org).values()) == 0


def test_refused_publish_leaves_no_artifact_behind(stub: Stub, org: str, stack: Any) -> None:
    publish(stub, org, "1.0.0")
    artifacts = Path(stack.env()["ROLLOUT_DATA_DIR"]) / "artifacts" / org
    before = sorted(os.listdir(artifacts))

    f = failure(lambda: publish(stub, org, "1.0.0"))

    assert f.reason == "RELEASE_EXISTS"
    assert sorted(os.listdir(artifacts)) == before


@pytest.mark.parametrize(
    "payload",
    # Random bytes alone sometimes decode (as unknown fields): random content behind a length it cannot meet.
    [b"\xff\xff\xff\xff", b"\x0a\xff\x01", b"\x0a\x7f" + os.urandom(64), b"\x12\x04\xc3\x28\xa0\xa1"],
)
@pytest.mark.parametrize("method", ["CreateInstance", "GetDeployment", "ApproveDeployment", "ListDeployments"])
def test_undecodable_bytes_are_invalid_argument(channel: grpc.Channel, method: str, payload: bytes) -> None:
    call = channel.unary_unary(SERVICE + method, request_serializer=None, response_deserializer=None)
    try:
        call(payload, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
    else:
        pytest.fail("garbage bytes were accepted")


ALWAYS_UNDECODABLE = [b"\xff\xff\xff\xff", b"\x0a\xff\x01", b"\x08", b"\x0f"]  # whatever the message type


def raw_call(channel: grpc.Channel, path: str, payload: bytes) -> None:
    """Send `payload` as the request of `path`, unary or streaming, and read the first answer."""
    if path.endswith("/Watch"):
        next(channel.unary_stream(path, request_serializer=None, response_deserializer=None)(payload, timeout=10))
    elif path.endswith("/ServerReflectionInfo"):
        stream = channel.stream_stream(path, request_serializer=None, response_deserializer=None)
        next(stream(iter([payload]), timeout=10))
    else:
        channel.unary_unary(path, request_serializer=None, response_deserializer=None)(payload, timeout=10)


@pytest.mark.parametrize("payload", ALWAYS_UNDECODABLE)
@pytest.mark.parametrize(
    "path",
    [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/List",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ],
)
def test_health_and_reflection_refuse_undecodable_bytes(channel: grpc.Channel, path: str, payload: bytes) -> None:
    f = failure(lambda: raw_call(channel, path, payload))

    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), f.message
    assert "request" in f.violations


def test_huge_message_is_refused_with_a_clear_status(stub: Stub, org: str) -> None:
    f = failure(
        lambda: stub.PublishRelease(
            api.PublishReleaseRequest(
                organization_id=org, release=pb.Release(bundle="web", version="1.0.0"), artifact_content=b"x" * (5 << 20)
            )
        )
    )
    assert f.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_unknown_enum_value_in_filter_and_create_leave_nothing(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    created = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    propose(stub, org, created.id)
    before = rows_of(backends[0], org)

    f = failure(
        lambda: stub.ListDeployments(
            api.ListDeploymentsRequest(organization_id=org, instance_id=created.id, filter="action = ROLLBACK")
        )
    )

    assert f.violations.keys() == {"filter"}
    assert rows_of(backends[0], org) == before


@pytest.mark.parametrize(
    ("names", "field"),
    [
        (["a\x00b"], "remove_names[0]"),  # PostgreSQL cannot hold NUL: was INTERNAL
        (["token", "x" * 5000], "remove_names[1]"),
        (["n"] * 40_000, "remove_names"),  # past asyncpg's 32,767 query arguments: was UNAVAILABLE
    ],
)
def test_secret_names_to_remove_are_checked(stub: Stub, org: str, names: list[str], field: str) -> None:
    created = create_instance(stub, org)
    request = api.SetInstanceSecretsRequest(organization_id=org, id=created.id, remove_names=names)

    f = failure(lambda: stub.SetInstanceSecrets(request))

    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert field in f.violations, f.violations


@pytest.mark.parametrize(
    "body",
    ["(" * 700 + "true" + ")" * 700, "[" * 700 + "]" * 700 + " == []", "{a: " * 700 + "1" + "}" * 700 + " == {}"],
)
def test_deeply_nested_policy_is_invalid_and_the_server_lives(stub: Stub, org: str, body: str) -> None:
    # Before the check, cedarpy's parser overflowed the native stack and killed the server (SIGSEGV).
    cedar = f"permit(principal, action, resource) when {{ {body} }};"
    request = api.PutPolicyRequest(organization_id=org, policy=pb.Policy(name="deep", cedar=cedar))

    f = failure(lambda: stub.PutPolicy(request))

    assert (f.code, list(f.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["policy.cedar"])
    assert stub.ListPolicies(api.ListPoliciesRequest(organization_id=org)).policies
