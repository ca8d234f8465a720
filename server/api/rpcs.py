"""Every RPC of RolloutService, declared once.

A declaration says how the request is validated (server/api/requests.py), which
use case it runs, and how the result becomes the response. A mutation also
says its audit action and the resource its audit record names — for the
change, and for a refused attempt, which has no result. What each RPC requires
of the caller is in server/api/permissions.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from rollout.v1 import rollout_service_pb2 as api
from server.api import convert, requests
from server.app import audit, deployments, identity, instances, releases, routing, runtime, watch
from server.app.context import Caller, Services
from server.app.mutation import Change
from server.store.event_hub import EventHub

Validate = Callable[[Any], Any]
# The audited resource, from the request, the validated input and the result (None when refused).
Resource = Callable[[Any, Any, Any], str]


@dataclass(frozen=True)
class Mutation:
    validate: Validate
    action: str
    resource: Resource
    run: Callable[[AsyncConnection, Services, Caller, Any, Any], Awaitable[Change[Any]]]
    encode: Callable[[Any], Message]
    # What the idempotency fingerprint sees of the request, when that must not be the request itself.
    fingerprinted: Callable[[Any, Services], Message] = lambda request, svc: request
    # Work before the transaction, on the validated input (reading a large object from the artifact store,
    # so that no transaction waits on it); what it returns is the input `run` gets. Like validation, what
    # it refuses records nothing: no audit record, no stored outcome for the idempotency key.
    prepare: Callable[[Services, Caller, Any], Awaitable[Any]] | None = None


@dataclass(frozen=True)
class Upload:
    """A mutation whose request is a stream: its first message is the request proper; the rest is
    received (into the artifact store) before the change runs, and what was received is the change's
    input. `discard` undoes the receiving when no change uses it (a replay, a refusal)."""

    validate: Validate
    action: str
    resource: Resource
    receive: Callable[[Services, Caller, Any, Any, AsyncIterator[Any]], Awaitable[Any]]
    run: Callable[[AsyncConnection, Services, Caller, Any, Any], Awaitable[Change[Any]]]
    encode: Callable[[Any], Message]
    discard: Callable[[Services, Any], Awaitable[None]]


@dataclass(frozen=True)
class Query:
    validate: Validate
    run: Callable[[Services, Caller, Any, Any], Awaitable[Any]]
    encode: Callable[[Any], Message]


@dataclass(frozen=True)
class Stream:
    validate: Validate
    run: Callable[[Services, EventHub, Caller, Any, Any], AsyncIterator[Any]]
    encode: Callable[[Any], Message | bytes]  # bytes: already serialized


def named(collection: str, field: str = "id") -> Resource:
    """The resource the request names, e.g. `deployments/<id>`."""
    return lambda request, parsed, result: f"{collection}/{getattr(request, field)}"


def made(collection: str, refused: Resource | None = None, key: Callable[[Any], str] = lambda r: r.id) -> Resource:
    """The resource the change made, e.g. `instances/<new id>`; a refused attempt names `refused`,
    or the collection."""

    def resource(request: Any, parsed: Any, result: Any) -> str:
        if result is not None:
            return f"{collection}/{key(result)}"
        return refused(request, parsed, None) if refused else collection

    return resource


def _page(response: type[Message], field: str, encode: Callable[[Any], Message]) -> Callable[[Any], Message]:
    """A List response from a use case's (rows, next page token)."""
    return lambda page: response(**{field: [encode(row) for row in page[0]]}, next_page_token=page[1])


def _listing(use_case: Callable[..., Awaitable[Any]], parent: str | None = None) -> Callable[..., Awaitable[Any]]:
    """Run a List use case with the request's parent, filter, order and page."""

    def run(svc: Services, who: Caller, r: Any, _: Any) -> Awaitable[Any]:
        parents = (getattr(r, parent),) if parent else ()
        return use_case(svc, who, *parents, r.filter, r.order_by, r.page_size, r.page_token)

    return run


def _blinded(request: api.SetInstanceSecretsRequest, svc: Services) -> api.SetInstanceSecretsRequest:
    """Each secret value replaced by a keyed digest, so the stored fingerprint is no hash of a secret
    that a database dump could test guesses against (ADR 009)."""
    blinded = api.SetInstanceSecretsRequest()
    blinded.CopyFrom(request)
    for name, value in request.secrets.items():
        blinded.secrets[name] = svc.keyring.blind(request.id, name, value.encode()).hex()
    return blinded


def _chain(check: Any) -> api.VerifyAuditChainResponse:
    return api.VerifyAuditChainResponse(
        intact=check.first_broken_id is None,
        checked=check.checked,
        first_broken_id=check.first_broken_id or "",
        detail=check.detail,
    )


RPCS: dict[str, Mutation | Upload | Query | Stream] = {
    # Instances
    "CreateInstance": Mutation(
        requests.create_instance,
        "instance.create",
        made("instances"),
        lambda c, s, w, r, fields: instances.create(c, s, w, fields),
        convert.instance,
    ),
    "GetInstance": Query(requests.named, lambda s, w, r, _: instances.get(s, w, r.id), convert.instance),
    "ListInstances": Query(
        requests.listing, _listing(instances.list_page), _page(api.ListInstancesResponse, "instances", convert.instance)
    ),
    "UpdateInstance": Mutation(
        requests.update_instance,
        "instance.update",
        named("instances"),
        lambda c, s, w, r, changes: instances.update(c, s, w, r.id, changes),
        convert.instance,
    ),
    "SetInstanceSecrets": Mutation(
        requests.set_secrets,
        "instance.set_secrets",
        named("instances"),
        lambda c, s, w, r, p: instances.set_secrets(c, s, w, r.id, p[0], p[1]),
        convert.instance,
        fingerprinted=_blinded,
    ),
    # Releases
    "PublishRelease": Mutation(
        requests.publish_release,
        "release.publish",
        made("releases"),
        lambda c, s, w, r, p: releases.publish(c, s, w, p),
        convert.release,
        prepare=releases.prepare_publish,
    ),
    "UploadRelease": Upload(
        requests.upload_release,
        "release.publish",
        made("releases"),
        releases.receive_upload,
        lambda c, s, w, r, received: releases.publish_upload(c, s, w, received),
        convert.release,
        releases.discard_upload,
    ),
    "GetRelease": Query(requests.named, lambda s, w, r, _: releases.get(s, w, r.id), convert.release),
    "ListReleases": Query(
        requests.listing, _listing(releases.list_page), _page(api.ListReleasesResponse, "releases", convert.release)
    ),
    "ArchiveRelease": Mutation(
        requests.named,
        "release.archive",
        named("releases"),
        lambda c, s, w, r, _: releases.archive(c, s, w, r.id),
        convert.release,
    ),
    "DeleteReleaseArtifact": Mutation(
        requests.named,
        "release.delete_artifact",
        named("releases"),
        lambda c, s, w, r, _: releases.delete_artifact(c, s, w, r.id),
        convert.release,
    ),
    # Deployments
    "ProposeDeployment": Mutation(
        requests.propose,
        "deployment.propose",
        made("deployments", named("instances", "instance_id")),
        lambda c, s, w, r, _: deployments.propose(c, s, w, r.instance_id, r.bundle_release_id, r.message),
        convert.deployment,
    ),
    "DecommissionInstance": Mutation(
        lambda r: requests.with_text(r, "message"),
        "deployment.decommission",
        made("deployments", named("instances")),
        lambda c, s, w, r, _: deployments.decommission(c, s, w, r.id, r.message),
        convert.deployment,
    ),
    "RollbackDeployment": Mutation(
        requests.rollback,
        "deployment.rollback",
        made("deployments", lambda r, p, _: f"deployments/{r.id}" if r.id else f"instances/{r.instance_id}"),
        lambda c, s, w, r, _: deployments.rollback(
            c, s, w, deployments.RollbackTo(r.id or None, r.instance_id or None), r.reason
        ),
        convert.deployment,
    ),
    "PlanDeployment": Mutation(
        requests.named,
        "deployment.plan",
        named("deployments"),
        lambda c, s, w, r, _: deployments.request_plan(c, s, w, r.id),
        convert.deployment,
    ),
    "ApproveDeployment": Mutation(
        requests.named,
        "deployment.approve",
        named("deployments"),
        lambda c, s, w, r, _: deployments.approve(c, s, w, r.id),
        convert.deployment,
    ),
    "RejectDeployment": Mutation(
        lambda r: requests.with_text(r, "reason"),
        "deployment.reject",
        named("deployments"),
        lambda c, s, w, r, _: deployments.reject(c, s, w, r.id, r.reason),
        convert.deployment,
    ),
    "GetDeployment": Query(requests.named, lambda s, w, r, _: deployments.get(s, w, r.id), convert.deployment),
    "ListDeployments": Query(
        lambda r: requests.listing(r, parent="instance_id"),
        _listing(deployments.list_page, "instance_id"),
        _page(api.ListDeploymentsResponse, "deployments", convert.deployment),
    ),
    "ListRuntimeInstances": Query(
        lambda r: requests.listing(r, parent="instance_id"),
        _listing(runtime.list_page, "instance_id"),
        _page(api.ListRuntimeInstancesResponse, "runtime_instances", convert.runtime_instance),
    ),
    # Progress streams
    "WatchDeployment": Stream(
        lambda r: requests.watch(r, "after_sequence"),
        lambda s, hub, w, r, _: watch.deployment_events(s, hub, w, r.id, r.after_sequence),
        convert.event_bytes,
    ),
    "WatchInstance": Stream(
        lambda r: requests.watch(r, "after_instance_sequence"),
        lambda s, hub, w, r, _: watch.instance_events(s, hub, w, r.id, r.after_instance_sequence),
        convert.event_bytes,
    ),
    "WatchRoutes": Stream(
        requests.watch_routes,
        lambda s, hub, w, r, _: routing.watch(s, hub, w, r.resync_seconds),
        lambda update: api.WatchRoutesResponse(snapshot=update.snapshot, routes=[convert.route(x) for x in update.routes]),
    ),
    # Audit
    "ListAuditEvents": Query(
        requests.listing, _listing(audit.list_page), _page(api.ListAuditEventsResponse, "audit_events", convert.audit_event)
    ),
    "VerifyAuditChain": Query(requests.organization_only, lambda s, w, r, _: audit.verify_chain(s, w), _chain),
    # Administration of the organization
    "CreatePrincipal": Mutation(
        requests.create_principal,
        "principal.create",
        made("principals"),
        lambda c, s, w, r, p: identity.create_principal(c, s, w, p[0], p[1], p[2]),
        convert.principal,
    ),
    "ListPrincipals": Query(
        requests.paging,
        lambda s, w, r, _: identity.list_principals(s, w, r.page_size, r.page_token),
        _page(api.ListPrincipalsResponse, "principals", convert.principal),
    ),
    "UpdatePrincipal": Mutation(
        requests.update_principal,
        "principal.update",
        named("principals"),
        lambda c, s, w, r, changes: identity.update_principal(c, s, w, r.id, changes),
        convert.principal,
    ),
    "CreateToken": Mutation(
        requests.create_token,
        "token.create",
        made("tokens", key=lambda made: made[1].id),
        lambda c, s, w, r, _: identity.create_token(c, s, w, r.principal_id, r.ttl_seconds),
        lambda made: api.CreateTokenResponse(token=made[0], info=convert.token_info(made[1])),
    ),
    "RevokeToken": Mutation(
        requests.named,
        "token.revoke",
        named("tokens"),
        lambda c, s, w, r, _: identity.revoke_token(c, s, w, r.id),
        convert.token_info,
    ),
    "PutPolicy": Mutation(
        requests.put_policy,
        "policy.put",
        lambda r, p, result: f"policies/{p[0]}",
        lambda c, s, w, r, p: identity.put_policy(c, s, w, p[0], p[1]),
        convert.policy,
    ),
    "DeletePolicy": Mutation(
        requests.delete_policy,
        "policy.delete",
        named("policies", "name"),
        lambda c, s, w, r, _: identity.delete_policy(c, s, w, r.name),
        convert.policy,
    ),
    "ListPolicies": Query(
        requests.organization_only,
        lambda s, w, r, _: identity.list_policies(s, w),
        lambda rows: api.ListPoliciesResponse(policies=[convert.policy(p) for p in rows]),
    ),
    "PutApprovalRule": Mutation(
        requests.put_approval_rule,
        "approval_rule.put",
        lambda r, rule, result: f"approval_rules/{rule.environment}",
        lambda c, s, w, r, rule: identity.put_approval_rule(c, s, w, rule),
        convert.approval_rule,
    ),
    "ListApprovalRules": Query(
        requests.organization_only,
        lambda s, w, r, _: identity.list_approval_rules(s, w),
        lambda rules: api.ListApprovalRulesResponse(rules=[convert.approval_rule(x) for x in rules]),
    ),
}
