"""The plan of a proposal: what would change between what is live and what it would make live."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.domain.models import JSON, Action, Deployment, Kind, Release

NOT_MIGRATED_BACK = "data is not migrated back"
STALE = "stale: the active deployment changed after this plan was made; plan again"


@dataclass(frozen=True)
class Live:
    """What runs now: the active deployment, its release and its warm runtime instances."""

    deployment: Deployment | None
    release: Release | None
    runtime_instances: int


@dataclass(frozen=True)
class Target:
    proposal: Deployment
    release: Release | None
    kind: Kind
    replicas: int
    # HEALTHY runtime instances of the target release that are already up (warm).
    warm_instances: int
    quarantined: bool


def _segment(key: str) -> str:
    # A dot inside a key is escaped so that `{"a.b": 1}` and `{"a": {"b": 1}}` have different paths.
    return key.replace("\\", "\\\\").replace(".", "\\.")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON object by dotted path (dots in keys escaped as `\\.`); lists are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            segment = _segment(str(key))
            out.update(flatten(inner, f"{prefix}.{segment}" if prefix else segment))
        return out
    return {prefix: value} if prefix else {}


def _same(a: Any, b: Any) -> bool:
    # Python says True == 1.0; JSON does not.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def diff(before: dict[str, Any], after: dict[str, Any]) -> JSON:
    old, new = flatten(before), flatten(after)
    return {
        "added": {p: new[p] for p in sorted(new.keys() - old.keys())},
        "removed": {p: old[p] for p in sorted(old.keys() - new.keys())},
        "changed": {
            p: {"from": old[p], "to": new[p]} for p in sorted(old.keys() & new.keys()) if not _same(old[p], new[p])
        },
    }


def _release(release: Release | None) -> JSON | None:
    if release is None:
        return None
    return {
        "id": release.id,
        "version": release.version,
        "release_channel": release.release_channel,
        "schema_version": release.schema_version,
    }


def make_plan(live: Live, target: Target) -> JSON:
    proposal = target.proposal
    live_params = live.deployment.params if live.deployment else {}
    live_connections = live.deployment.connection_params if live.deployment else {}
    decommission = proposal.action is Action.DECOMMISSION
    warnings: list[str] = []
    plan: JSON = {
        "action": proposal.action.value,
        "live_deployment_id": live.deployment.id if live.deployment else None,
        "live_release": _release(live.release),
        "target_release": _release(target.release),
        "release_change": None,
        "params": diff(live_params, {} if decommission else proposal.params),
        "connections": diff(live_connections, {} if decommission else proposal.connection_params),
        "runtime_instances": None,
        "warnings": warnings,
        "stale": False,
    }
    if live.release and target.release and live.release.id != target.release.id:
        plan["release_change"] = {"from": live.release.version, "to": target.release.version}
    elif live.release is None and target.release is not None:
        plan["release_change"] = {"from": None, "to": target.release.version}
    if (
        live.release
        and target.release
        and 0 < target.release.schema_version < live.release.schema_version
    ):
        warnings.append(
            f"{NOT_MIGRATED_BACK}: v{target.release.version} declares schema {target.release.schema_version}, "
            f"the live v{live.release.version} declares {live.release.schema_version}"
        )
    if target.quarantined and target.release:
        warnings.append(f"release v{target.release.version} is quarantined for this instance (it was rolled back)")
    if proposal.rollback_of_id:
        warnings.append("secrets are not rolled back: the instance's current secrets apply")
    if target.kind is Kind.DYNAMIC:
        same_release = live.release is not None and target.release is not None and live.release.id == target.release.id
        wanted = 0 if decommission else target.replicas
        reuse = min(target.warm_instances, wanted)
        plan["runtime_instances"] = {
            "replicas": wanted,
            "reuse": reuse,
            "spawn": wanted - reuse,
            # Instances of the release switched away from stay warm for a while, then drain.
            "drain": 0 if same_release else live.runtime_instances,
        }
    return plan


def mark_stale(plan: JSON) -> JSON:
    if plan.get("stale"):
        return plan
    return {**plan, "stale": True, "warnings": [*plan.get("warnings", []), STALE]}
