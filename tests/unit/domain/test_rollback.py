"""What makes a rollback valid and what it captures: server/domain/rollback.py (docs/product.md §3, seed 000)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.domain.errors import FailedPrecondition
from server.domain.models import Action, Deployment, Instance, Release, ReleaseState, Status
from server.domain.releases import ARTIFACT_GONE, RELEASE_BUNDLE_MISMATCH, RELEASE_NOT_READY
from server.domain.rollback import SOURCE_NOT_COMPLETED, SOURCE_NOT_PROVISION, check_source, message, snapshot
from server.domain.snapshot import Snapshot
from tests.unit import factories as make
from tests.unit.factories import CACHE_ID, DB_ID, INSTANCE_ID, T0

SOURCE_ID = "5d0f7a3c-1b2e-4f6a-8c9d-0e1f2a3b4c5d"

SOURCE_MD_METADATA = {
    "organization_id": "acme",
    "project": "old-project",
    "environment": "old-env",
    "instance_id": INSTANCE_ID,
    "instance_name": "old-name",
}


def make_source(**overrides: object) -> Deployment:
    """The deployment rolled back to: a COMPLETED PROVISION of rel-1 (v1.4.2), under an old identity."""
    fields: dict[str, object] = {
        "id": SOURCE_ID,
        "status": Status.COMPLETED,
        "params": {"image_tag": "abc", "workers": 4, "md_metadata": dict(SOURCE_MD_METADATA)},
        "md_metadata": dict(SOURCE_MD_METADATA),
        "bundle_release_id": "rel-1",
        "version": "1.4.2",
        "message": "Deploy v1.4.2",
        "decided_by": "bob",
        "decide_time": T0,
    }
    return make.deployment(**(fields | overrides))


def _refusal(source: Deployment, release: Release | None, instance: Instance | None = None) -> FailedPrecondition:
    with pytest.raises(FailedPrecondition) as exc_info:
        check_source(source, release, instance or make.instance())
    return exc_info.value


# --- check_source: the validation matrix ---------------------------------------------


def test_reason_constants() -> None:
    assert SOURCE_NOT_PROVISION == "SOURCE_NOT_PROVISION"
    assert SOURCE_NOT_COMPLETED == "SOURCE_NOT_COMPLETED"


def test_completed_provision_with_ready_release_returns_the_release() -> None:
    release = make.release()
    assert check_source(make_source(), release, make.instance()) is release


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.PROVISION])
def test_non_provision_action_refused(action: Action) -> None:
    error = _refusal(make_source(action=action), make.release())
    assert error.reason == SOURCE_NOT_PROVISION
    assert error.message == (
        f"deployment {SOURCE_ID} is a {action.value}; only a PROVISION can be rolled back to"
    )


def test_non_provision_actions_cover_decommission() -> None:
    assert [a for a in Action if a is not Action.PROVISION] == [Action.DECOMMISSION]


def test_completed_decommission_refused_as_not_provision() -> None:
    error = _refusal(make_source(action=Action.DECOMMISSION, status=Status.COMPLETED), make.release())
    assert error.reason == "SOURCE_NOT_PROVISION"


def test_action_is_checked_before_status() -> None:
    error = _refusal(make_source(action=Action.DECOMMISSION, status=Status.FAILED), make.release())
    assert error.reason == "SOURCE_NOT_PROVISION"


@pytest.mark.parametrize(
    "status", [Status.PROPOSED, Status.PENDING, Status.RUNNING, Status.FAILED, Status.REJECTED]
)
def test_non_completed_status_refused(status: Status) -> None:
    error = _refusal(make_source(status=status), make.release())
    assert error.reason == SOURCE_NOT_COMPLETED
    assert error.message == (
        f"deployment {SOURCE_ID} is {status.value}; only a COMPLETED deployment can be rolled back to"
    )


def test_non_completed_statuses_are_all_the_others() -> None:
    assert {s for s in Status if s is not Status.COMPLETED} == {
        Status.PROPOSED,
        Status.PENDING,
        Status.RUNNING,
        Status.FAILED,
        Status.REJECTED,
    }


def test_status_is_checked_before_the_release() -> None:
    error = _refusal(make_source(status=Status.FAILED), make.release(state=ReleaseState.FAILED))
    assert error.reason == "SOURCE_NOT_COMPLETED"
    error = _refusal(make_source(status=Status.FAILED), None)
    assert error.reason == "SOURCE_NOT_COMPLETED"


def test_missing_release_refused() -> None:
    error = _refusal(make_source(bundle_release_id=None), None)
    assert error.reason == SOURCE_NOT_PROVISION
    assert error.message == f"deployment {SOURCE_ID} has no release to return to"


@pytest.mark.parametrize("artifact_present", [True, False])
def test_failed_release_refused_not_ready(artifact_present: bool) -> None:
    release = make.release("1.4.2", id="rel-1", state=ReleaseState.FAILED, artifact_present=artifact_present)
    error = _refusal(make_source(), release)
    assert error.reason == RELEASE_NOT_READY == "RELEASE_NOT_READY"
    assert error.message == "release rel-1 (v1.4.2) is FAILED"


@pytest.mark.parametrize("state", [ReleaseState.READY, ReleaseState.ARCHIVED])
def test_artifact_gone_refused(state: ReleaseState) -> None:
    error = _refusal(make_source(), make.release("1.4.2", id="rel-1", state=state, artifact_present=False))
    assert error.reason == ARTIFACT_GONE == "ARTIFACT_GONE"
    assert error.message == "the artifact of release rel-1 (v1.4.2) is gone from storage"


def test_release_of_another_bundle_refused() -> None:
    error = _refusal(make_source(), make.release("1.4.2", id="rel-1", bundle="api"))
    assert error.reason == RELEASE_BUNDLE_MISMATCH == "RELEASE_BUNDLE_MISMATCH"
    assert error.message == "release rel-1 belongs to bundle 'api', the instance runs 'webapp'"


def test_bundle_is_compared_with_the_instance() -> None:
    release = make.release(bundle="api")
    assert check_source(make_source(), release, make.instance(bundle="api")) is release


def test_archived_release_with_artifact_returns_the_release() -> None:
    release = make.release(state=ReleaseState.ARCHIVED, artifact_present=True)
    assert check_source(make_source(), release, make.instance()) is release


def test_instance_pointer_and_constraint_do_not_matter() -> None:
    # The source's release may be outside the instance's current constraint and channel.
    release = make.release("0.1.0", release_channel="legacy")
    instance = make.instance(
        bundle_release_id="rel-current", version="2.0.0", version_constraint=">=5", release_channel="edge", pinned=True
    )
    assert check_source(make_source(version="0.1.0", release_channel="legacy"), release, instance) is release


def test_quarantined_release_can_be_rolled_back_to() -> None:
    release = make.release("1.4.2", id="rel-1")
    instance = make.instance(quarantined_release_ids=("rel-1",))
    assert check_source(make_source(), release, instance) is release


# --- snapshot: seed 000's snapshot table, one row each --------------------------------


def test_snapshot_whole() -> None:
    # The instance's current config differs from the source's: a rollback must not use it.
    instance = make.instance(
        params={"image_tag": "current", "workers": 16},
        connections={"db": CACHE_ID},
        bundle_release_id="rel-current",
        version="2.0.0",
        release_channel="beta",
    )
    assert snapshot(make_source(), instance) == Snapshot(
        params={"image_tag": "abc", "workers": 4},
        md_metadata={
            "organization_id": "acme",
            "project": "shop",
            "environment": "prod",
            "instance_id": INSTANCE_ID,
            "instance_name": "web",
        },
        connection_params={"db": DB_ID},
        bundle_release_id="rel-1",
        version="1.4.2",
        release_channel="stable",
    )


def test_row_params_verbatim_minus_md_metadata() -> None:
    params = {
        "image_tag": "abc",
        "workers": 4,
        "ratio": 0.5,
        "enabled": False,
        "nothing": None,
        "tags": ["a", "b"],
        "nested": {"md_metadata": "kept", "deep": {"x": 1}},
        "md_metadata": {"project": "stale"},
    }
    snap = snapshot(make_source(params=params), make.instance())
    assert snap.params == {
        "image_tag": "abc",
        "workers": 4,
        "ratio": 0.5,
        "enabled": False,
        "nothing": None,
        "tags": ["a", "b"],
        "nested": {"md_metadata": "kept", "deep": {"x": 1}},
    }
    assert "md_metadata" in params  # the source is not changed
    assert snap.params is not params


def test_row_params_not_the_instance_current_params() -> None:
    snap = snapshot(make_source(params={"image_tag": "abc"}), make.instance(params={"image_tag": "current"}))
    assert snap.params == {"image_tag": "abc"}


def test_row_params_empty() -> None:
    instance = make.instance(params={"image_tag": "current", "workers": 16})
    assert snapshot(make_source(params={}), instance).params == {}
    assert snapshot(make_source(params={"md_metadata": {"a": 1}}), instance).params == {}


def test_row_md_metadata_regenerated_from_the_current_instance() -> None:
    snap = snapshot(make_source(), make.instance())
    assert snap.md_metadata == {
        "organization_id": "acme",
        "project": "shop",
        "environment": "prod",
        "instance_id": INSTANCE_ID,
        "instance_name": "web",
    }
    assert snap.md_metadata != SOURCE_MD_METADATA


def test_row_md_metadata_after_rename_and_move() -> None:
    moved = make.instance(name="storefront", project="retail", environment="staging")
    snap = snapshot(make_source(), moved)
    assert snap.md_metadata == {
        "organization_id": "acme",
        "project": "retail",
        "environment": "staging",
        "instance_id": INSTANCE_ID,
        "instance_name": "storefront",
    }


def test_row_md_metadata_uses_the_instance_org_and_id() -> None:
    other = make.instance(id=CACHE_ID, organization_id="globex")
    snap = snapshot(make_source(), other)
    assert snap.md_metadata["organization_id"] == "globex"
    assert snap.md_metadata["instance_id"] == CACHE_ID


def test_row_md_metadata_ignores_the_source_md_metadata_column_and_params() -> None:
    source = make_source(
        params={"md_metadata": {"project": "p-from-params"}},
        md_metadata={"project": "p-from-column", "extra": "x"},
    )
    snap = snapshot(source, make.instance())
    assert snap.md_metadata == {
        "organization_id": "acme",
        "project": "shop",
        "environment": "prod",
        "instance_id": INSTANCE_ID,
        "instance_name": "web",
    }


def test_row_connection_params_verbatim_and_a_copy() -> None:
    source = make_source(connection_params={"db": DB_ID, "cache": CACHE_ID})
    snap = snapshot(source, make.instance(connections={"db": "something-else"}))
    assert snap.connection_params == {"db": DB_ID, "cache": CACHE_ID}
    assert snap.connection_params is not source.connection_params
    snap.connection_params["db"] = "changed"
    assert source.connection_params == {"db": DB_ID, "cache": CACHE_ID}


def test_row_connection_params_empty() -> None:
    instance = make.instance(connections={"db": CACHE_ID})
    assert snapshot(make_source(connection_params={}), instance).connection_params == {}


def test_row_version_verbatim() -> None:
    snap = snapshot(make_source(version="1.4.2-rc.1+build.7"), make.instance(version="9.9.9"))
    assert snap.version == "1.4.2-rc.1+build.7"


def test_row_bundle_release_id_verbatim() -> None:
    snap = snapshot(make_source(bundle_release_id="rel-source"), make.instance(bundle_release_id="rel-current"))
    assert snap.bundle_release_id == "rel-source"


def test_row_release_channel_verbatim() -> None:
    snap = snapshot(make_source(release_channel="stable"), make.instance(release_channel="beta"))
    assert snap.release_channel == "stable"


def test_row_release_channel_empty_verbatim() -> None:
    assert snapshot(make_source(release_channel=""), make.instance()).release_channel == ""


def test_row_secrets_not_part_of_the_snapshot() -> None:
    snap = snapshot(make_source(), make.instance(secret_names=("api_key", "db_password")))
    assert set(vars(snap)) == {
        "params",
        "md_metadata",
        "connection_params",
        "bundle_release_id",
        "version",
        "release_channel",
    }
    assert "api_key" not in snap.params


def test_snapshot_does_not_change_the_source() -> None:
    source = make_source()
    before = replace(source, params=dict(source.params), connection_params=dict(source.connection_params))
    snapshot(source, make.instance())
    assert source == before


# --- message ---------------------------------------------------------------------------


def test_message() -> None:
    assert message(make_source()) == f"Rollback to deployment {SOURCE_ID} (v1.4.2)"


def test_message_prerelease_version() -> None:
    assert message(make_source(id="d-1", version="2.0.0-rc.1")) == "Rollback to deployment d-1 (v2.0.0-rc.1)"
