"""Releases through the real gRPC channel: publish, get, list, archive and artifact deletion."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, failure, publish

INVALID = grpc.StatusCode.INVALID_ARGUMENT
R = pb.Release


def _publish_request(org: str, content: bytes = b"", **release: object) -> api.PublishReleaseRequest:
    fields: dict[str, object] = {"bundle": "web", "version": "1.0.0"}
    fields.update(release)
    return api.PublishReleaseRequest(
        organization_id=org, release=pb.Release(**fields), artifact_content=content  # type: ignore[arg-type]
    )


def _invalid_publish(stub: Stub, org: str, content: bytes = b"", **release: object) -> dict[str, str]:
    found = failure(lambda: stub.PublishRelease(_publish_request(org, content, **release)))
    assert (found.code, found.reason) == (INVALID, "INVALID_ARGUMENT"), found
    return found.violations


def _get(stub: Stub, org: str, release_id: str) -> pb.Release:
    return stub.GetRelease(api.GetReleaseRequest(organization_id=org, id=release_id))


def _list(stub: Stub, org: str, **fields: object) -> api.ListReleasesResponse:
    return stub.ListReleases(api.ListReleasesRequest(organization_id=org, **fields))  # type: ignore[arg-type]


def _ids(stub: Stub, org: str, **fields: object) -> list[str]:
    return [r.id for r in _list(stub, org, **fields).releases]


def _archive(stub: Stub, org: str, release_id: str) -> pb.Release:
    return stub.ArchiveRelease(api.ArchiveReleaseRequest(organization_id=org, id=release_id))


def _delete_artifact(stub: Stub, org: str, release_id: str) -> pb.Release:
    return stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=release_id))


# PublishRelease


def test_publish_inline_artifact_is_kept_by_the_store(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.2.3", artifact_content=b"bytes")
    assert uuid.UUID(release.id)
    assert release.artifact_uri.startswith("store://")
    assert release.artifact_present
    assert (release.bundle, release.version) == ("web", "1.2.3")
    assert release.state == R.STATE_READY
    assert release.release_channel == "stable"
    assert release.schema_version == 0
    assert release.HasField("create_time")


def test_publish_keeps_channel_schema_version_and_prerelease(stub: Stub, org: str) -> None:
    release = publish(stub, org, "2.0.0-rc.1", release_channel="beta", schema_version=3)
    assert (release.version, release.release_channel, release.schema_version) == ("2.0.0-rc.1", "beta", 3)


def test_publish_external_file_uri(stub: Stub, org: str, artifact_file: Path) -> None:
    uri = artifact_file.as_uri()
    release = publish(stub, org, "1.0.0", artifact_uri=uri)
    assert release.artifact_uri == uri
    assert release.artifact_present
    assert _get(stub, org, release.id).artifact_present


def test_publish_external_file_that_does_not_exist_is_not_present(stub: Stub, org: str, tmp_path: Path) -> None:
    release = publish(stub, org, "1.0.0", artifact_uri=(tmp_path / "missing.tgz").as_uri())
    assert not release.artifact_present


def test_publish_with_both_artifact_uri_and_content_is_invalid(stub: Stub, org: str, artifact_file: Path) -> None:
    violations = _invalid_publish(stub, org, b"bytes", artifact_uri=artifact_file.as_uri())
    assert set(violations) == {"artifact_content"}
    assert list(_list(stub, org).releases) == []


def test_publish_with_neither_artifact_uri_nor_content_is_invalid(stub: Stub, org: str) -> None:
    assert set(_invalid_publish(stub, org)) == {"release.artifact_uri"}


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "01.2.3", "1.2.3-", "latest", "1.2.3.4"])
def test_publish_with_an_invalid_semver_is_invalid(stub: Stub, org: str, version: str) -> None:
    assert set(_invalid_publish(stub, org, b"x", version=version)) == {"release.version"}


def test_publish_without_a_version_or_bundle_is_invalid(stub: Stub, org: str) -> None:
    assert set(_invalid_publish(stub, org, b"x", version="", bundle="")) == {"release.version", "release.bundle"}


def test_publish_without_a_release_is_invalid(stub: Stub, org: str) -> None:
    found = failure(lambda: stub.PublishRelease(api.PublishReleaseRequest(organization_id=org, artifact_content=b"x")))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"release"})


@pytest.mark.parametrize(
    "uri", ["https://x", "s3://bucket/key", "store://someone/else", "file://relative/path", "no-scheme"]
)
def test_publish_with_an_unsupported_uri_is_invalid(stub: Stub, org: str, uri: str) -> None:
    assert set(_invalid_publish(stub, org, artifact_uri=uri)) == {"release.artifact_uri"}


def test_publish_failed_state_is_allowed(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0", state=R.STATE_FAILED)
    assert release.state == R.STATE_FAILED
    assert _get(stub, org, release.id).state == R.STATE_FAILED


def test_publish_explicit_ready_state_is_allowed(stub: Stub, org: str) -> None:
    assert publish(stub, org, "1.0.0", state=R.STATE_READY).state == R.STATE_READY


@pytest.mark.parametrize("state", [R.STATE_ARCHIVED, 9])
def test_publish_archived_or_unknown_state_is_invalid(stub: Stub, org: str, state: int) -> None:
    assert set(_invalid_publish(stub, org, b"x", state=state)) == {"release.state"}


def test_publish_with_a_negative_schema_version_is_invalid(stub: Stub, org: str) -> None:
    assert set(_invalid_publish(stub, org, b"x", schema_version=-1)) == {"release.schema_version"}


def test_publish_with_a_malformed_bundle_or_channel_is_invalid(stub: Stub, org: str) -> None:
    violations = _invalid_publish(stub, org, b"x", bundle="Web App", release_channel="Beta!")
    assert set(violations) == {"release.bundle", "release.release_channel"}


def test_publish_oversized_inline_artifact_is_invalid(stub: Stub, org: str) -> None:
    assert set(_invalid_publish(stub, org, b"x" * (1024 * 1024 + 1))) == {"artifact_content"}


def test_publish_duplicate_bundle_version_is_already_exists(stub: Stub, org: str) -> None:
    first = publish(stub, org, "1.0.0")
    found = failure(lambda: publish(stub, org, "1.0.0", artifact_content=b"other bytes"))
    assert (found.code, found.reason) == (grpc.StatusCode.ALREADY_EXISTS, "RELEASE_EXISTS")
    assert _ids(stub, org) == [first.id]
    # The refused upload must not disturb the existing release's artifact.
    assert _get(stub, org, first.id).artifact_present


def test_publish_same_version_of_another_bundle_is_fine(stub: Stub, org: str) -> None:
    web = publish(stub, org, "1.0.0", bundle="web")
    api_release = publish(stub, org, "1.0.0", bundle="api")
    assert web.id != api_release.id


def test_publish_same_version_in_another_org_is_fine(stub: Stub, org: str, other: Stub) -> None:
    mine = publish(stub, org, "1.0.0")
    theirs = publish(other, org + "-other", "1.0.0")
    assert mine.id != theirs.id
    assert _ids(stub, org) == [mine.id]


# GetRelease


def test_get_returns_the_published_release(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0", schema_version=2)
    assert _get(stub, org, release.id) == release


def test_get_unknown_release_is_not_found(stub: Stub, org: str) -> None:
    found = failure(lambda: _get(stub, org, str(uuid.uuid4())))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_get_another_orgs_release_is_not_found(stub: Stub, org: str, other: Stub) -> None:
    theirs = publish(other, org + "-other", "1.0.0")
    found = failure(lambda: _get(stub, org, theirs.id))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


@pytest.mark.parametrize("bad_id", ["", "nope", "00000000000000000000000000000000"])
def test_get_with_a_malformed_id_is_invalid(stub: Stub, org: str, bad_id: str) -> None:
    found = failure(lambda: _get(stub, org, bad_id))
    assert (found.code, found.reason, set(found.violations)) == (INVALID, "INVALID_ARGUMENT", {"id"})


# ListReleases


def test_list_defaults_to_newest_first(stub: Stub, org: str) -> None:
    ids = [publish(stub, org, f"1.{i}.0").id for i in range(4)]
    assert _ids(stub, org) == ids[::-1]
    assert _ids(stub, org, order_by="create_time desc") == ids[::-1]
    assert _ids(stub, org, order_by="create_time asc") == ids


def test_list_filters_by_bundle_and_state(stub: Stub, org: str) -> None:
    ready = publish(stub, org, "1.0.0", bundle="x")
    publish(stub, org, "1.1.0", bundle="x", state=R.STATE_FAILED)
    publish(stub, org, "1.0.0", bundle="y")
    assert _ids(stub, org, filter="bundle = x AND state = READY") == [ready.id]


def test_list_filters_by_state_with_enum_prefix(stub: Stub, org: str) -> None:
    publish(stub, org, "1.0.0")
    failed = publish(stub, org, "1.1.0", state=R.STATE_FAILED)
    assert _ids(stub, org, filter="state = STATE_FAILED") == [failed.id]
    assert _ids(stub, org, filter="state = FAILED") == [failed.id]


def test_list_filters_archived(stub: Stub, org: str) -> None:
    old = publish(stub, org, "1.0.0")
    new = publish(stub, org, "1.1.0")
    _archive(stub, org, old.id)
    assert _ids(stub, org, filter="state = ARCHIVED") == [old.id]
    assert _ids(stub, org, filter="state = READY") == [new.id]


def test_list_filters_by_release_channel(stub: Stub, org: str) -> None:
    publish(stub, org, "1.0.0")
    beta = publish(stub, org, "1.1.0-beta.1", release_channel="beta")
    assert _ids(stub, org, filter="release_channel = beta") == [beta.id]


def test_list_pages_through_every_release_exactly_once(stub: Stub, org: str) -> None:
    ids = [publish(stub, org, f"1.{i}.0").id for i in range(7)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = _list(stub, org, page_size=3, page_token=token)
        pages += 1
        seen += [r.id for r in page.releases]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids[::-1]
    assert pages == 3


def test_list_pages_with_a_filter(stub: Stub, org: str) -> None:
    ids = [publish(stub, org, f"1.{i}.0", bundle="x").id for i in range(3)]
    publish(stub, org, "1.0.0", bundle="y")
    first = _list(stub, org, filter="bundle = x", page_size=2)
    second = _list(stub, org, filter="bundle = x", page_size=2, page_token=first.next_page_token)
    assert [r.id for r in (*first.releases, *second.releases)] == ids[::-1]
    assert second.next_page_token == ""


def test_list_never_shows_another_orgs_releases(stub: Stub, org: str, other: Stub) -> None:
    mine = publish(stub, org, "1.0.0")
    publish(other, org + "-other", "2.0.0")
    assert _ids(stub, org) == [mine.id]


def _list_failure(stub: Stub, org: str, **fields: object) -> dict[str, str]:
    found = failure(lambda: _list(stub, org, **fields))
    assert (found.code, found.reason) == (INVALID, "INVALID_ARGUMENT"), found
    return found.violations


@pytest.mark.parametrize(
    "bad_filter", ["state = BOGUS", "state = UNSPECIFIED", "state = STATE_UNSPECIFIED", "color = red", "bundle ~ x",
                   "bundle != x", "bundle = x AND"],
)
def test_list_with_a_bad_filter_is_invalid(stub: Stub, org: str, bad_filter: str) -> None:
    assert set(_list_failure(stub, org, filter=bad_filter)) == {"filter"}


@pytest.mark.parametrize("order_by", ["version desc", "create_time sideways"])
def test_list_with_a_bad_order_by_is_invalid(stub: Stub, org: str, order_by: str) -> None:
    assert set(_list_failure(stub, org, order_by=order_by)) == {"order_by"}


def test_list_with_a_garbage_page_token_is_invalid(stub: Stub, org: str) -> None:
    assert set(_list_failure(stub, org, page_token="not-a-token")) == {"page_token"}


def test_list_token_reused_with_a_different_filter_is_invalid(stub: Stub, org: str) -> None:
    for i in range(3):
        publish(stub, org, f"1.{i}.0")
    token = _list(stub, org, page_size=1).next_page_token
    assert set(_list_failure(stub, org, page_size=1, page_token=token, filter="state = READY")) == {"page_token"}


def test_list_with_a_page_size_out_of_range_is_invalid(stub: Stub, org: str) -> None:
    assert set(_list_failure(stub, org, page_size=1001)) == {"page_size"}


# ArchiveRelease


def test_archive_ready_release(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0")
    archived = _archive(stub, org, release.id)
    assert archived.state == R.STATE_ARCHIVED and archived.id == release.id
    assert archived.artifact_present
    assert _get(stub, org, release.id).state == R.STATE_ARCHIVED


def test_archive_is_idempotent(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0")
    first = _archive(stub, org, release.id)
    again = _archive(stub, org, release.id)
    assert again == first


def test_archive_failed_release_is_failed_precondition(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0", state=R.STATE_FAILED)
    found = failure(lambda: _archive(stub, org, release.id))
    assert (found.code, found.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RELEASE_NOT_READY")
    assert _get(stub, org, release.id).state == R.STATE_FAILED


def test_archive_unknown_release_is_not_found(stub: Stub, org: str) -> None:
    found = failure(lambda: _archive(stub, org, str(uuid.uuid4())))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_archive_another_orgs_release_is_not_found(stub: Stub, org: str, other: Stub) -> None:
    theirs = publish(other, org + "-other", "1.0.0")
    found = failure(lambda: _archive(stub, org, theirs.id))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    assert _get(other, org + "-other", theirs.id).state == R.STATE_READY


def test_archive_with_a_malformed_id_is_invalid(stub: Stub, org: str) -> None:
    found = failure(lambda: _archive(stub, org, "nope"))
    assert (found.code, set(found.violations)) == (INVALID, {"id"})


# DeleteReleaseArtifact


def test_delete_store_artifact_marks_it_absent(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0")
    deleted = _delete_artifact(stub, org, release.id)
    assert not deleted.artifact_present
    assert (deleted.id, deleted.state, deleted.artifact_uri) == (release.id, R.STATE_READY, release.artifact_uri)
    assert not _get(stub, org, release.id).artifact_present
    assert not _list(stub, org).releases[0].artifact_present


def test_delete_store_artifact_twice_is_fine(stub: Stub, org: str) -> None:
    release = publish(stub, org, "1.0.0")
    first = _delete_artifact(stub, org, release.id)
    again = _delete_artifact(stub, org, release.id)
    assert again == first and not again.artifact_present


def test_delete_one_artifact_leaves_the_others(stub: Stub, org: str) -> None:
    gone = publish(stub, org, "1.0.0")
    kept = publish(stub, org, "1.1.0")
    _delete_artifact(stub, org, gone.id)
    assert _get(stub, org, kept.id).artifact_present


def test_delete_external_artifact_is_failed_precondition(stub: Stub, org: str, artifact_file: Path) -> None:
    release = publish(stub, org, "1.0.0", artifact_uri=artifact_file.as_uri())
    found = failure(lambda: _delete_artifact(stub, org, release.id))
    assert (found.code, found.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ARTIFACT_EXTERNAL")
    assert artifact_file.exists()
    assert _get(stub, org, release.id).artifact_present


def test_external_artifact_removed_from_disk_shows_absent(stub: Stub, org: str, artifact_file: Path) -> None:
    release = publish(stub, org, "1.0.0", artifact_uri=artifact_file.as_uri())
    artifact_file.unlink()
    assert not _get(stub, org, release.id).artifact_present
    assert not _list(stub, org).releases[0].artifact_present


def test_delete_unknown_release_is_not_found(stub: Stub, org: str) -> None:
    found = failure(lambda: _delete_artifact(stub, org, str(uuid.uuid4())))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_delete_another_orgs_artifact_is_not_found(stub: Stub, org: str, other: Stub) -> None:
    theirs = publish(other, org + "-other", "1.0.0")
    found = failure(lambda: _delete_artifact(stub, org, theirs.id))
    assert (found.code, found.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    assert _get(other, org + "-other", theirs.id).artifact_present


def test_delete_with_a_malformed_id_is_invalid(stub: Stub, org: str) -> None:
    found = failure(lambda: _delete_artifact(stub, org, "nope"))
    assert (found.code, set(found.violations)) == (INVALID, {"id"})
