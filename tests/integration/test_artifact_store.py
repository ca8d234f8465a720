"""Artifacts on both stores, the folder and S3: uploads, publishing by reference, and gone meaning gone."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    failure,
    get,
    instance_of,
    propose,
    publish,
    rollback,
    upload,
    wait_done,
    wait_until,
)
from tests.integration.stores import StoreStack, key_of

S = pb.Deployment
GONE = (grpc.StatusCode.FAILED_PRECONDITION, "ARTIFACT_GONE")


def _get(stub: Stub, org: str, release_id: str) -> pb.Release:
    return stub.GetRelease(api.GetReleaseRequest(organization_id=org, id=release_id))


def _releases(stub: Stub, org: str) -> list[pb.Release]:
    return list(stub.ListReleases(api.ListReleasesRequest(organization_id=org)).releases)


def test_an_upload_streams_into_the_store_and_deploys(store: StoreStack, org: str) -> None:
    stub = store.stub(org)
    content = os.urandom(6 * 1024 * 1024 + 17)  # more than one part of a multipart upload

    release = upload(stub, org, "1.0.0", content)

    digest = hashlib.sha256(content).hexdigest()
    assert (release.sha256, release.size_bytes) == (digest, len(content))
    assert release.artifact_uri == f"store://{org}/{release.id}" and release.artifact_present
    assert store.object_sha256(key_of(release.artifact_uri)) == digest
    done = deploy(stub, org, create_instance(stub, org).id)
    assert (done.status, done.bundle_release_id) == (S.STATUS_COMPLETED, release.id)


def test_a_release_named_by_reference_is_read_from_the_store_and_then_held_by_it(store: StoreStack, org: str) -> None:
    stub = store.stub(org)
    built, other = os.urandom(3 * 1024 * 1024), b"a second build"
    store.put_object(f"{org}/ci/web-1.0.0.tgz", built)  # CI uploads, then registers
    store.put_object(f"{org}/ci/web-1.1.0.tgz", other)

    by_location = publish(stub, org, "1.0.0", artifact_uri=store.named(f"{org}/ci/web-1.0.0.tgz"))
    by_store_uri = publish(stub, org, "1.1.0", artifact_uri=f"store://{org}/ci/web-1.1.0.tgz")

    assert by_location.artifact_uri == f"store://{org}/ci/web-1.0.0.tgz"
    assert (by_location.sha256, by_location.size_bytes) == (hashlib.sha256(built).hexdigest(), len(built))
    assert (by_store_uri.sha256, by_store_uri.size_bytes) == (hashlib.sha256(other).hexdigest(), len(other))
    assert by_location.artifact_present and _get(stub, org, by_location.id).artifact_present
    assert deploy(stub, org, create_instance(stub, org).id).status == S.STATUS_COMPLETED
    # Held by the store from now on: deleting the release's artifact deletes the object.
    stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=by_location.id))
    assert not store.has_object(f"{org}/ci/web-1.0.0.tgz")
    assert store.has_object(f"{org}/ci/web-1.1.0.tgz")


def test_naming_an_object_that_is_not_in_the_store_is_artifact_gone_and_records_nothing(
    store: StoreStack, org: str
) -> None:
    stub = store.stub(org)

    found = failure(lambda: publish(stub, org, "1.0.0", artifact_uri=store.named(f"{org}/ci/not-uploaded.tgz")))

    assert (found.code, found.reason) == GONE
    assert _releases(stub, org) == []
    store.put_object(f"{org}/ci/not-uploaded.tgz", b"now it is")  # the same request, once CI has uploaded
    assert publish(stub, org, "1.0.0", artifact_uri=store.named(f"{org}/ci/not-uploaded.tgz")).artifact_present


def test_objects_a_caller_may_not_name_are_invalid(store: StoreStack, org: str) -> None:
    stub = store.stub(org)
    store.put_object(f"{org}-other/ci/theirs.tgz", b"another organization's build")
    uploaded = upload(stub, org, "1.0.0", b"an upload of ours")
    refused = [
        store.named(f"{org}-other/ci/theirs.tgz"),  # another organization's object
        f"store://{org}-other/ci/theirs.tgz",
        uploaded.artifact_uri,  # an upload belongs to its release alone
        f"store://{org}/{uuid.uuid4()}",
        f"s3://another-bucket/{org}/ci/web.tgz",  # not the configured store
        f"store://{org}/ci/../ci/web.tgz",
        f"store://{org}/ci//web.tgz",
        f"store://{org}/ci/web 1.tgz",
    ]
    for uri in refused:
        found = failure(lambda uri=uri: publish(stub, org, "2.0.0", artifact_uri=uri))  # type: ignore[misc]
        assert (found.code, list(found.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["release.artifact_uri"]), uri
    assert [r.id for r in _releases(stub, org)] == [uploaded.id]
    assert store.has_object(f"{org}-other/ci/theirs.tgz")


def _past_run_and_its_release(stub: Stub, org: str) -> tuple[pb.Instance, pb.Deployment, pb.Release]:
    instance = create_instance(stub, org)
    v1 = upload(stub, org, "1.0.0", b"version one")
    first = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0")
    assert deploy(stub, org, instance.id).status == S.STATUS_COMPLETED  # `first` is now a past run
    return instance, first, v1


@pytest.mark.parametrize("deleted", ["through the API", "behind rollout's back"])
def test_a_deleted_artifact_is_gone_for_rollback_and_for_a_run_already_approved(
    store: StoreStack, org: str, deleted: str
) -> None:
    stub = store.stub(org)
    instance, first, v1 = _past_run_and_its_release(stub, org)
    back = rollback(stub, org, first.id)
    active = instance_of(stub, org, instance.id).active_deployment_id

    with store.worker_stopped():  # the approved run waits, PENDING, while its artifact goes
        approve(stub, org, back.id)
        if deleted == "through the API":
            stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=v1.id))
        else:
            store.delete_object(key_of(v1.artifact_uri))

    failed = wait_done(stub, org, back.id)
    assert failed.status == S.STATUS_FAILED and failed.error.startswith("ARTIFACT_GONE"), failed
    live = instance_of(stub, org, instance.id)
    assert (live.active_deployment_id, live.pinned) == (active, False)
    assert not _get(stub, org, v1.id).artifact_present
    assert not store.has_object(key_of(v1.artifact_uri))
    refused = failure(lambda: rollback(stub, org, first.id))
    assert (refused.code, refused.reason) == GONE


def test_an_artifact_deleted_while_its_run_reads_it_fails_the_run_as_gone(
    store: StoreStack, org: str, tmp_path: Path
) -> None:
    stub = store.stub(org)
    instance = create_instance(stub, org)
    release = upload(stub, org, "1.0.0", os.urandom(2 * 1024 * 1024))

    with store.worker_stopped():
        reading = store.stack.start_worker(
            **store.env, ROLLOUT_DRIVER="tests.reading_driver:factory", ROLLOUT_TEST_HOLD_DIR=str(tmp_path)
        )
        try:
            run = propose(stub, org, instance.id)
            approve(stub, org, run.id)
            wait_until(lambda: (tmp_path / f"{run.id}.running").exists(), "the run reaching its provision step")
            assert get(stub, org, run.id).status == S.STATUS_RUNNING
            store.delete_object(key_of(release.artifact_uri))
            (tmp_path / f"{run.id}.go").touch()  # the driver now reads an artifact that is gone

            failed = wait_done(stub, org, run.id)
        finally:
            reading.stop()

    assert failed.status == S.STATUS_FAILED and failed.error.startswith("ARTIFACT_GONE"), failed
    assert instance_of(stub, org, instance.id).active_deployment_id == ""
    assert not _get(stub, org, release.id).artifact_present
    assert "failed unexpectedly" not in reading.log.read_text(errors="replace")


def test_a_repeated_publish_by_reference_replays_even_once_the_object_is_gone(store: StoreStack, org: str) -> None:
    stub = store.stub(org)
    store.put_object(f"{org}/ci/web-1.0.0.tgz", b"a build")
    request = api.PublishReleaseRequest(
        organization_id=org,
        request_id=str(uuid.uuid4()),
        release=pb.Release(bundle="web", version="1.0.0", artifact_uri=f"store://{org}/ci/web-1.0.0.tgz"),
    )
    first = stub.PublishRelease(request)
    store.delete_object(f"{org}/ci/web-1.0.0.tgz")

    again, call = stub.PublishRelease.with_call(request)

    assert again == first and ("idempotent-replayed", "true") in (call.initial_metadata() or ())
    assert not _get(stub, org, first.id).artifact_present  # the release itself says gone
