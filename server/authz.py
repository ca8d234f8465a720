"""Attribute-based authorization with Cedar (docs/product.md §7). Deny by default.

The organization's policies (Cedar text) are compiled once per policy
version and cached; a decision builds the principal and resource entities
from plain values and asks Cedar. No I/O here.

Entities: `Rollout::Principal::"<name>"` in `Rollout::Group::"<group>"`;
`Rollout::Instance::"<id>"` with `project`, `environment`, `labels`, `bundle`;
`Rollout::Release::"<id>"` with `bundle`, `release_channel`;
`Rollout::Organization::"<id>"`. Actions: `Rollout::Action::"instance:read"` …
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import cedarpy

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.models import Principal

NAMESPACE = "Rollout"
ACTIONS = (
    "instance:read",
    "instance:propose",
    "instance:deploy",
    "instance:admin",
    "release:read",
    "release:publish",
    "audit:read",
    "org:admin",
)

# Granted to the `admins` group of every organization created by bootstrap.
ADMINS_POLICY = f'permit(principal in {NAMESPACE}::Group::"admins", action, resource);'


@dataclass(frozen=True)
class Resource:
    type: str  # Instance, Release or Organization
    id: str
    attrs: dict[str, Any] = field(default_factory=dict)


def organization(organization_id: str) -> Resource:
    return Resource("Organization", organization_id)


def instance(instance_id: str, project: str, environment: str, labels: dict[str, str], bundle: str) -> Resource:
    """What policies may test about an instance."""
    attrs = {"project": project, "environment": environment, "labels": dict(labels), "bundle": bundle}
    return Resource("Instance", instance_id, attrs)


def release(release_id: str, bundle: str, release_channel: str) -> Resource:
    return Resource("Release", release_id, {"bundle": bundle, "release_channel": release_channel})


# cedarpy's parser recurses once per nesting level on the native stack: about 650 nested brackets
# crash the whole process (SIGSEGV) instead of raising. Nested `if`s recurse the same way (5,000
# crash; a 64 KiB text holds about 3,800), so they are bounded too. Real policies nest a few levels.
MAX_NESTING = 64
_STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*')
_IF = re.compile(r"\bif\b")


def _nesting_problem(text: str) -> str | None:
    code = _STRINGS_AND_COMMENTS.sub(" ", text)
    depth = deepest = 0
    for char in code:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"brackets nest {deepest} deep; at most {MAX_NESTING}"
    if len(_IF.findall(code)) > MAX_NESTING:
        return f"at most {MAX_NESTING} `if` expressions"
    return None


def compile_policies(texts: list[str]) -> Any:
    """A Cedar PolicySet; InvalidArgument naming the Cedar error if a text does not parse."""
    for text in texts:
        problem = _nesting_problem(text)
        if problem:
            raise InvalidArgument([FieldViolation("policy.cedar", f"not accepted: {problem}")])
    try:
        return cedarpy.PolicySet.from_str("\n".join(texts))
    except Exception as exc:  # cedarpy raises a bare ValueError/RuntimeError with the parser's message
        raise InvalidArgument([FieldViolation("policy.cedar", f"not valid Cedar: {exc}"[:500])]) from None


def _uid(type_: str, id_: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{type_}", "id": id_}


def entities(principal: Principal, resource: Resource) -> list[dict[str, Any]]:
    return [
        {
            "uid": _uid("Principal", principal.name),
            "attrs": {"kind": principal.kind.value},
            "parents": [_uid("Group", g) for g in principal.groups],
        },
        {"uid": _uid(resource.type, resource.id), "attrs": resource.attrs, "parents": []},
    ]


def is_allowed(policies: Any, principal: Principal, action: str, resource: Resource) -> bool:
    """Cedar's decision: True only if some policy permits and none forbids (deny by default)."""
    request = {
        "principal": _uid("Principal", principal.name),
        "action": _uid("Action", action),
        "resource": _uid(resource.type, resource.id),
        "context": {},
    }
    return bool(cedarpy.is_authorized(request, policies, entities(principal, resource)).allowed)


class PolicyCache:
    """Compiled policy sets by (organization, policy version): policies change rarely, decisions often."""

    def __init__(self, size: int = 1024) -> None:
        self._sets: dict[tuple[str, int], Decider] = {}
        self._size = size

    def get(self, organization_id: str, version: int) -> Decider | None:
        return self._sets.get((organization_id, version))

    def put(self, organization_id: str, version: int, policies: Any) -> Decider:
        if len(self._sets) >= self._size:
            self._sets.clear()
        decider = self._sets[(organization_id, version)] = Decider(policies)
        return decider


class Decider:
    """One organization's compiled policies, remembering decisions: the same principal, action and
    resource attributes always get the same answer under the same policy version."""

    def __init__(self, policies: Any, size: int = 10_000) -> None:
        self.policies = policies
        self._decisions: dict[tuple[Any, ...], bool] = {}
        self._size = size

    def allows(self, principal: Principal, action: str, resource: Resource) -> bool:
        key = (
            principal.name, principal.kind, principal.groups, action, resource.type, resource.id,
            tuple(sorted((k, _frozen(v)) for k, v in resource.attrs.items())),
        )
        decision = self._decisions.get(key)
        if decision is None:
            if len(self._decisions) >= self._size:
                self._decisions.clear()
            decision = self._decisions[key] = is_allowed(self.policies, principal, action, resource)
        return decision


def _frozen(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, dict) else value
