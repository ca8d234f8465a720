"""What a proposal captures of the instance: server/domain/snapshot.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from server.domain.models import Instance, Kind, Release, ReleaseState
from server.domain.snapshot import MD_METADATA, Snapshot, from_instance, md_metadata, user_params

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
INSTANCE_ID = "0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10"
DB_ID = "6f1d1e8a-92a7-4c2b-b9a4-5b8f3c2d1e0f"


def make_instance(**overrides: object) -> Instance:
    base = Instance(
        id=INSTANCE_ID,
        organization_id="acme",
        name="web",
        project="shop",
        environment="prod",
        bundle="webapp",
        kind=Kind.DYNAMIC,
        replicas=2,
        labels={"team": "checkout"},
        params={"image_tag": "abc", "workers": 4, "md_metadata": {"project": "stale"}},
        connections={"db": DB_ID},
        version_constraint="^1",
        release_channel="stable",
        bundle_release_id="rel-old",
        version="1.0.0",
        pinned=False,
        active_deployment_id=None,
        route_generation=3,
        secret_names=("api_key",),
        create_time=T0,
        update_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def make_release(**overrides: object) -> Release:
    base = Release(
        id="rel-42",
        organization_id="acme",
        bundle="webapp",
        version="1.4.2-rc.1",
        release_channel="beta",
        artifact_uri="file:///artifacts/webapp-1.4.2.tar.gz",
        state=ReleaseState.READY,
        artifact_present=True,
        schema_version=1,
        create_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_md_metadata_key() -> None:
    assert MD_METADATA == "md_metadata"


def test_md_metadata_is_the_current_identity() -> None:
    assert md_metadata(make_instance()) == {
        "organization_id": "acme",
        "project": "shop",
        "environment": "prod",
        "instance_id": INSTANCE_ID,
        "instance_name": "web",
    }


def test_md_metadata_follows_rename_and_move() -> None:
    moved = make_instance(name="storefront", project="retail", environment="staging")
    assert md_metadata(moved) == {
        "organization_id": "acme",
        "project": "retail",
        "environment": "staging",
        "instance_id": INSTANCE_ID,
        "instance_name": "storefront",
    }


def test_md_metadata_ignores_md_metadata_in_params() -> None:
    instance = make_instance(params={"md_metadata": {"project": "stale", "environment": "old"}})
    assert md_metadata(instance)["project"] == "shop"
    assert md_metadata(instance)["environment"] == "prod"


def test_user_params_strips_only_top_level_md_metadata() -> None:
    params = {
        "md_metadata": {"project": "stale"},
        "image_tag": "abc",
        "nested": {"md_metadata": "kept"},
        "md_metadata_extra": 1,
        "MD_METADATA": 2,
        "empty": None,
    }
    assert user_params(params) == {
        "image_tag": "abc",
        "nested": {"md_metadata": "kept"},
        "md_metadata_extra": 1,
        "MD_METADATA": 2,
        "empty": None,
    }


def test_user_params_does_not_change_its_input() -> None:
    params = {"md_metadata": {"a": 1}, "x": 1}
    result = user_params(params)
    assert params == {"md_metadata": {"a": 1}, "x": 1}
    assert result == {"x": 1}
    assert result is not params


def test_user_params_without_md_metadata_is_equal_but_a_copy() -> None:
    params = {"a": [1, 2], "b": {"c": True}}
    result = user_params(params)
    assert result == params
    assert result is not params


def test_user_params_empty() -> None:
    assert user_params({}) == {}
    assert user_params({"md_metadata": {}}) == {}


def test_from_instance() -> None:
    instance = make_instance()
    assert from_instance(instance, make_release()) == Snapshot(
        params={"image_tag": "abc", "workers": 4},
        md_metadata={
            "organization_id": "acme",
            "project": "shop",
            "environment": "prod",
            "instance_id": INSTANCE_ID,
            "instance_name": "web",
        },
        connection_params={"db": DB_ID},
        bundle_release_id="rel-42",
        version="1.4.2-rc.1",
        release_channel="beta",
    )


def test_from_instance_takes_release_fields_from_the_release_not_the_pointer() -> None:
    instance = make_instance(bundle_release_id="rel-old", version="1.0.0", release_channel="stable")
    snap = from_instance(instance, make_release(id="rel-new", version="2.0.0", release_channel="edge"))
    assert (snap.bundle_release_id, snap.version, snap.release_channel) == ("rel-new", "2.0.0", "edge")


def test_from_instance_copies_connections() -> None:
    instance = make_instance(connections={"db": DB_ID, "cache": INSTANCE_ID})
    snap = from_instance(instance, make_release())
    assert snap.connection_params == {"db": DB_ID, "cache": INSTANCE_ID}
    assert snap.connection_params is not instance.connections
    snap.connection_params["db"] = "changed"
    assert instance.connections["db"] == DB_ID


def test_from_instance_does_not_carry_labels_or_secrets() -> None:
    snap = from_instance(make_instance(), make_release())
    assert "api_key" not in snap.params
    assert "team" not in snap.params
    assert set(vars(snap)) == {
        "params",
        "md_metadata",
        "connection_params",
        "bundle_release_id",
        "version",
        "release_channel",
    }
