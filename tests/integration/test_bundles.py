"""Bundles at publish (docs/bundles.md): manifests checked, malicious archives refused, servable releases for DYNAMIC."""

from __future__ import annotations

import io
import tarfile

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    create_instance,
    deploy,
    failure,
    publish,
    publish_servable,
    rollback,
    sql_script,
    upload,
)
from tests.stack import Stack
from tools.bundle import build

MANIFEST = b'[serve]\ncommand = ["python3", "app.py"]\n'


def malicious(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> bytes:
    """A bundle with a valid manifest and one bad member."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        manifest = tarfile.TarInfo("rollout.toml")
        manifest.size = len(MANIFEST)
        tar.addfile(manifest, io.BytesIO(MANIFEST))
        bad = tarfile.TarInfo(name)
        bad.type, bad.linkname = kind, link
        bad.size = 4 if kind == tarfile.REGTYPE else 0
        tar.addfile(bad, io.BytesIO(b"evil") if kind == tarfile.REGTYPE else None)
    return out.getvalue()


def releases(stub: Stub, org: str) -> list[pb.Release]:
    return list(stub.ListReleases(api.ListReleasesRequest(organization_id=org)).releases)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (malicious("../../etc/cron.d/evil"), "escapes the bundle's folder"),
        (malicious("/etc/cron.d/evil"), "has an absolute path"),
        (malicious("link", tarfile.SYMTYPE, "/etc/passwd"), "is a symlink pointing out"),
        (malicious("app/link", tarfile.SYMTYPE, "../../../home"), "is a symlink pointing out"),
        (malicious("hard", tarfile.LNKTYPE, "../../etc/shadow"), "is a hard link pointing out"),
    ],
    ids=["dot-dot", "absolute", "symlink to an absolute path", "symlink up", "hard link up"],
)
def test_a_malicious_archive_is_refused_at_publish_and_nothing_is_kept(
    stub: Stub, org: str, stack: Stack, content: bytes, problem: str
) -> None:
    for attempt in (lambda: publish(stub, org, "1.0.0", artifact_content=content), lambda: upload(stub, org, "1.0.0", content)):
        refused = failure(attempt)
        assert (refused.code, list(refused.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["artifact"])
        assert problem in refused.violations["artifact"]
    assert releases(stub, org) == []
    assert not list((stack.workdir / "data" / "artifacts" / org).glob("*")), "the refused artifact's object is gone"


def test_a_bad_manifest_is_refused_naming_its_fields(stub: Stub, org: str) -> None:
    bad = build({"rollout.toml": b'[serve]\ncommand = "python3 app.py"\n[health]\nstatus = 42\nretries = 3\n'}, "1.0.0")
    refused = failure(lambda: publish(stub, org, "1.0.0", artifact_content=bad))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(refused.violations) == {"manifest.serve.command", "manifest.health.status", "manifest.health.retries"}
    assert releases(stub, org) == []


def test_what_a_release_is(stub: Stub, org: str) -> None:
    plain = publish(stub, org, "1.0.0", artifact_content=b"index.html")
    static_site = build({"index.html": b"<h1>hello</h1>"}, "1.1.0")
    site = publish(stub, org, "1.1.0", artifact_content=static_site)
    jobs = publish(stub, org, "1.2.0", artifact_content=build({"rollout.toml": b'[provision]\ncommand = ["./migrate"]\n'}))
    servable = publish_servable(stub, org, "1.3.0")
    assert [(r.is_bundle, r.servable) for r in (plain, site, jobs, servable)] == [
        (False, False),
        (False, False),
        (True, False),
        (True, True),
    ]


def test_a_dynamic_instance_is_refused_a_release_it_cannot_serve_before_anything_runs(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=1)
    plain = publish(stub, org, "1.0.0")
    for call in (
        lambda: stub.ProposeDeployment(api.ProposeDeploymentRequest(organization_id=org, instance_id=instance.id)),
        lambda: stub.ProposeDeployment(
            api.ProposeDeploymentRequest(organization_id=org, instance_id=instance.id, bundle_release_id=plain.id)
        ),
    ):
        refused = failure(call)
        assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RELEASE_NOT_SERVABLE")
    listed = stub.ListDeployments(api.ListDeploymentsRequest(organization_id=org, instance_id=instance.id))
    assert list(listed.deployments) == []


def test_rolling_back_to_a_release_it_cannot_serve_is_refused(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=1)
    old = publish_servable(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    publish_servable(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    # A release published before bundles existed: its artifact was a plain file.
    sql_script(backends[0], f"UPDATE releases SET manifest = NULL WHERE id = '{old.id}'")

    refused = failure(lambda: rollback(stub, org, first.id))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RELEASE_NOT_SERVABLE")
    previous_good = api.RollbackDeploymentRequest(
        organization_id=org, instance_id=instance.id, target=api.RollbackDeploymentRequest.TARGET_PREVIOUS_GOOD
    )
    assert failure(lambda: stub.RollbackDeployment(previous_good)).reason == "NO_ROLLBACK_TARGET"
