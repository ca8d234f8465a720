"""What a proposal captures of the instance: server/domain/snapshot.py."""

from __future__ import annotations

from server.domain.snapshot import MD_METADATA, Snapshot, from_instance, md_metadata, user_params
from tests.unit import factories as make
from tests.unit.factories import DB_ID, INSTANCE_ID


def test_md_metadata_key() -> None:
    assert MD_METADATA == "md_metadata"


def test_md_metadata_is_the_current_identity() -> None:
    instance = make.instance(params={"md_metadata": {"project": "stale"}})
    assert md_metadata(instance) == {
        "organization_id": "acme",
        "project": "shop",
        "environment": "prod",
        "instance_id": INSTANCE_ID,
        "instance_name": "web",
    }


def test_md_metadata_follows_rename_and_move() -> None:
    moved = make.instance(name="storefront", project="retail", environment="staging")
    assert md_metadata(moved) == {
        "organization_id": "acme",
        "project": "retail",
        "environment": "staging",
        "instance_id": INSTANCE_ID,
        "instance_name": "storefront",
    }


def test_md_metadata_ignores_md_metadata_in_params() -> None:
    instance = make.instance(params={"md_metadata": {"project": "stale", "environment": "old"}})
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
    instance = make.instance(
        params={"image_tag": "abc", "workers": 4, "md_metadata": {"project": "stale"}}, connections={"db": DB_ID}
    )
    release = make.release("1.4.2-rc.1", id="rel-42", release_channel="beta")
    assert from_instance(instance, release) == Snapshot(
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
    instance = make.instance(bundle_release_id="rel-old", version="1.0.0", release_channel="stable")
    snap = from_instance(instance, make.release("2.0.0", id="rel-new", release_channel="edge"))
    assert (snap.bundle_release_id, snap.version, snap.release_channel) == ("rel-new", "2.0.0", "edge")


def test_from_instance_copies_connections() -> None:
    instance = make.instance(connections={"db": DB_ID, "cache": INSTANCE_ID})
    snap = from_instance(instance, make.release())
    assert snap.connection_params == {"db": DB_ID, "cache": INSTANCE_ID}
    assert snap.connection_params is not instance.connections
    snap.connection_params["db"] = "changed"
    assert instance.connections["db"] == DB_ID


def test_from_instance_does_not_carry_labels_or_secrets() -> None:
    instance = make.instance(params={"image_tag": "abc"}, labels={"team": "checkout"}, secret_names=("api_key",))
    snap = from_instance(instance, make.release())
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
