"""The plan of a proposal: server/domain/plan.py (docs/product.md §2 PlanDeployment, §4 runtime instances)."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.models import JSON, Action, Deployment, Kind, Release, Status
from server.domain.plan import NOT_MIGRATED_BACK, STALE, Live, Target, diff, flatten, make_plan, mark_stale
from tests.unit import factories as make
from tests.unit.factories import CACHE_ID, DB_ID

EMPTY_DIFF: JSON = {"added": {}, "removed": {}, "changed": {}}
SECRETS_WARNING = "secrets are not rolled back: the instance's current secrets apply"


def make_live(deployment: Deployment | None = None, release: Release | None = None, runtime_instances: int = 0) -> Live:
    return Live(deployment, release, runtime_instances)


def make_target(
    proposal: Deployment | None = None,
    release: Release | None = None,
    kind: Kind = Kind.STATIC,
    replicas: int = 0,
    warm_instances: int = 0,
    quarantined: bool = False,
) -> Target:
    return Target(proposal or make.deployment(), release, kind, replicas, warm_instances, quarantined)


def release_json(release: Release) -> JSON:
    return {
        "id": release.id,
        "version": release.version,
        "release_channel": release.release_channel,
        "schema_version": release.schema_version,
    }


# --- flatten -----------------------------------------------------------------------------


def test_flatten_empty() -> None:
    assert flatten({}) == {}


def test_flatten_top_level_leaves() -> None:
    assert flatten({"a": 1, "b": "x", "c": None, "d": True, "e": 1.5}) == {
        "a": 1,
        "b": "x",
        "c": None,
        "d": True,
        "e": 1.5,
    }


def test_flatten_nested_by_dotted_path() -> None:
    assert flatten({"a": {"b": {"c": 1, "d": 2}}, "e": 3}) == {"a.b.c": 1, "a.b.d": 2, "e": 3}


def test_flatten_lists_are_leaves() -> None:
    value = {"tags": ["a", "b"], "rules": [{"port": 80}, {"port": 443}], "empty": []}
    assert flatten(value) == {"tags": ["a", "b"], "rules": [{"port": 80}, {"port": 443}], "empty": []}


def test_flatten_nested_empty_dict_is_a_leaf() -> None:
    assert flatten({"a": {}, "b": {"c": {}}}) == {"a": {}, "b.c": {}}


def test_flatten_scalar_with_and_without_prefix() -> None:
    assert flatten(5) == {}
    assert flatten(5, "x") == {"x": 5}
    assert flatten({"b": 1}, "a") == {"a.b": 1}


def test_flatten_does_not_change_its_input() -> None:
    value: JSON = {"a": {"b": [1]}}
    flatten(value)
    assert value == {"a": {"b": [1]}}


# --- diff --------------------------------------------------------------------------------


def test_diff_equal_is_empty() -> None:
    same = {"a": {"b": 1}, "c": [1, 2]}
    assert diff(same, {"a": {"b": 1}, "c": [1, 2]}) == EMPTY_DIFF


def test_diff_both_empty() -> None:
    assert diff({}, {}) == EMPTY_DIFF


def test_diff_added_removed_changed() -> None:
    before = {"keep": 1, "gone": "x", "edit": "old"}
    after = {"keep": 1, "new": True, "edit": "new"}
    assert diff(before, after) == {
        "added": {"new": True},
        "removed": {"gone": "x"},
        "changed": {"edit": {"from": "old", "to": "new"}},
    }


def test_diff_from_empty_is_all_added() -> None:
    assert diff({}, {"a": 1, "b": {"c": 2}}) == {"added": {"a": 1, "b.c": 2}, "removed": {}, "changed": {}}


def test_diff_to_empty_is_all_removed() -> None:
    assert diff({"a": 1, "b": {"c": 2}}, {}) == {"added": {}, "removed": {"a": 1, "b.c": 2}, "changed": {}}


def test_diff_nested_dicts_by_dotted_path() -> None:
    before = {"db": {"size": "small", "backup": {"days": 7}}}
    after = {"db": {"size": "large", "backup": {"days": 7, "hour": 3}}}
    assert diff(before, after) == {
        "added": {"db.backup.hour": 3},
        "removed": {},
        "changed": {"db.size": {"from": "small", "to": "large"}},
    }


def test_diff_lists_are_compared_whole() -> None:
    assert diff({"tags": ["a", "b"]}, {"tags": ["a", "c"]}) == {
        "added": {},
        "removed": {},
        "changed": {"tags": {"from": ["a", "b"], "to": ["a", "c"]}},
    }
    assert diff({"tags": ["a", "b"]}, {"tags": ["b", "a"]})["changed"] == {
        "tags": {"from": ["a", "b"], "to": ["b", "a"]}
    }


def test_diff_empty_dict_leaf() -> None:
    assert diff({"a": {}}, {"a": {}}) == EMPTY_DIFF
    assert diff({}, {"a": {}}) == {"added": {"a": {}}, "removed": {}, "changed": {}}
    assert diff({"a": {}}, {}) == {"added": {}, "removed": {"a": {}}, "changed": {}}


def test_diff_empty_dict_gaining_keys() -> None:
    assert diff({"a": {}}, {"a": {"b": 1}}) == {"added": {"a.b": 1}, "removed": {"a": {}}, "changed": {}}


def test_diff_dict_becomes_scalar() -> None:
    assert diff({"a": {"b": 1}}, {"a": 2}) == {"added": {"a": 2}, "removed": {"a.b": 1}, "changed": {}}


def test_diff_scalar_becomes_dict() -> None:
    assert diff({"a": 2}, {"a": {"b": 1}}) == {"added": {"a.b": 1}, "removed": {"a": 2}, "changed": {}}


def test_diff_to_and_from_null() -> None:
    assert diff({"a": None}, {"a": 1})["changed"] == {"a": {"from": None, "to": 1}}
    assert diff({"a": 1}, {"a": None})["changed"] == {"a": {"from": 1, "to": None}}


def test_diff_paths_are_sorted() -> None:
    result = diff({"z": 1, "m": 1, "a": 1}, {"y": 2, "b": 2, "z": 2, "m": 3, "a": 4})
    assert list(result["added"]) == ["b", "y"]
    assert list(result["changed"]) == ["a", "m", "z"]
    result = diff({"z": 1, "b": 1, "a": 1}, {})
    assert list(result["removed"]) == ["a", "b", "z"]


def test_diff_does_not_change_its_inputs() -> None:
    before: JSON = {"a": {"b": 1}}
    after: JSON = {"a": {"b": 2}}
    diff(before, after)
    assert (before, after) == ({"a": {"b": 1}}, {"a": {"b": 2}})


@pytest.mark.parametrize(
    ("old", "new"),
    [(True, 1.0), (1.0, True), (False, 0.0), (0.0, False), (True, 1), ([True], [1.0]), ({"y": False}, {"y": 0.0})],
    ids=["true-to-1.0", "1.0-to-true", "false-to-0.0", "0.0-to-false", "true-to-int-1", "in-list", "nested"],
)
def test_diff_bool_and_number_are_different_values(old: Any, new: Any) -> None:
    assert diff({"x": old}, {"x": new}) != EMPTY_DIFF


def test_diff_dotted_key_is_not_a_nested_path() -> None:
    assert diff({"a.b": 1}, {"a": {"b": 1}}) != EMPTY_DIFF


# --- make_plan ---------------------------------------------------------------------------


def test_first_deployment_without_live_state() -> None:
    release = make.release("1.0.0")
    proposal = make.deployment(params={"image_tag": "abc", "db": {"size": "s"}}, connection_params={"db": DB_ID})
    assert make_plan(make_live(), make_target(proposal, release)) == {
        "action": "PROVISION",
        "live_deployment_id": None,
        "live_release": None,
        "target_release": {"id": "rel-1.0.0", "version": "1.0.0", "release_channel": "stable", "schema_version": 1},
        "release_change": {"from": None, "to": "1.0.0"},
        "params": {"added": {"db.size": "s", "image_tag": "abc"}, "removed": {}, "changed": {}},
        "connections": {"added": {"db": DB_ID}, "removed": {}, "changed": {}},
        "runtime_instances": None,
        "warnings": [],
        "stale": False,
    }


def test_release_change_and_params_diff_against_the_live_deployment() -> None:
    old, new = make.release("1.0.0"), make.release("1.1.0", schema_version=2)
    live = make.deployment(
        id="d-live",
        status=Status.COMPLETED,
        params={"image_tag": "abc", "workers": 4, "debug": True},
        connection_params={"db": DB_ID, "cache": CACHE_ID},
    )
    proposal = make.deployment(
        params={"image_tag": "def", "workers": 4, "region": "eu"},
        connection_params={"db": CACHE_ID},
        bundle_release_id=new.id,
        version="1.1.0",
    )
    assert make_plan(make_live(live, old), make_target(proposal, new)) == {
        "action": "PROVISION",
        "live_deployment_id": "d-live",
        "live_release": release_json(old),
        "target_release": release_json(new),
        "release_change": {"from": "1.0.0", "to": "1.1.0"},
        "params": {
            "added": {"region": "eu"},
            "removed": {"debug": True},
            "changed": {"image_tag": {"from": "abc", "to": "def"}},
        },
        "connections": {
            "added": {},
            "removed": {"cache": CACHE_ID},
            "changed": {"db": {"from": DB_ID, "to": CACHE_ID}},
        },
        "runtime_instances": None,
        "warnings": [],
        "stale": False,
    }


def test_same_release_no_release_change() -> None:
    release = make.release("1.0.0")
    live = make.deployment(id="d-live", status=Status.COMPLETED)
    plan = make_plan(make_live(live, release), make_target(make.deployment(), release))
    assert plan["release_change"] is None
    assert plan["params"] == EMPTY_DIFF
    assert plan["connections"] == EMPTY_DIFF
    assert plan["live_release"] == plan["target_release"] == release_json(release)


def test_release_change_compares_ids_not_versions() -> None:
    # Two releases with the same version string (e.g. different channels) are different releases.
    live_release = make.release("1.0.0", id="rel-a", release_channel="stable")
    target_release = make.release("1.0.0", id="rel-b", release_channel="beta")
    live = make.deployment(id="d-live", status=Status.COMPLETED)
    plan = make_plan(make_live(live, live_release), make_target(make.deployment(), target_release))
    assert plan["release_change"] == {"from": "1.0.0", "to": "1.0.0"}


def test_live_deployment_without_release() -> None:
    live = make.deployment(id="d-live", status=Status.COMPLETED)
    plan = make_plan(make_live(live, None), make_target(make.deployment(), make.release("2.0.0")))
    assert plan["live_release"] is None
    assert plan["release_change"] == {"from": None, "to": "2.0.0"}


def test_no_release_anywhere() -> None:
    plan = make_plan(make_live(), make_target(make.deployment(params={}, connection_params={}), None))
    assert plan["target_release"] is None
    assert plan["release_change"] is None
    assert plan["warnings"] == []


# schema downgrade -----------------------------------------------------------------------


def _schema_plan(live_schema: int, target_schema: int) -> JSON:
    live_release = make.release("2.0.0", schema_version=live_schema)
    target_release = make.release("1.0.0", schema_version=target_schema)
    live = make.deployment(id="d-live", status=Status.COMPLETED)
    return make_plan(make_live(live, live_release), make_target(make.deployment(), target_release))


def test_schema_downgrade_warning() -> None:
    warnings = _schema_plan(live_schema=3, target_schema=2)["warnings"]
    assert warnings == ["data is not migrated back: v1.0.0 declares schema 2, the live v2.0.0 declares 3"]
    assert warnings[0].startswith(NOT_MIGRATED_BACK)
    assert NOT_MIGRATED_BACK == "data is not migrated back"


@pytest.mark.parametrize(
    ("live_schema", "target_schema"),
    [
        (2, 2),  # same schema
        (1, 2),  # upgrade
        (3, 0),  # target declares no schema
        (0, 0),  # neither declares a schema
        (0, 1),  # live declares no schema
    ],
)
def test_no_schema_warning(live_schema: int, target_schema: int) -> None:
    assert _schema_plan(live_schema, target_schema)["warnings"] == []


def test_schema_warning_smallest_downgrade() -> None:
    assert _schema_plan(live_schema=2, target_schema=1)["warnings"] == [
        "data is not migrated back: v1.0.0 declares schema 1, the live v2.0.0 declares 2"
    ]


def test_no_schema_warning_without_live_release() -> None:
    plan = make_plan(make_live(), make_target(make.deployment(), make.release("1.0.0", schema_version=1)))
    assert plan["warnings"] == []


# quarantine and rollback warnings ----------------------------------------------------------


def test_quarantined_warning() -> None:
    plan = make_plan(make_live(), make_target(make.deployment(), make.release("1.2.3"), quarantined=True))
    assert plan["warnings"] == ["release v1.2.3 is quarantined for this instance (it was rolled back)"]


def test_quarantined_without_release_no_warning() -> None:
    assert make_plan(make_live(), make_target(make.deployment(), None, quarantined=True))["warnings"] == []


def test_rollback_secrets_warning() -> None:
    proposal = make.deployment(rollback_of_id="d-source", rollback_of_version="1.0.0")
    plan = make_plan(make_live(), make_target(proposal, make.release("1.0.0")))
    assert plan["warnings"] == [SECRETS_WARNING]


def test_no_secrets_warning_for_a_normal_proposal() -> None:
    assert make_plan(make_live(), make_target(make.deployment(), make.release("1.0.0")))["warnings"] == []


def test_all_warnings_in_order() -> None:
    live_release = make.release("2.0.0", schema_version=5)
    target_release = make.release("1.0.0", schema_version=4)
    live = make.deployment(id="d-live", status=Status.COMPLETED)
    proposal = make.deployment(rollback_of_id="d-source", rollback_of_version="1.0.0")
    plan = make_plan(make_live(live, live_release), make_target(proposal, target_release, quarantined=True))
    assert plan["warnings"] == [
        "data is not migrated back: v1.0.0 declares schema 4, the live v2.0.0 declares 5",
        "release v1.0.0 is quarantined for this instance (it was rolled back)",
        SECRETS_WARNING,
    ]


# decommission -------------------------------------------------------------------------------


def test_decommission_diffs_against_empty() -> None:
    live_release = make.release("1.0.0")
    live = make.deployment(
        id="d-live",
        status=Status.COMPLETED,
        params={"image_tag": "abc", "db": {"size": "s"}},
        connection_params={"db": DB_ID},
    )
    # A decommission proposal carries no snapshot; even if it did, it must be ignored.
    proposal = make.deployment(
        action=Action.DECOMMISSION,
        params={"image_tag": "ignored"},
        connection_params={"db": "ignored"},
        bundle_release_id=None,
        version=None,
        release_channel=None,
    )
    assert make_plan(make_live(live, live_release), make_target(proposal, None)) == {
        "action": "DECOMMISSION",
        "live_deployment_id": "d-live",
        "live_release": release_json(live_release),
        "target_release": None,
        "release_change": None,
        "params": {"added": {}, "removed": {"db.size": "s", "image_tag": "abc"}, "changed": {}},
        "connections": {"added": {}, "removed": {"db": DB_ID}, "changed": {}},
        "runtime_instances": None,
        "warnings": [],
        "stale": False,
    }


def test_decommission_with_nothing_live() -> None:
    proposal = make.deployment(action=Action.DECOMMISSION, params={}, connection_params={}, bundle_release_id=None)
    plan = make_plan(make_live(), make_target(proposal, None))
    assert plan["params"] == EMPTY_DIFF
    assert plan["connections"] == EMPTY_DIFF
    assert plan["live_deployment_id"] is None


# runtime instances (DYNAMIC) -------------------------------------------------------------


def _runtime(
    *,
    live_release: Release | None,
    target_release: Release | None,
    live_runtime: int,
    replicas: int,
    warm: int,
    action: Action = Action.PROVISION,
) -> Any:
    live = make.deployment(id="d-live", status=Status.COMPLETED) if live_release else None
    proposal = make.deployment(action=action)
    target = make_target(proposal, target_release, Kind.DYNAMIC, replicas, warm)
    return make_plan(make_live(live, live_release, live_runtime), target)["runtime_instances"]


def test_dynamic_first_deployment_spawns_all() -> None:
    assert _runtime(live_release=None, target_release=make.release("1.0.0"), live_runtime=0, replicas=3, warm=0) == {
        "replicas": 3,
        "reuse": 0,
        "spawn": 3,
        "drain": 0,
    }


def test_dynamic_new_release_spawns_and_drains_the_old() -> None:
    assert _runtime(
        live_release=make.release("1.0.0"), target_release=make.release("2.0.0"), live_runtime=3, replicas=3, warm=0
    ) == {"replicas": 3, "reuse": 0, "spawn": 3, "drain": 3}


def test_dynamic_roll_back_to_warm_release_reuses() -> None:
    assert _runtime(
        live_release=make.release("2.0.0"), target_release=make.release("1.0.0"), live_runtime=3, replicas=3, warm=3
    ) == {"replicas": 3, "reuse": 3, "spawn": 0, "drain": 3}


def test_dynamic_partially_warm_spawns_the_missing() -> None:
    assert _runtime(
        live_release=make.release("2.0.0"), target_release=make.release("1.0.0"), live_runtime=4, replicas=5, warm=2
    ) == {"replicas": 5, "reuse": 2, "spawn": 3, "drain": 4}


def test_dynamic_same_release_drains_nothing() -> None:
    release = make.release("1.0.0")
    assert _runtime(live_release=release, target_release=release, live_runtime=3, replicas=3, warm=3) == {
        "replicas": 3,
        "reuse": 3,
        "spawn": 0,
        "drain": 0,
    }


def test_dynamic_same_release_scale_up() -> None:
    release = make.release("1.0.0")
    assert _runtime(live_release=release, target_release=release, live_runtime=2, replicas=5, warm=2) == {
        "replicas": 5,
        "reuse": 2,
        "spawn": 3,
        "drain": 0,
    }


def test_dynamic_replicas_smaller_than_warm() -> None:
    assert _runtime(
        live_release=make.release("2.0.0"), target_release=make.release("1.0.0"), live_runtime=2, replicas=2, warm=5
    ) == {"replicas": 2, "reuse": 2, "spawn": 0, "drain": 2}


def test_dynamic_zero_replicas() -> None:
    assert _runtime(live_release=None, target_release=make.release("1.0.0"), live_runtime=0, replicas=0, warm=4) == {
        "replicas": 0,
        "reuse": 0,
        "spawn": 0,
        "drain": 0,
    }


def test_dynamic_decommission_wants_zero_and_drains_live() -> None:
    assert _runtime(
        live_release=make.release("1.0.0"),
        target_release=None,
        live_runtime=3,
        replicas=3,
        warm=0,
        action=Action.DECOMMISSION,
    ) == {"replicas": 0, "reuse": 0, "spawn": 0, "drain": 3}


def test_dynamic_decommission_ignores_warm_instances() -> None:
    assert _runtime(
        live_release=make.release("1.0.0"),
        target_release=make.release("2.0.0"),
        live_runtime=1,
        replicas=3,
        warm=3,
        action=Action.DECOMMISSION,
    ) == {"replicas": 0, "reuse": 0, "spawn": 0, "drain": 1}


def test_dynamic_target_without_release() -> None:
    assert _runtime(live_release=make.release("1.0.0"), target_release=None, live_runtime=2, replicas=2, warm=0) == {
        "replicas": 2,
        "reuse": 0,
        "spawn": 2,
        "drain": 2,
    }


def test_static_has_no_runtime_instances() -> None:
    live_release, target_release = make.release("1.0.0"), make.release("2.0.0")
    live = make.deployment(id="d-live", status=Status.COMPLETED)
    target = make_target(make.deployment(), target_release, Kind.STATIC, replicas=3, warm_instances=3)
    assert make_plan(make_live(live, live_release, 3), target)["runtime_instances"] is None


def test_make_plan_does_not_change_its_inputs() -> None:
    live = make.deployment(id="d-live", status=Status.COMPLETED, params={"a": {"b": 1}})
    proposal = make.deployment(params={"a": {"b": 2}})
    make_plan(make_live(live, make.release("1.0.0")), make_target(proposal, make.release("2.0.0")))
    assert live.params == {"a": {"b": 1}}
    assert proposal.params == {"a": {"b": 2}}


# --- mark_stale --------------------------------------------------------------------------


def _plan() -> JSON:
    proposal = make.deployment(rollback_of_id="d-source")
    return make_plan(make_live(), make_target(proposal, make.release("1.0.0")))


def test_stale_warning_text() -> None:
    assert STALE == "stale: the active deployment changed after this plan was made; plan again"


def test_mark_stale() -> None:
    plan = _plan()
    stale = mark_stale(plan)
    assert stale == {**plan, "stale": True, "warnings": [SECRETS_WARNING, STALE]}


def test_mark_stale_does_not_change_its_input() -> None:
    plan = _plan()
    mark_stale(plan)
    assert plan["stale"] is False
    assert plan["warnings"] == [SECRETS_WARNING]


def test_mark_stale_is_idempotent() -> None:
    once = mark_stale(_plan())
    twice = mark_stale(once)
    assert twice == once
    assert twice["warnings"] == [SECRETS_WARNING, STALE]
    assert twice["warnings"].count(STALE) == 1
    assert mark_stale(mark_stale(twice))["warnings"].count(STALE) == 1


def test_mark_stale_without_warnings_key() -> None:
    assert mark_stale({"stale": False}) == {"stale": True, "warnings": [STALE]}
    assert mark_stale({}) == {"stale": True, "warnings": [STALE]}
