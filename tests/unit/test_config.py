"""ROLLOUT_ARTIFACT_STORE and the AWS variables: what a process starts with, and what stops it at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ArtifactSettings


def test_the_default_store_is_the_folder_under_the_data_dir() -> None:
    found = ArtifactSettings.from_env({"ROLLOUT_DATA_DIR": "/srv/rollout"})
    assert found.store == Path("/srv/rollout/artifacts").as_uri()
    assert (found.endpoint, found.access_key_id) == ("", "")


def test_an_s3_store_takes_the_standard_aws_variables_and_never_shows_credentials() -> None:
    found = ArtifactSettings.from_env(
        {
            "ROLLOUT_ARTIFACT_STORE": "s3://builds/rollout/",
            "AWS_ENDPOINT_URL": "https://s3.example.com",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "very-secret",
            "AWS_SESSION_TOKEN": "session-secret",
            "ROLLOUT_ARTIFACT_STORE_TIMEOUT_SECONDS": "3",
        }
    )
    assert (found.store, found.endpoint, found.region, found.timeout_seconds) == (
        "s3://builds/rollout", "https://s3.example.com", "eu-west-1", 3.0,
    )
    assert (found.access_key_id, found.secret_access_key, found.session_token) == (
        "AKIAEXAMPLE", "very-secret", "session-secret",
    )
    assert not [value for value in ("AKIAEXAMPLE", "very-secret", "session-secret") if value in repr(found)]


def test_the_s3_specific_endpoint_wins_over_the_general_one() -> None:
    found = ArtifactSettings.from_env(
        {"ROLLOUT_ARTIFACT_STORE": "s3://b", "AWS_ENDPOINT_URL": "https://a.example", "AWS_ENDPOINT_URL_S3": "https://s3.example"}
    )
    assert found.endpoint == "https://s3.example"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROLLOUT_ARTIFACT_STORE": "/srv/artifacts"}, "use file:///absolute/folder or s3://bucket/prefix"),
        ({"ROLLOUT_ARTIFACT_STORE": "gs://bucket"}, "use file:///absolute/folder or s3://bucket/prefix"),
        ({"ROLLOUT_ARTIFACT_STORE": "file://host/srv"}, "must be an absolute file:///path"),
        ({"ROLLOUT_ARTIFACT_STORE": "s3://"}, "must be s3://bucket or s3://bucket/prefix"),
        ({"ROLLOUT_ARTIFACT_STORE": "s3://b", "AWS_ENDPOINT_URL": "http://s3.example.com"}, "must be https://"),
        ({"ROLLOUT_ARTIFACT_STORE_TIMEOUT_SECONDS": "soon"}, "is not a number"),
    ],
)
def test_a_bad_setting_stops_the_process_saying_what_to_set(env: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        ArtifactSettings.from_env(env)


def test_plain_http_is_allowed_to_a_loopback_endpoint_only() -> None:
    for endpoint in ("http://127.0.0.1:9000", "http://localhost:9000"):
        assert ArtifactSettings.from_env({"ROLLOUT_ARTIFACT_STORE": "s3://b", "AWS_ENDPOINT_URL": endpoint}).endpoint
