"""Organization administration RPCs: success paths and every documented error."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.auth import as_principal
from tests.integration.helpers import Stub, create_instance, failure

C = grpc.StatusCode
MISSING = "00000000-0000-4000-8000-000000000000"


def create_principal(stub: Stub, org: str, name: str, **fields: object) -> pb.Principal:
    principal = pb.Principal(name=name, kind=fields.pop("kind", pb.Principal.KIND_USER), **fields)  # type: ignore[arg-type]
    return stub.CreatePrincipal(api.CreatePrincipalRequest(organization_id=org, principal=principal))


def test_principals_are_created_listed_and_updated(stub: Stub, org: str) -> None:
    bob = create_principal(stub, org, "bob", groups=["sre", "sre", "dev"])
    assert (bob.name, list(bob.groups), bob.disabled) == ("bob", ["dev", "sre"], False)
    taken = failure(lambda: create_principal(stub, org, "bob"))
    assert (taken.code, taken.reason) == (C.ALREADY_EXISTS, "PRINCIPAL_EXISTS")

    listed = stub.ListPrincipals(api.ListPrincipalsRequest(organization_id=org, page_size=1))
    assert len(listed.principals) == 1 and listed.next_page_token
    everyone = stub.ListPrincipals(api.ListPrincipalsRequest(organization_id=org, page_size=10))
    assert [p.name for p in everyone.principals] == ["admin", "bob"]

    disabled = stub.UpdatePrincipal(api.UpdatePrincipalRequest(
        organization_id=org, id=bob.id, principal=pb.Principal(disabled=True),
        update_mask=field_mask_pb2.FieldMask(paths=["disabled"])))
    assert disabled.disabled and list(disabled.groups) == ["dev", "sre"]


@pytest.mark.parametrize(
    ("principal", "field"),
    [
        (pb.Principal(name="", kind=pb.Principal.KIND_USER), "principal.name"),
        (pb.Principal(name="Bob", kind=pb.Principal.KIND_USER), "principal.name"),
        (pb.Principal(name="bob"), "principal.kind"),
        (pb.Principal(name="bob", kind=9), "principal.kind"),
        (pb.Principal(name="bob", kind=pb.Principal.KIND_USER, groups=["Not A Group"]), "principal.groups[0]"),
    ],
)
def test_create_principal_bad_input(stub: Stub, org: str, principal: pb.Principal, field: str) -> None:
    f = failure(lambda: stub.CreatePrincipal(api.CreatePrincipalRequest(organization_id=org, principal=principal)))
    assert (f.code, field in f.violations) == (C.INVALID_ARGUMENT, True)


def test_update_principal_errors(stub: Stub, org: str) -> None:
    unknown = failure(lambda: stub.UpdatePrincipal(api.UpdatePrincipalRequest(
        organization_id=org, id=MISSING, update_mask=field_mask_pb2.FieldMask(paths=["disabled"]))))
    assert unknown.code == C.NOT_FOUND
    bob = create_principal(stub, org, "bob")
    for paths in ([], ["name"]):
        bad = failure(lambda p=paths: stub.UpdatePrincipal(api.UpdatePrincipalRequest(
            organization_id=org, id=bob.id, update_mask=field_mask_pb2.FieldMask(paths=p))))
        assert (bad.code, list(bad.violations)) == (C.INVALID_ARGUMENT, ["update_mask"])


def test_a_disabled_principal_cannot_authenticate(stub: Stub, org: str, channel: grpc.Channel) -> None:
    bob = create_principal(stub, org, "bob", groups=["admins"])
    token = stub.CreateToken(api.CreateTokenRequest(organization_id=org, principal_id=bob.id)).token
    as_bob = as_principal(channel, token)
    assert as_bob.ListInstances(api.ListInstancesRequest(organization_id=org)) is not None
    stub.UpdatePrincipal(api.UpdatePrincipalRequest(
        organization_id=org, id=bob.id, principal=pb.Principal(disabled=True),
        update_mask=field_mask_pb2.FieldMask(paths=["disabled"])))
    f = failure(lambda: as_bob.ListInstances(api.ListInstancesRequest(organization_id=org)))
    assert f.code == C.UNAUTHENTICATED


def test_tokens_are_shown_once_and_revoked_at_once(stub: Stub, org: str, channel: grpc.Channel) -> None:
    bob = create_principal(stub, org, "bob", groups=["admins"])
    request = api.CreateTokenRequest(organization_id=org, principal_id=bob.id, ttl_seconds=3600, request_id="tok-1")
    made = stub.CreateToken(request)
    assert made.token.startswith("rlt_") and made.info.principal_id == bob.id and not made.info.revoked
    replayed = stub.CreateToken(request)
    assert (replayed.token, replayed.info) == ("", made.info)  # the secret is not stored for replays
    as_bob = as_principal(channel, made.token)
    create_instance(as_bob, org)

    revoked = stub.RevokeToken(api.RevokeTokenRequest(organization_id=org, id=made.info.id))

    assert revoked.revoked
    assert failure(lambda: create_instance(as_bob, org, name="again")).code == C.UNAUTHENTICATED
    assert failure(lambda: stub.RevokeToken(api.RevokeTokenRequest(organization_id=org, id=MISSING))).code == C.NOT_FOUND
    assert failure(lambda: stub.CreateToken(api.CreateTokenRequest(organization_id=org, principal_id=MISSING))).code == C.NOT_FOUND
    short = failure(lambda: stub.CreateToken(api.CreateTokenRequest(organization_id=org, principal_id=bob.id, ttl_seconds=5)))
    assert (short.code, list(short.violations)) == (C.INVALID_ARGUMENT, ["ttl_seconds"])


def test_policies_are_put_listed_and_deleted(stub: Stub, org: str) -> None:
    readers = 'permit(principal in Rollout::Group::"readers", action == Rollout::Action::"instance:read", resource);'
    put = stub.PutPolicy(api.PutPolicyRequest(organization_id=org, policy=pb.Policy(name="readers", cedar=readers)))
    assert (put.name, put.cedar) == ("readers", readers)
    assert [p.name for p in stub.ListPolicies(api.ListPoliciesRequest(organization_id=org)).policies] == ["admins", "readers"]
    bad = failure(lambda: stub.PutPolicy(api.PutPolicyRequest(
        organization_id=org, policy=pb.Policy(name="broken", cedar="permit(principal, action"))))
    assert (bad.code, list(bad.violations)) == (C.INVALID_ARGUMENT, ["policy.cedar"])
    assert stub.DeletePolicy(api.DeletePolicyRequest(organization_id=org, name="readers")).name == "readers"
    gone = failure(lambda: stub.DeletePolicy(api.DeletePolicyRequest(organization_id=org, name="readers")))
    assert gone.code == C.NOT_FOUND


def test_approval_rules_are_put_and_listed(stub: Stub, org: str) -> None:
    rule = pb.ApprovalRule(environment="production", required_approvals=2, proposer_may_approve=False)
    assert stub.PutApprovalRule(api.PutApprovalRuleRequest(organization_id=org, rule=rule)) == rule
    assert list(stub.ListApprovalRules(api.ListApprovalRulesRequest(organization_id=org)).rules) == [rule]
    bad = failure(lambda: stub.PutApprovalRule(api.PutApprovalRuleRequest(
        organization_id=org, rule=pb.ApprovalRule(environment="production", required_approvals=0))))
    assert (bad.code, list(bad.violations)) == (C.INVALID_ARGUMENT, ["rule.required_approvals"])


def test_decommission_errors(stub: Stub, org: str) -> None:
    missing = failure(lambda: stub.DecommissionInstance(api.DecommissionInstanceRequest(organization_id=org, id=MISSING)))
    assert missing.code == C.NOT_FOUND
    instance = create_instance(stub, org)
    long = failure(lambda: stub.DecommissionInstance(
        api.DecommissionInstanceRequest(organization_id=org, id=instance.id, message="m" * 2000)))
    assert (long.code, list(long.violations)) == (C.INVALID_ARGUMENT, ["message"])
