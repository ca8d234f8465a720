"""Authorization decisions and separation of duties, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from server import authz
from server.api.permissions import PERMISSIONS
from server.domain.approvals import ALREADY_APPROVED, SELF_APPROVAL_FORBIDDEN, approve, rule_for
from server.domain.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from server.domain.models import ApprovalRule, Principal, PrincipalKind

SRE_POLICY = (Path(__file__).resolve().parents[2] / "policies" / "sre.cedar").read_text()
T = datetime(2026, 1, 1, tzinfo=UTC)


def who(name: str, *groups: str) -> Principal:
    return Principal(f"id-{name}", "acme", name, PrincipalKind.USER, groups, False, T)


def instance(environment: str) -> authz.Resource:
    return authz.instance("i-1", "shop", environment, {"team": "payments"}, "web")


SRE = authz.compile_policies([SRE_POLICY])


@pytest.mark.parametrize("action", ["instance:read", "instance:propose", "instance:deploy"])
def test_sre_may_read_propose_and_deploy_in_production(action: str) -> None:
    assert authz.is_allowed(SRE, who("oncall", "sre"), action, instance("production"))


@pytest.mark.parametrize("action", ["instance:read", "instance:propose", "instance:deploy"])
def test_sre_may_nothing_in_staging(action: str) -> None:
    assert not authz.is_allowed(SRE, who("oncall", "sre"), action, instance("staging"))


@pytest.mark.parametrize("action", ["instance:admin", "release:publish", "release:read", "audit:read", "org:admin"])
def test_sre_may_nothing_more_in_production(action: str) -> None:
    assert not authz.is_allowed(SRE, who("oncall", "sre"), action, instance("production"))
    assert not authz.is_allowed(SRE, who("oncall", "sre"), action, authz.organization("acme"))
    assert not authz.is_allowed(SRE, who("oncall", "sre"), action, authz.release("r-1", "web", "stable"))


def test_deny_by_default() -> None:
    assert not authz.is_allowed(SRE, who("dev"), "instance:read", instance("production"))
    assert not authz.is_allowed(authz.compile_policies([]), who("admin", "admins"), "instance:read", instance("x"))


def test_admins_policy_grants_everything_and_forbid_wins() -> None:
    admins = authz.compile_policies([authz.ADMINS_POLICY])
    for action in authz.ACTIONS:
        assert authz.is_allowed(admins, who("root", "admins"), action, authz.organization("acme"))
    with_forbid = authz.compile_policies([
        authz.ADMINS_POLICY,
        'forbid(principal, action == Rollout::Action::"instance:deploy", resource) '
        'when { resource has labels && resource.labels has team && resource.labels.team == "payments" };',
    ])
    assert not authz.is_allowed(with_forbid, who("root", "admins"), "instance:deploy", instance("production"))
    assert authz.is_allowed(with_forbid, who("root", "admins"), "instance:propose", instance("production"))


def test_invalid_cedar_is_refused_on_the_policy_field() -> None:
    with pytest.raises(InvalidArgument) as exc_info:
        authz.compile_policies(["permit(principal, action, resource"])
    assert [v.field for v in exc_info.value.violations] == ["policy.cedar"]


def test_every_rpc_requires_a_known_action() -> None:
    assert {rule.action for rule in PERMISSIONS.values()} <= set(authz.ACTIONS)


def test_default_rule_is_one_approval_by_anyone() -> None:
    rule = rule_for("production", [ApprovalRule("staging", 2, False)])
    assert rule == ApprovalRule("production", 1, True)
    assert approve(rule, "alice", "alice", set()).reached


def test_two_distinct_approvers_without_the_proposer() -> None:
    rule = rule_for("production", [ApprovalRule("production", 2, False)])
    with pytest.raises(PermissionDenied) as denied:
        approve(rule, "alice", "alice", set())
    assert denied.value.reason == SELF_APPROVAL_FORBIDDEN
    first = approve(rule, "alice", "bob", set())
    assert (first.approvals, first.required, first.reached) == (1, 2, False)
    with pytest.raises(FailedPrecondition) as twice:
        approve(rule, "alice", "bob", {"bob"})
    assert twice.value.reason == ALREADY_APPROVED
    assert approve(rule, "alice", "carol", {"bob"}).reached


def test_proposer_may_count_when_allowed() -> None:
    rule = ApprovalRule("production", 2, True)
    assert not approve(rule, "alice", "alice", set()).reached
    assert approve(rule, "alice", "bob", {"alice"}).reached


PERMIT_WHEN = "permit(principal, action, resource) when {{ {} }};"


@pytest.mark.parametrize(
    "condition",
    [
        "(" * 65 + "true" + ")" * 65,
        "[" * 65 + "]" * 65 + " == []",
        "{a: " * 65 + "1" + "}" * 65 + " == {}",
        "if true then " * 65 + "true" + " else true" * 65,
    ],
)
def test_deeply_nested_policy_is_refused_before_cedar_parses_it(condition: str) -> None:
    # Cedar's parser crashes the process (SIGSEGV) from about 650 nested brackets.
    with pytest.raises(InvalidArgument) as raised:
        authz.compile_policies([PERMIT_WHEN.format(condition)])
    assert [v.field for v in raised.value.violations] == ["policy.cedar"]
    assert "at most 64" in raised.value.violations[0].description


@pytest.mark.parametrize(
    "text",
    [
        PERMIT_WHEN.format("(" * 60 + "true" + ")" * 60),
        PERMIT_WHEN.format('context has a && "' + "(" * 100 + '" like "*"'),
        PERMIT_WHEN.format("true") + "\n// " + "(" * 100 + " if" * 100,
    ],
)
def test_nesting_within_the_limit_or_inside_strings_and_comments_is_accepted(text: str) -> None:
    authz.compile_policies([text])
