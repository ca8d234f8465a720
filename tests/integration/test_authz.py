"""Authentication and authorization (docs/product.md §7): the matrix, the SRE example, two approvers, no leaks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import field_mask_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.first_admin import create_admin
from server.keyring import Keyring, parse
from server.store.db import asyncpg_dsn, create_engine
from tests.auth import admin_token, as_principal
from tests.integration.helpers import (
    Failure,
    Stub,
    approve,
    create_instance,
    deploy,
    events,
    failure,
    get,
    propose,
    publish,
    rollback,
    sql,
    sql_value,
    upload,
    wait_done,
)
from tests.stack import TEST_SECRETS_KEY, Stack

POLICIES = Path(__file__).resolve().parents[2] / "policies"
C = grpc.StatusCode
OK = C.OK


def principal(stub: Stub, org: str, name: str, groups: list[str]) -> tuple[pb.Principal, str]:
    """A principal in `groups` and a fresh token of it."""
    made = stub.CreatePrincipal(api.CreatePrincipalRequest(
        organization_id=org, principal=pb.Principal(name=name, kind=pb.Principal.KIND_USER, groups=groups)))
    token = stub.CreateToken(api.CreateTokenRequest(organization_id=org, principal_id=made.id)).token
    return made, token


def put_policy(stub: Stub, org: str, name: str, cedar: str) -> None:
    stub.PutPolicy(api.PutPolicyRequest(organization_id=org, policy=pb.Policy(name=name, cedar=cedar)))


STAGING_ONLY = (
    'permit(principal in Rollout::Group::"staging", action, resource) '
    'when { resource has environment && resource.environment == "staging" };'
)


def context(admin: Stub, org: str) -> dict[str, Any]:
    """Resources of a production instance for one row of the matrix (fresh per RPC)."""
    instance = create_instance(admin, org)
    release = publish(admin, org, "1.0.0")
    done = deploy(admin, org, instance.id)
    deploy(admin, org, instance.id)  # `done` becomes a past run, something to roll back to
    admin_principal = next(p for p in admin.ListPrincipals(api.ListPrincipalsRequest(organization_id=org)).principals
                           if p.name == "admin")
    return {
        "instance": instance, "release": release, "done": done, "proposal": propose(admin, org, instance.id),
        "admin": admin_principal,
        "token_id": admin.CreateToken(api.CreateTokenRequest(organization_id=org, principal_id=admin_principal.id)).info.id,
    }


Call = Callable[[Stub, str, dict[str, Any]], Any]
ALL: dict[str, Call] = {
    "CreateInstance": lambda s, o, x: s.CreateInstance(api.CreateInstanceRequest(organization_id=o, instance=pb.Instance(
        name="new", project="shop", environment="production", bundle="web", kind=pb.Instance.KIND_STATIC))),
    "GetInstance": lambda s, o, x: s.GetInstance(api.GetInstanceRequest(organization_id=o, id=x["instance"].id)),
    "ListInstances": lambda s, o, x: s.ListInstances(api.ListInstancesRequest(organization_id=o)),
    "UpdateInstance": lambda s, o, x: s.UpdateInstance(api.UpdateInstanceRequest(
        organization_id=o, id=x["instance"].id, instance=pb.Instance(labels={"a": "b"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels"]))),
    "SetInstanceSecrets": lambda s, o, x: s.SetInstanceSecrets(api.SetInstanceSecretsRequest(
        organization_id=o, id=x["instance"].id, secrets={"k": "v"})),
    "PublishRelease": lambda s, o, x: s.PublishRelease(api.PublishReleaseRequest(
        organization_id=o, release=pb.Release(bundle="web", version="2.0.0"), artifact_content=b"x")),
    "UploadRelease": lambda s, o, x: upload(s, o, "2.1.0", b"uploaded"),
    "GetRelease": lambda s, o, x: s.GetRelease(api.GetReleaseRequest(organization_id=o, id=x["release"].id)),
    "ListReleases": lambda s, o, x: s.ListReleases(api.ListReleasesRequest(organization_id=o)),
    "ArchiveRelease": lambda s, o, x: s.ArchiveRelease(api.ArchiveReleaseRequest(organization_id=o, id=x["release"].id)),
    "DeleteReleaseArtifact": lambda s, o, x: s.DeleteReleaseArtifact(
        api.DeleteReleaseArtifactRequest(organization_id=o, id=x["release"].id)),
    "ProposeDeployment": lambda s, o, x: s.ProposeDeployment(
        api.ProposeDeploymentRequest(organization_id=o, instance_id=x["instance"].id)),
    "DecommissionInstance": lambda s, o, x: s.DecommissionInstance(
        api.DecommissionInstanceRequest(organization_id=o, id=x["instance"].id)),
    "RollbackDeployment": lambda s, o, x: s.RollbackDeployment(
        api.RollbackDeploymentRequest(organization_id=o, id=x["done"].id)),
    "PlanDeployment": lambda s, o, x: s.PlanDeployment(api.PlanDeploymentRequest(organization_id=o, id=x["proposal"].id)),
    "ApproveDeployment": lambda s, o, x: s.ApproveDeployment(
        api.ApproveDeploymentRequest(organization_id=o, id=x["proposal"].id)),
    "RejectDeployment": lambda s, o, x: s.RejectDeployment(
        api.RejectDeploymentRequest(organization_id=o, id=x["proposal"].id)),
    "GetDeployment": lambda s, o, x: s.GetDeployment(api.GetDeploymentRequest(organization_id=o, id=x["done"].id)),
    "ListDeployments": lambda s, o, x: s.ListDeployments(
        api.ListDeploymentsRequest(organization_id=o, instance_id=x["instance"].id)),
    "WatchDeployment": lambda s, o, x: next(s.WatchDeployment(
        api.WatchDeploymentRequest(organization_id=o, id=x["done"].id), timeout=10)),
    "WatchInstance": lambda s, o, x: next(s.WatchInstance(
        api.WatchInstanceRequest(organization_id=o, id=x["instance"].id), timeout=10)),
    "WatchRoutes": lambda s, o, x: next(s.WatchRoutes(api.WatchRoutesRequest(organization_id=o), timeout=10)),
    "ListRuntimeInstances": lambda s, o, x: s.ListRuntimeInstances(
        api.ListRuntimeInstancesRequest(organization_id=o, instance_id=x["instance"].id)),
    "ListAuditEvents": lambda s, o, x: s.ListAuditEvents(api.ListAuditEventsRequest(organization_id=o)),
    "VerifyAuditChain": lambda s, o, x: s.VerifyAuditChain(api.VerifyAuditChainRequest(organization_id=o)),
    "CreatePrincipal": lambda s, o, x: s.CreatePrincipal(api.CreatePrincipalRequest(
        organization_id=o, principal=pb.Principal(name="zed", kind=pb.Principal.KIND_SERVICE))),
    "ListPrincipals": lambda s, o, x: s.ListPrincipals(api.ListPrincipalsRequest(organization_id=o)),
    "UpdatePrincipal": lambda s, o, x: s.UpdatePrincipal(api.UpdatePrincipalRequest(
        organization_id=o, id=x["admin"].id, principal=pb.Principal(groups=["admins"]),
        update_mask=field_mask_pb2.FieldMask(paths=["groups"]))),
    "CreateToken": lambda s, o, x: s.CreateToken(api.CreateTokenRequest(organization_id=o, principal_id=x["admin"].id)),
    "RevokeToken": lambda s, o, x: s.RevokeToken(api.RevokeTokenRequest(organization_id=o, id=x["token_id"])),
    "PutPolicy": lambda s, o, x: s.PutPolicy(api.PutPolicyRequest(organization_id=o, policy=pb.Policy(
        name="noop", cedar="forbid(principal, action, resource) when { false };"))),
    "DeletePolicy": lambda s, o, x: s.DeletePolicy(api.DeletePolicyRequest(organization_id=o, name="staging")),
    "ListPolicies": lambda s, o, x: s.ListPolicies(api.ListPoliciesRequest(organization_id=o)),
    "PutApprovalRule": lambda s, o, x: s.PutApprovalRule(api.PutApprovalRuleRequest(
        organization_id=o, rule=pb.ApprovalRule(environment="qa", required_approvals=1))),
    "ListApprovalRules": lambda s, o, x: s.ListApprovalRules(api.ListApprovalRulesRequest(organization_id=o)),
}


def code_of(call: Callable[[], Any]) -> C:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return OK


@pytest.fixture()
def cast(channel: grpc.Channel, stub: Stub, org: str, backends: tuple[str, str]) -> dict[str, Stub]:
    """One stub per row of the matrix."""
    _, nobody = principal(stub, org, "nobody", [])
    put_policy(stub, org, "staging", STAGING_ONLY)
    _, staging = principal(stub, org, "stager", ["staging"])
    revoked_principal, _ = principal(stub, org, "gone", ["admins"])
    revoked = stub.CreateToken(api.CreateTokenRequest(organization_id=org, principal_id=revoked_principal.id))
    stub.RevokeToken(api.RevokeTokenRequest(organization_id=org, id=revoked.info.id))

    async def expired_token() -> str:
        engine = create_engine(backends[0], 1)
        try:
            return await create_admin(engine, org, name="late", ttl=timedelta(seconds=-1))
        finally:
            await engine.dispose()

    return {
        "no token": api_grpc.RolloutServiceStub(channel),
        "malformed token": api_grpc.RolloutServiceStub(grpc.intercept_channel(channel, _Raw("Basic YWRtaW46YWRtaW4="))),
        "expired token": as_principal(channel, asyncio.run(expired_token())),
        "revoked token": as_principal(channel, revoked.token),
        "lacks the action": as_principal(channel, nobody),
        "allowed only in staging": as_principal(channel, staging),
        "another organization": as_principal(channel, admin_token(backends[0], org + "-x")),
        "allowed": stub,
    }


class _Raw(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, header: str) -> None:
        self.header = header

    def _add(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), ("authorization", self.header)])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._add(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._add(details), request)


# Expected codes; ListInstances needs no grant of its own and lists only what the caller may read.
EXPECTED = {
    "no token": C.UNAUTHENTICATED,
    "malformed token": C.UNAUTHENTICATED,
    "expired token": C.UNAUTHENTICATED,
    "revoked token": C.UNAUTHENTICATED,
    "lacks the action": C.PERMISSION_DENIED,
    "allowed only in staging": C.PERMISSION_DENIED,
    "another organization": C.NOT_FOUND,
    "allowed": OK,
}


def test_every_rpc_is_in_the_matrix_and_the_permission_table(channel: grpc.Channel) -> None:
    from google.protobuf import descriptor_pb2
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from server.api.permissions import PERMISSIONS
    from tests.integration.test_audit import SERVICE

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [reply] = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE)])))
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in reply.file_descriptor_response.file_descriptor_proto]
    methods = {m.name for f in files for s in f.service if f"{f.package}.{s.name}" == SERVICE for m in s.method}
    assert methods == set(PERMISSIONS) == set(ALL)


@pytest.mark.parametrize("method", sorted(ALL))
def test_matrix(stub: Stub, org: str, cast: dict[str, Stub], method: str) -> None:
    x = context(stub, org)
    got = {case: code_of(lambda c=caller: ALL[method](c, org, x)) for case, caller in cast.items()}
    expected = dict(EXPECTED)
    if method == "ListInstances":
        expected["lacks the action"] = expected["allowed only in staging"] = OK
    assert got == expected
    if method == "ListInstances":
        assert not cast["lacks the action"].ListInstances(api.ListInstancesRequest(organization_id=org)).instances


def grpcurl(address: str, token: str, method: str, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "grpcurl"), "-plaintext", "-H", f"authorization: Bearer {token}",
         "-d", json.dumps(data), address, f"rollout.v1.RolloutService/{method}"],
        capture_output=True, text=True, timeout=60,
    )


def test_sre_example_policy_end_to_end_with_grpcurl(stub: Stub, org: str, address: str) -> None:
    put_policy(stub, org, "sre", (POLICIES / "sre.cedar").read_text())
    _, sre = principal(stub, org, "oncall", ["sre"])
    prod = create_instance(stub, org)
    staging = create_instance(stub, org, environment="staging")
    publish(stub, org, "1.0.0")
    good = deploy(stub, org, prod.id)
    publish(stub, org, "1.1.0")
    deploy(stub, org, prod.id)
    deploy(stub, org, staging.id)

    last_good = grpcurl(address, sre, "ListDeployments", {
        "organization_id": org, "instance_id": prod.id, "filter": "action = PROVISION AND status = COMPLETED",
        "order_by": "create_time desc"})
    assert last_good.returncode == 0, last_good.stderr
    assert [d["id"] for d in json.loads(last_good.stdout)["deployments"]][1] == good.id
    proposed = grpcurl(address, sre, "RollbackDeployment", {"organization_id": org, "id": good.id})
    assert proposed.returncode == 0, proposed.stderr
    rollback_id = json.loads(proposed.stdout)["id"]
    approved = grpcurl(address, sre, "ApproveDeployment", {"organization_id": org, "id": rollback_id})
    assert approved.returncode == 0, approved.stderr
    assert wait_done(stub, org, rollback_id).status == pb.Deployment.STATUS_COMPLETED
    assert get(stub, org, rollback_id).decided_by == "oncall"

    publish_attempt = grpcurl(address, sre, "PublishRelease", {
        "organization_id": org, "release": {"bundle": "web", "version": "9.0.0"}, "artifact_content": "eA=="})
    assert publish_attempt.returncode == 64 + 7, publish_attempt.stderr  # PERMISSION_DENIED
    staging_attempt = grpcurl(address, sre, "ProposeDeployment", {"organization_id": org, "instance_id": staging.id})
    assert staging_attempt.returncode == 64 + 7, staging_attempt.stderr
    admin_attempt = grpcurl(address, sre, "CreatePrincipal", {
        "organization_id": org, "principal": {"name": "x", "kind": "KIND_USER"}})
    assert admin_attempt.returncode == 64 + 7


def _two_approvers_needed(stub: Stub, org: str, channel: grpc.Channel) -> tuple[Stub, Stub, Stub, pb.Instance]:
    """Production needs two approvers, the proposer not one of them; alice, bob and carol are SREs;
    an instance with release 1.0.0 published."""
    put_policy(stub, org, "sre", (POLICIES / "sre.cedar").read_text())
    stub.PutApprovalRule(api.PutApprovalRuleRequest(organization_id=org, rule=pb.ApprovalRule(
        environment="production", required_approvals=2, proposer_may_approve=False)))
    alice, bob, carol = (as_principal(channel, principal(stub, org, n, ["sre"])[1]) for n in ("alice", "bob", "carol"))
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    return alice, bob, carol, instance


def test_two_approvers_and_no_self_approval(stub: Stub, org: str, channel: grpc.Channel) -> None:
    alice, bob, carol, instance = _two_approvers_needed(stub, org, channel)

    proposal = propose(alice, org, instance.id)
    own = failure(lambda: approve(alice, org, proposal.id))
    assert (own.code, own.reason) == (C.PERMISSION_DENIED, "SELF_APPROVAL_FORBIDDEN")
    first = approve(bob, org, proposal.id)
    assert first.status == pb.Deployment.STATUS_PROPOSED
    again = failure(lambda: approve(bob, org, proposal.id))
    assert (again.code, again.reason) == (C.FAILED_PRECONDITION, "ALREADY_APPROVED")
    second = approve(carol, org, proposal.id)
    assert second.status == pb.Deployment.STATUS_PENDING
    assert wait_done(stub, org, proposal.id).status == pb.Deployment.STATUS_COMPLETED
    approvals = [e for e in events(stub, org, proposal.id) if e.type == pb.DeploymentEvent.TYPE_APPROVED]
    assert [e.message for e in approvals] == ["approval 1 of 2 by bob", "approval 2 of 2 by carol: approved"]
    audited = stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=org, filter="action = deployment.approve"))
    assert [(r.actor, r.outcome) for r in audited.audit_events] == [
        ("carol", "ok"), ("bob", "ALREADY_APPROVED"), ("bob", "ok"), ("alice", "SELF_APPROVAL_FORBIDDEN")]

    # A rejection by any allowed approver ends a proposal, even half approved.
    other = propose(alice, org, instance.id)
    approve(bob, org, other.id)
    rejected = carol.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=other.id, reason="no"))
    assert rejected.status == pb.Deployment.STATUS_REJECTED


def _approve_together(backends: tuple[str, str], instance_id: str, calls: list[Callable[[], Any]]) -> list[Any]:
    """Start the approvals while the instance's lock is held, so that each reads its facts before the one ahead
    of it commits; then let them go, one after the other. Returns each outcome (a response or a Failure)."""

    async def run() -> list[Any]:
        blocker = await asyncpg.connect(asyncpg_dsn(backends[0]))
        # Apart from the blocker: a transaction sees one snapshot of pg_stat_activity.
        watcher = await asyncpg.connect(asyncpg_dsn(backends[0]))
        try:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("SELECT 1 FROM instances WHERE id = $1::uuid FOR UPDATE", instance_id)
            futures = [call() for call in calls]
            # The first waits for the blocker, the others for the one ahead of them (the row's lock queue).
            waiting = 0
            while waiting < len(calls):
                assert not any(f.done() for f in futures), "an approval did not wait for the lock"
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0"
                )
                await asyncio.sleep(0.01)
            await tx.rollback()
        finally:
            await blocker.close()
            await watcher.close()
        return [failure(f.result) if f.exception() else f.result() for f in futures]

    return asyncio.run(run())


def test_approvals_waiting_for_each_other_count_each_other(
    stub: Stub, org: str, channel: grpc.Channel, backends: tuple[str, str]
) -> None:
    """The approvers are read with the lock, in a snapshot taken before the lock was granted: one committed
    meanwhile still counts, towards the tally and against approving twice."""
    alice, bob, carol, instance = _two_approvers_needed(stub, org, channel)

    def approving(who: Stub, deployment_id: str, key: str) -> Callable[[], Any]:
        request = api.ApproveDeploymentRequest(organization_id=org, id=deployment_id, request_id=key)
        return lambda: who.ApproveDeployment.future(request, timeout=30)

    proposal = propose(alice, org, instance.id)
    outcomes = _approve_together(
        backends, instance.id, [approving(bob, proposal.id, "b"), approving(carol, proposal.id, "c")])
    assert sorted(o.status for o in outcomes) == [pb.Deployment.STATUS_PROPOSED, pb.Deployment.STATUS_PENDING]
    approvals = [e.message for e in events(stub, org, proposal.id) if e.type == pb.DeploymentEvent.TYPE_APPROVED]
    assert approvals in (
        ["approval 1 of 2 by bob", "approval 2 of 2 by carol: approved"],
        ["approval 1 of 2 by carol", "approval 2 of 2 by bob: approved"],
    )
    assert wait_done(stub, org, proposal.id).status == pb.Deployment.STATUS_COMPLETED

    other = propose(alice, org, instance.id)
    twice = _approve_together(
        backends, instance.id, [approving(bob, other.id, "b1"), approving(bob, other.id, "b2")])
    assert {(o.code, o.reason) if isinstance(o, Failure) else (OK, o.status) for o in twice} == {
        (OK, pb.Deployment.STATUS_PROPOSED), (C.FAILED_PRECONDITION, "ALREADY_APPROVED")}
    assert get(stub, org, other.id).status == pb.Deployment.STATUS_PROPOSED


def test_no_token_or_secret_value_is_stored_logged_or_shown(
    stub: Stub, org: str, org_token: str, channel: grpc.Channel, backends: tuple[str, str], stack: Stack
) -> None:
    _, extra_token = principal(stub, org, "svc", ["admins"])
    service = as_principal(channel, extra_token)
    secret = "hunter2-" + org
    instance = create_instance(service, org)
    service.SetInstanceSecrets(api.SetInstanceSecretsRequest(organization_id=org, id=instance.id, secrets={"db": secret}))
    publish(service, org, "1.0.0")
    first = deploy(service, org, instance.id)
    publish(service, org, "1.1.0")
    deploy(service, org, instance.id)
    back = rollback(service, org, first.id)
    approve(service, org, back.id)
    wait_done(service, org, back.id)
    failure(lambda: as_principal(channel, extra_token + "x").ListInstances(api.ListInstancesRequest(organization_id=org)))

    tables = [r["tablename"] for r in sql(backends[0], "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    everything = " ".join(sql_value(backends[0], f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {t} t") for t in tables)
    bytea = everything.replace("\\x", "")  # bytea columns show as hex
    logs = " ".join(p.read_text(errors="replace") for p in stack.workdir.glob("*.log"))
    for value in (org_token, extra_token, secret):
        assert value not in everything and value.encode().hex() not in bytea
        assert value not in logs
        assert value.encode() not in b"".join(e.SerializeToString() for e in events(stub, org, back.id))
    # The scan can find values: the secret's row is there, sealed (ADR 009), and opens to the secret.
    [sealed] = sql(backends[0], "SELECT key_id, value FROM instance_secrets WHERE instance_id = $1::uuid", instance.id)
    assert sealed is not None and bytes(sealed["value"]).hex() in bytea
    keys = Keyring(parse([TEST_SECRETS_KEY], "test"))
    assert keys.decrypt(sealed["key_id"], instance.id, "db", bytes(sealed["value"])) == secret.encode()
