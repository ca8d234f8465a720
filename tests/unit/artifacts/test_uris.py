"""Which objects an organization may name by reference, and the URI its release records for each."""

from __future__ import annotations

import uuid

import pytest

from server.artifacts.uris import referenced, store_key, supported

S3 = "s3://builds/rollout"
FOLDER = "file:///srv/rollout/artifacts"


@pytest.mark.parametrize(
    ("location", "uri", "recorded"),
    [
        (S3, "s3://builds/rollout/acme/ci/web-1.0.0.tgz", "store://acme/ci/web-1.0.0.tgz"),
        (S3, "store://acme/ci/web-1.0.0.tgz", "store://acme/ci/web-1.0.0.tgz"),
        ("s3://builds", "s3://builds/acme/web.tgz", "store://acme/web.tgz"),
        (FOLDER, "file:///srv/rollout/artifacts/acme/ci/web.tgz", "store://acme/ci/web.tgz"),
        # A file outside the folder store is external: recorded as it is, checked, never deleted.
        (FOLDER, "file:///srv/elsewhere/web.tgz", "file:///srv/elsewhere/web.tgz"),
        (S3, "file:///srv/elsewhere/web.tgz", "file:///srv/elsewhere/web.tgz"),
    ],
)
def test_an_object_of_the_store_is_recorded_in_the_store_form(location: str, uri: str, recorded: str) -> None:
    assert referenced(location, "acme", uri) == recorded


@pytest.mark.parametrize(
    ("location", "uri", "why"),
    [
        (S3, "s3://builds/rollout/globex/ci/web.tgz", "under acme/"),
        (S3, "store://globex/web.tgz", "under acme/"),
        (S3, "s3://builds/other-prefix/acme/web.tgz", "names no object"),
        (S3, "s3://another-bucket/rollout/acme/web.tgz", "names no object"),
        (S3, "s3://builds/rollout-x/acme/web.tgz", "names no object"),  # a prefix of the prefix is not inside
        (S3, f"store://acme/{uuid.uuid4()}", "hold uploaded releases"),
        (S3, "store://acme", "under acme/"),
        (S3, "store://acme/ci//web.tgz", "no empty parts"),
        (S3, "store://acme/ci/../web.tgz", "no empty parts"),
        (S3, "store://acme/ci/web 1.tgz", "letters, digits"),
        (S3, "store://acme/" + "k" * 1100, "at most 1024"),
        (S3, "store://_rollout/installations/x.json", "under acme/"),
        (FOLDER, "file:///srv/rollout/artifacts/globex/web.tgz", "under acme/"),
    ],
)
def test_objects_the_organization_may_not_name_are_refused_with_the_reason(location: str, uri: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        referenced(location, "acme", uri)


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("file:///srv/web.tgz", None),
        ("store://acme/web.tgz", None),
        ("s3://bucket/acme/web.tgz", None),
        ("file://host/srv/web.tgz", "must be absolute"),
        ("file:///srv/../etc/passwd", "must not contain"),
        ("s3://bucket", "names an object"),
        ("s3://bucket/key?versionId=1", "no query"),
        ("https://example.com/web.tgz", "unsupported scheme"),
    ],
)
def test_the_forms_an_artifact_may_be_named_by(uri: str, problem: str | None) -> None:
    found = supported(uri)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_only_store_uris_have_a_key() -> None:
    assert store_key("store://acme/ci/web.tgz") == "acme/ci/web.tgz"
    assert store_key("s3://builds/acme/ci/web.tgz") is None
    assert store_key("file:///srv/web.tgz") is None
