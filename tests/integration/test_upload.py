"""UploadRelease: artifacts larger than the inline 1 MiB, streamed in chunks and checked against their sha256."""

from __future__ import annotations

import hashlib
import os

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, failure, upload
from tests.stack import Stack


def test_a_large_artifact_streams_in_and_is_described(stub: Stub, org: str) -> None:
    content = os.urandom(5 * 1024 * 1024 + 17)

    release = upload(stub, org, "1.0.0", content)

    assert (release.sha256, release.size_bytes) == (hashlib.sha256(content).hexdigest(), len(content))
    assert release.artifact_present and release.artifact_uri.startswith("store://")
    assert not release.is_bundle
    assert stub.GetRelease(api.GetReleaseRequest(organization_id=org, id=release.id)) == release


def test_a_digest_that_does_not_match_is_refused_and_nothing_is_kept(stub: Stub, org: str, stack: Stack) -> None:
    wrong = failure(lambda: upload(stub, org, "1.0.0", b"the content", sha256="0" * 64))

    assert (wrong.code, list(wrong.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["sha256"])
    assert list(stub.ListReleases(api.ListReleasesRequest(organization_id=org)).releases) == []
    held = stack.workdir / "data" / "artifacts" / org
    assert not held.exists() or list(held.iterdir()) == []
    # The version is still free: the refused upload recorded nothing.
    assert upload(stub, org, "1.0.0", b"the content").version == "1.0.0"


def test_a_repeat_with_its_key_replays_and_keeps_one_release(stub: Stub, org: str) -> None:
    first, call = stub.UploadRelease.with_call(iter(_messages(org, "1.0.0", b"abc", request_id="up-1")))
    again, replay = stub.UploadRelease.with_call(iter(_messages(org, "1.0.0", b"abc", request_id="up-1")))

    assert again == first
    assert dict(replay.initial_metadata()).get("idempotent-replayed") == "true"
    assert len(stub.ListReleases(api.ListReleasesRequest(organization_id=org)).releases) == 1


def test_bad_upload_requests_are_invalid(stub: Stub, org: str) -> None:
    empty = failure(lambda: stub.UploadRelease(iter([])))
    no_digest = failure(lambda: upload(stub, org, "1.0.0", b"x", sha256=""))
    with_uri = failure(lambda: upload(stub, org, "1.0.0", b"x", artifact_uri="file:///etc/hosts"))
    big_chunk = failure(lambda: upload(stub, org, "1.0.0", b"y" * (1024 * 1024 + 1), chunk=2 * 1024 * 1024))

    assert all(f.code == grpc.StatusCode.INVALID_ARGUMENT for f in (empty, no_digest, with_uri, big_chunk))
    assert "sha256" in no_digest.violations and "release.artifact_uri" in with_uri.violations
    assert "content" in big_chunk.violations


def _messages(org: str, version: str, content: bytes, request_id: str) -> list[api.UploadReleaseRequest]:
    return [
        api.UploadReleaseRequest(
            organization_id=org, request_id=request_id, release=pb.Release(bundle="web", version=version),
            sha256=hashlib.sha256(content).hexdigest(),
        ),
        api.UploadReleaseRequest(content=content),
    ]
