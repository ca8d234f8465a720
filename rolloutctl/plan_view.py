"""A plan (Deployment.plan, made by the server's planner) as a coloured diff.

The plan is a JSON document: `release_change` {from, to}, `live_release` and
`target_release`, `params` and `connections` as {added, removed, changed} by
dotted path, `runtime_instances` {replicas, reuse, spawn, drain} for DYNAMIC
instances, `warnings`, and `stale`. Numbers arrive as floats (a Struct has no
integers), so whole ones are shown as integers again.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.text import Text

ADDED, REMOVED, CHANGED = "green", "red", "yellow"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def value_text(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)


def _section(title: str, diff: dict[str, Any] | None) -> list[Text]:
    lines = [Text(title, style="bold")]
    diff = diff or {}
    added, removed, changed = diff.get("added") or {}, diff.get("removed") or {}, diff.get("changed") or {}
    rows: list[tuple[str, Text]] = []
    for path, value in added.items():
        rows.append((path, Text(f"  + {path}: {value_text(value)}", style=ADDED)))
    for path, value in removed.items():
        rows.append((path, Text(f"  - {path}: {value_text(value)}", style=REMOVED)))
    for path, change in changed.items():
        old, new = value_text(change.get("from")), value_text(change.get("to"))
        rows.append((path, Text(f"  ~ {path}: {old} → {new}", style=CHANGED)))
    if not rows:
        lines.append(Text("  no change", style="dim"))
    lines += [row for _, row in sorted(rows, key=lambda r: r[0])]
    return lines


def _version(release: dict[str, Any] | None) -> str:
    if not release:
        return "none"
    text = f"v{release.get('version', '?')}"
    schema = _plain(release.get("schema_version") or 0)
    return f"{text} (schema {schema})" if schema else text


def _release(plan: dict[str, Any]) -> list[Text]:
    change = plan.get("release_change")
    line = Text("release      ", style="bold")
    if change:
        old = f"v{change['from']}" if change.get("from") else "none"
        line.append(f"{old} → v{change.get('to')}", style=CHANGED)
        line.append(f"   live {_version(plan.get('live_release'))}, target {_version(plan.get('target_release'))}",
                    style="dim")
    else:
        line.append(f"unchanged ({_version(plan.get('target_release'))})", style="dim")
    return [line]


def _runtime(plan: dict[str, Any]) -> list[Text]:
    runtime = plan.get("runtime_instances")
    if not runtime:
        return []
    r = _plain(runtime)
    line = Text("runtime      ", style="bold")
    line.append(f"{r.get('replicas', 0)} replicas: ")
    line.append(f"reuse {r.get('reuse', 0)}", style=ADDED if r.get("reuse") else "dim")
    line.append(", ")
    line.append(f"spawn {r.get('spawn', 0)}", style=CHANGED if r.get("spawn") else "dim")
    line.append(", ")
    line.append(f"drain {r.get('drain', 0)}", style=REMOVED if r.get("drain") else "dim")
    line.append(" (kept warm, drained later)" if r.get("drain") else "", style="dim")
    return [line]


def plan_lines(plan: dict[str, Any]) -> list[Text]:
    """Every line of the plan's diff, styled; warnings last and loud."""
    action = str(plan.get("action", "PROVISION"))
    lines = [Text("action       ", style="bold").append(action.lower())]
    lines += _release(plan)
    lines += _runtime(plan)
    lines += _section("params", plan.get("params"))
    lines += _section("connections", plan.get("connections"))
    warnings = plan.get("warnings") or []
    if warnings:
        lines.append(Text("warnings", style="bold yellow"))
        for warning in warnings:
            style = "bold red" if str(warning).startswith(("stale", "data is not migrated back")) else "bold yellow"
            lines.append(Text(f"  ⚠ {warning}", style=style))
    return lines


def plan_view(plan: dict[str, Any], title: Text) -> Group:
    return Group(title, *plan_lines(plan))
