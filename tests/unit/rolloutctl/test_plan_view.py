"""A plan rendered as a person reads it: a diff by path, the release change, runtime instances,
and the warnings highlighted."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.text import Text

from rolloutctl.plan_view import plan_lines, plan_view

# As it arrives from Deployment.plan: a Struct, so every number is a float.
PLAN: dict[str, Any] = {
    "action": "PROVISION",
    "live_deployment_id": "c5542785-779a-46db-85a4-03c6b4d72d3f",
    "live_release": {"id": "r2", "version": "1.1.0", "release_channel": "stable", "schema_version": 2.0},
    "target_release": {"id": "r1", "version": "1.0.0", "release_channel": "stable", "schema_version": 1.0},
    "release_change": {"from": "1.1.0", "to": "1.0.0"},
    "params": {
        "added": {"feature.beta": True},
        "removed": {"new.x": 1.0},
        "changed": {"workers": {"from": 8.0, "to": 4.0}, "name": {"from": "a", "to": "b"}},
    },
    "connections": {"added": {}, "removed": {}, "changed": {}},
    "runtime_instances": {"replicas": 3.0, "reuse": 1.0, "spawn": 2.0, "drain": 3.0},
    "warnings": [
        "data is not migrated back: v1.0.0 declares schema 1, the live v1.1.0 declares 2",
        "secrets are not rolled back: the instance's current secrets apply",
    ],
    "stale": False,
}


def plain(lines: list[Text]) -> list[str]:
    return [line.plain for line in lines]


def style_of(lines: list[Text], start: str) -> str:
    [line] = [line for line in lines if line.plain.startswith(start)]
    return str(line.style)


def test_the_diff_as_text() -> None:
    assert plain(plan_lines(PLAN)) == [
        "action       provision",
        "release      v1.1.0 → v1.0.0   live v1.1.0 (schema 2), target v1.0.0 (schema 1)",
        "runtime      3 replicas: reuse 1, spawn 2, drain 3 (kept warm, drained later)",
        "params",
        "  + feature.beta: true",
        "  ~ name: \"a\" → \"b\"",
        "  - new.x: 1",
        "  ~ workers: 8 → 4",
        "connections",
        "  no change",
        "warnings",
        "  ⚠ data is not migrated back: v1.0.0 declares schema 1, the live v1.1.0 declares 2",
        "  ⚠ secrets are not rolled back: the instance's current secrets apply",
    ]


def test_colours_say_added_removed_changed_and_warnings_stand_out() -> None:
    lines = plan_lines(PLAN)
    assert style_of(lines, "  + feature.beta") == "green"
    assert style_of(lines, "  - new.x") == "red"
    assert style_of(lines, "  ~ workers") == "yellow"
    assert style_of(lines, "  ⚠ data is not migrated back") == "bold red"
    assert style_of(lines, "  ⚠ secrets") == "bold yellow"


def test_a_first_deployment_and_a_static_instance() -> None:
    first = {
        "action": "PROVISION",
        "live_release": None,
        "target_release": {"version": "1.0.0", "schema_version": 0.0},
        "release_change": {"from": None, "to": "1.0.0"},
        "params": {"added": {"workers": 4.0}, "removed": {}, "changed": {}},
        "connections": {"added": {"db": "9f"}, "removed": {}, "changed": {}},
        "runtime_instances": None,
        "warnings": [],
    }
    assert plain(plan_lines(first)) == [
        "action       provision",
        "release      none → v1.0.0   live none, target v1.0.0",
        "params",
        "  + workers: 4",
        "connections",
        '  + db: "9f"',
    ]


def test_a_stale_plan_warns_loudly() -> None:
    stale = {**PLAN, "warnings": ["stale: the active deployment changed after this plan was made; plan again"]}
    assert style_of(plan_lines(stale), "  ⚠ stale") == "bold red"


def test_rendered_on_a_terminal_with_colours() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="standard")
    console.print(plan_view(PLAN, Text("Plan of deployment 1a2b3c4d")))
    text = out.getvalue()
    assert "Plan of deployment 1a2b3c4d" in text
    assert "\x1b[32m  + feature.beta: true" in text  # green
    assert "\x1b[1;31m  ⚠ data is not migrated back" in text  # bold red
