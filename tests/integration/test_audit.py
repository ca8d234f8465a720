"""The audit log (docs/product.md §6): one record per mutation, append-only, hash-chained, listable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import descriptor_pb2, field_mask_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.api.rpcs import RPCS, Mutation, Upload
from tests.auth import as_principal
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    failure,
    propose,
    publish,
    rollback,
    sql_script,
    upload,
)

SERVICE = "rollout.v1.RolloutService"


def audit(stub: Stub, org: str, filter: str = "", **kw: Any) -> list[pb.AuditEvent]:
    return list(
        stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=org, filter=filter, page_size=1000, **kw)).audit_events
    )


def mutating_methods(channel: grpc.Channel) -> set[str]:
    """RPCs whose request carries a request_id, learned only through server reflection."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [reply] = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE)])))
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in reply.file_descriptor_response.file_descriptor_proto]
    messages = {f".{f.package}.{m.name}": m for f in files for m in f.message_type}
    service = next(s for f in files for s in f.service if f"{f.package}.{s.name}" == SERVICE)
    return {m.name for m in service.method if any(fd.name == "request_id" for fd in messages[m.input_type].field)}


def setup(stub: Stub, org: str) -> dict[str, Any]:
    instance = create_instance(stub, org)
    release = publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    deploy(stub, org, instance.id)  # so that `done` is a past run, not the active one
    admin = next(p for p in stub.ListPrincipals(api.ListPrincipalsRequest(organization_id=org)).principals if p.name == "admin")
    return {"instance": instance, "release": release, "done": done, "proposal": propose(stub, org, instance.id), "admin": admin}


# One successful call per mutating RPC. A new mutating RPC without an entry here fails the test below.
CALLS: dict[str, Callable[[Stub, str, dict[str, Any]], Any]] = {
    "CreateInstance": lambda s, o, x: create_instance(s, o, name="another"),
    "UpdateInstance": lambda s, o, x: s.UpdateInstance(api.UpdateInstanceRequest(
        organization_id=o, id=x["instance"].id, instance=pb.Instance(labels={"team": "a"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels"]))),
    "SetInstanceSecrets": lambda s, o, x: s.SetInstanceSecrets(api.SetInstanceSecretsRequest(
        organization_id=o, id=x["instance"].id, secrets={"k": "v"})),
    "PublishRelease": lambda s, o, x: publish(s, o, "9.9.9"),
    "UploadRelease": lambda s, o, x: upload(s, o, "9.9.8", b"uploaded"),
    "ArchiveRelease": lambda s, o, x: s.ArchiveRelease(api.ArchiveReleaseRequest(organization_id=o, id=x["release"].id)),
    "DeleteReleaseArtifact": lambda s, o, x: s.DeleteReleaseArtifact(
        api.DeleteReleaseArtifactRequest(organization_id=o, id=publish(s, o, "8.8.8").id)),
    "ProposeDeployment": lambda s, o, x: propose(s, o, x["instance"].id),
    "DecommissionInstance": lambda s, o, x: s.DecommissionInstance(
        api.DecommissionInstanceRequest(organization_id=o, id=x["instance"].id)),
    "RollbackDeployment": lambda s, o, x: rollback(s, o, x["done"].id),
    "PlanDeployment": lambda s, o, x: s.PlanDeployment(api.PlanDeploymentRequest(organization_id=o, id=x["proposal"].id)),
    "ApproveDeployment": lambda s, o, x: s.ApproveDeployment(
        api.ApproveDeploymentRequest(organization_id=o, id=propose(s, o, x["instance"].id).id)),
    "RejectDeployment": lambda s, o, x: s.RejectDeployment(api.RejectDeploymentRequest(organization_id=o, id=x["proposal"].id)),
    "CreatePrincipal": lambda s, o, x: s.CreatePrincipal(api.CreatePrincipalRequest(
        organization_id=o, principal=pb.Principal(name="bob", kind=pb.Principal.KIND_USER))),
    "UpdatePrincipal": lambda s, o, x: s.UpdatePrincipal(api.UpdatePrincipalRequest(
        organization_id=o, id=x["admin"].id, principal=pb.Principal(groups=["admins", "sre"]),
        update_mask=field_mask_pb2.FieldMask(paths=["groups"]))),
    "CreateToken": lambda s, o, x: s.CreateToken(api.CreateTokenRequest(organization_id=o, principal_id=x["admin"].id)),
    "RevokeToken": lambda s, o, x: s.RevokeToken(api.RevokeTokenRequest(
        organization_id=o, id=s.CreateToken(api.CreateTokenRequest(organization_id=o, principal_id=x["admin"].id)).info.id)),
    "PutPolicy": lambda s, o, x: s.PutPolicy(api.PutPolicyRequest(organization_id=o, policy=pb.Policy(
        name="readers", cedar='permit(principal in Rollout::Group::"readers", action == Rollout::Action::"instance:read", resource);'))),
    "DeletePolicy": lambda s, o, x: s.DeletePolicy(api.DeletePolicyRequest(organization_id=o, name=s.PutPolicy(
        api.PutPolicyRequest(organization_id=o, policy=pb.Policy(name="tmp", cedar="forbid(principal, action, resource) when { false };"))).name)),
    "PutApprovalRule": lambda s, o, x: s.PutApprovalRule(api.PutApprovalRuleRequest(
        organization_id=o, rule=pb.ApprovalRule(environment="production", required_approvals=1, proposer_may_approve=True))),
}


def test_every_mutating_rpc_is_covered(channel: grpc.Channel) -> None:
    assert mutating_methods(channel) == set(CALLS)


class _Recorder(grpc.UnaryUnaryClientInterceptor, grpc.StreamUnaryClientInterceptor):  # type: ignore[misc]
    """Remembers the last request (a stream's first message) and response of each method called through it."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[Any, Any]] = {}

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        outcome = continuation(details, request)
        self.calls[details.method.rsplit("/", 1)[1]] = (request, outcome.result())
        return outcome

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        first, *rest = list(requests)
        outcome = continuation(details, iter([first, *rest]))
        self.calls[details.method.rsplit("/", 1)[1]] = (first, outcome.result())
        return outcome


@pytest.mark.parametrize("method", sorted(CALLS))
def test_each_mutating_rpc_writes_exactly_one_audit_event_as_declared(
    channel: grpc.Channel, org_token: str, org: str, method: str
) -> None:
    recorder = _Recorder()
    stub = as_principal(grpc.intercept_channel(channel, recorder), org_token)
    context = setup(stub, org)
    # Helpers a call needs first (e.g. a release to delete, a proposal to approve) are audited too; count them.
    before = len(audit(stub, org))
    extra = {"DeleteReleaseArtifact": 1, "ApproveDeployment": 1, "RevokeToken": 1, "DeletePolicy": 1}.get(method, 0)

    CALLS[method](stub, org, context)

    records = audit(stub, org)
    assert len(records) == before + extra + 1
    assert records[0].outcome == "ok" and records[0].actor == "admin"
    # The action and resource are the ones its declaration says (server/api/rpcs.py), spelled nowhere else.
    declared = RPCS[method]
    assert isinstance(declared, (Mutation, Upload))
    request, response = recorder.calls[method]
    result = (response.token, response.info) if method == "CreateToken" else response
    assert (records[0].action, records[0].resource) == (
        declared.action, declared.resource(request, declared.validate(request), result))


def test_refused_and_failed_attempts_are_audited_with_their_reason(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)

    failure(lambda: rollback(stub, org, proposal.id))

    latest = audit(stub, org)[0]
    assert (latest.action, latest.resource, latest.outcome) == (
        "deployment.rollback", f"deployments/{proposal.id}", "SOURCE_NOT_COMPLETED")


def test_rollback_records_who_what_from_where_to_with_attribution(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    v2 = publish(stub, org, "1.1.0")
    second = deploy(stub, org, instance.id)

    proposal = stub.RollbackDeployment(
        api.RollbackDeploymentRequest(organization_id=org, id=first.id, request_id="rb-1"),
        metadata=(("x-attribution", "INC-1234 via pagerduty"),),
    )
    approve(stub, org, proposal.id)
    from tests.integration.helpers import wait_done

    wait_done(stub, org, proposal.id)

    [record] = audit(stub, org, "action = deployment.rollback")
    assert (record.request_id, record.attribution, record.actor, record.actor_kind) == (
        "rb-1", "INC-1234 via pagerduty", "admin", "user")
    assert (record.previous_deployment_id, record.previous_release_id) == (second.id, v2.id)
    assert (record.new_deployment_id, record.new_release_id) == (proposal.id, v1.id)
    [switch] = [r for r in audit(stub, org, "action = deployment.complete") if r.resource == f"deployments/{proposal.id}"]
    assert (switch.previous_deployment_id, switch.new_deployment_id) == (second.id, proposal.id)
    assert (switch.previous_release_id, switch.new_release_id) == (v2.id, v1.id)
    assert switch.actor.startswith("worker:") and switch.actor_kind == "service"


def test_list_audit_events_filters_and_pages(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        publish(stub, org, version)
    everything = audit(stub, org)
    assert [r.action for r in everything] == ["release.publish"] * 3 + ["instance.create", "organization.bootstrap"]

    pages, token = [], ""
    while True:
        page = stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=org, page_size=1, page_token=token))
        pages += list(page.audit_events)
        token = page.next_page_token
        if not token:
            break
    assert pages == everything
    assert [r.id for r in audit(stub, org, f"resource = instances/{instance.id}")] == [everything[-2].id]
    since = everything[1].create_time.ToJsonString()
    assert [r.id for r in audit(stub, org, f'create_time >= "{since}" AND action = release.publish')] == [
        r.id for r in everything[:2]]
    assert failure(lambda: audit(stub, org + "-other")).code == grpc.StatusCode.NOT_FOUND
    bad = failure(lambda: audit(stub, org, "create_time >= yesterday"))
    assert (bad.code, list(bad.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["filter"])


def test_audit_rows_cannot_be_updated_or_deleted(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    create_instance(stub, org)
    for statement in (
        f"UPDATE audit_events SET actor = 'someone-else' WHERE organization_id = '{org}'",
        f"DELETE FROM audit_events WHERE organization_id = '{org}'",
        "TRUNCATE audit_events",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            sql_script(backends[0], statement)
    assert len(audit(stub, org)) == 2  # bootstrap, create


def test_chain_check_finds_a_row_edited_behind_the_triggers(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    create_instance(stub, org)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        publish(stub, org, version)
    intact = stub.VerifyAuditChain(api.VerifyAuditChainRequest(organization_id=org))
    assert (intact.intact, intact.checked, intact.first_broken_id) == (True, 5, "")
    target = audit(stub, org, "action = release.publish")[1]

    # A superuser can switch triggers off; the hash chain still tells.
    sql_script(
        backends[0],
        "SET session_replication_role = replica",
        f"UPDATE audit_events SET actor = 'mallory' WHERE id = '{target.id}'",
    )

    broken = stub.VerifyAuditChain(api.VerifyAuditChainRequest(organization_id=org))
    assert (broken.intact, broken.first_broken_id, broken.checked) == (False, target.id, target.sequence - 1)
    assert "edited" in broken.detail


def test_concurrent_changes_in_one_organization_form_one_unbroken_chain(stub: Stub, org: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: create_instance(stub, org, name=f"web-{i}"), range(40)))

    records = audit(stub, org)
    assert sorted(r.sequence for r in records) == list(range(1, 42))  # bootstrap + 40 creations
    check = stub.VerifyAuditChain(api.VerifyAuditChainRequest(organization_id=org))
    assert (check.intact, check.checked) == (True, 41)


def test_retention_purge_keeps_the_chain_verifiable_and_says_what_it_removed(
    stub: Stub, org: str, backends: tuple[str, str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from server.app.audit import purge
    from server.store.db import create_engine

    for version in ("1.0.0", "1.1.0", "1.2.0"):
        publish(stub, org, version)
    newest = audit(stub, org)[0]

    async def run_purge() -> int | None:
        engine = create_engine(backends[0], 1)
        try:
            return await purge(engine, org, datetime.now(UTC) + timedelta(seconds=5))
        finally:
            await engine.dispose()

    assert asyncio.run(run_purge()) == newest.sequence - 1  # everything but the newest record

    kept = audit(stub, org)
    assert [r.action for r in kept] == ["audit.purge", "release.publish"]
    assert kept[0].resource == f"audit_events/through/{newest.sequence - 1}"
    check = stub.VerifyAuditChain(api.VerifyAuditChainRequest(organization_id=org))
    assert (check.intact, check.checked) == (True, 2)

    # Removing the first kept record by hand (triggers off) is not a purge: the chain says so.
    sql_script(backends[0], "SET session_replication_role = replica", f"DELETE FROM audit_events WHERE id = '{newest.id}'")
    broken = stub.VerifyAuditChain(api.VerifyAuditChainRequest(organization_id=org))
    assert (broken.intact, broken.first_broken_id) == (False, kept[0].id)
    assert "missing" in broken.detail
