"""Who calls, and may they (docs/product.md §7): authentication, the tenant, the resource, the policies.

Order: the bearer token (or client certificate) → UNAUTHENTICATED; the
request is well-formed → INVALID_ARGUMENT (the caller's check, run in
between); the organization is the caller's and the resource exists in it →
NOT_FOUND (no existence leak across organizations); the organization's
policies grant the action on the resource → PERMISSION_DENIED. One pooled
connection serves the whole admission.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from server import authz
from server.app.context import Caller, Services
from server.domain.errors import NotFound, PermissionDenied, Unauthenticated
from server.domain.models import Instance
from server.domain.tokens import hash_token
from server.store import identity

V = TypeVar("V")
BEARER = "bearer "
MAX_TOKEN = 512


class Scope(enum.Enum):
    """What an action is checked on."""

    ORGANIZATION = "organization"  # the caller's organization
    INSTANCE = "instance"  # the instance named by the request
    DEPLOYMENT = "deployment"  # the instance of the deployment named by the request
    RELEASE = "release"  # the release named by the request
    NEW_INSTANCE = "new_instance"  # the instance the request would create
    NEW_RELEASE = "new_release"  # the release the request would publish
    EACH_INSTANCE = "each_instance"  # list results are filtered to the instances allowed


@dataclass(frozen=True)
class Target:
    """The resource a call acts on: its scope, the id it names, or the attributes of one it would create."""

    scope: Scope
    id: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Credentials:
    authorization: str | None  # the `authorization` header
    certificate_name: str | None  # a verified client certificate's common name (mTLS)
    request_id: str = ""
    attribution: str = ""


class Access:
    """Admits calls; remembers compiled policies per organization and policy version."""

    def __init__(self, services: Services) -> None:
        self.svc = services
        self.policies = authz.PolicyCache()

    async def admit(
        self, organization_id: str, credentials: Credentials, action: str, target: Target, check: Callable[[], V]
    ) -> tuple[Caller, V]:
        # The common call (a token, a call on an instance or a deployment): one read, on the read pool.
        folded = await _authenticate_with_instance(self.svc, credentials, organization_id, target)
        resource: authz.Resource | None
        if folded is not None:
            who, parsed = folded[0], check()
            _same_organization(who, organization_id)
            resource = _instance_resource(folded[1], target)
        else:
            async with self.svc.reader.connect() as conn:
                who = await _authenticate(conn, credentials)
                parsed = check()
                _same_organization(who, organization_id)
                resource = await _resource(conn, organization_id, target)
        policies = await self._policies(organization_id, who.policy_version)
        if resource is not None and not policies.allows(who.principal, action, resource):
            raise PermissionDenied(f"{who.principal.name} may not {action} on this {resource.type.lower()}")
        caller = Caller(
            organization_id=organization_id,
            principal_id=who.principal.name,
            principal_kind=who.principal.kind.value.lower(),
            request_id=credentials.request_id,
            attribution=credentials.attribution,
            principal=who.principal,
            policies=policies,
        )
        return caller, parsed

    async def _policies(self, organization_id: str, version: int) -> authz.Decider:
        """The organization's compiled policies at `version`: remembered, or read (a policy change bumps it)."""
        cached = self.policies.get(organization_id, version)
        if cached is None:
            async with self.svc.reader.connect() as conn:
                texts = await identity.policy_texts(conn, organization_id)
            compiled = authz.compile_policies(texts)
            cached = self.policies.put(organization_id, version, compiled)
        return cached


_FOLDED = {Scope.INSTANCE: "instance", Scope.DEPLOYMENT: "deployment"}


async def _authenticate_with_instance(
    svc: Services, credentials: Credentials, organization_id: str, target: Target
) -> tuple[identity.Authenticated, identity.InstanceAttrs | None] | None:
    """For a bearer token and a call on an instance or a deployment: authentication and the resource
    lookup in one round trip, checked in the same order as apart. None when the call is not of that
    shape (then the lookups run one by one)."""
    header = credentials.authorization
    kind = _FOLDED.get(target.scope)
    if kind is None or header is None or not _is_uuid(target.id):
        return None
    token = header[len(BEARER) :].strip()
    if not header.lower().startswith(BEARER) or not token or len(header) > MAX_TOKEN:
        return None  # _authenticate says why
    async with svc.reads() as conn:
        found = await identity.by_token_with_instance(conn, hash_token(token), kind, organization_id, target.id)
    if found is None:
        raise Unauthenticated("unknown token")
    _check_token(found[0])
    return found


def _same_organization(who: identity.Authenticated, organization_id: str) -> None:
    if who.principal.organization_id != organization_id:
        raise NotFound(f"organization {organization_id} not found")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _instance_resource(row: identity.InstanceAttrs | None, target: Target) -> authz.Resource:
    if row is None:
        raise NotFound(f"{_FOLDED[target.scope]} {target.id} not found")
    return authz.instance(row.id, row.project, row.environment, row.labels, row.bundle)


def _check_token(found: identity.Authenticated) -> None:
    if found.revoked:
        raise Unauthenticated("this token was revoked")
    if found.expired:
        raise Unauthenticated("this token has expired")
    if found.principal.disabled:
        raise Unauthenticated("this principal is disabled")


async def _authenticate(conn: Any, credentials: Credentials) -> identity.Authenticated:
    header = credentials.authorization
    if header is None and credentials.certificate_name:
        organization_id, _, name = credentials.certificate_name.partition("/")
        found = await identity.by_name(conn, organization_id, name)
        if found is None or found.principal.disabled:
            raise Unauthenticated("the client certificate names no active principal")
        return found
    if header is None:
        raise Unauthenticated("missing credentials: send `authorization: Bearer <token>`")
    token = header[len(BEARER) :].strip()
    if not header.lower().startswith(BEARER) or not token or len(header) > MAX_TOKEN:
        raise Unauthenticated("malformed authorization header: expected `Bearer <token>`")
    found = await identity.by_token(conn, hash_token(token))
    if found is None:
        raise Unauthenticated("unknown token")
    _check_token(found)
    return found


async def _resource(conn: Any, organization_id: str, target: Target) -> authz.Resource | None:
    if target.scope is Scope.EACH_INSTANCE:
        return None  # the use case filters what it lists (may_read)
    if target.scope is Scope.ORGANIZATION:
        return authz.organization(organization_id)
    if target.scope is Scope.NEW_INSTANCE:
        return authz.instance("new", **target.attrs)
    if target.scope is Scope.NEW_RELEASE:
        return authz.release("new", **target.attrs)
    if target.scope is Scope.RELEASE:
        row = await identity.release_for(conn, organization_id, target.id)
        if row is None:
            raise NotFound(f"release {target.id} not found")
        return authz.release(row.id, row.bundle, row.release_channel)
    if target.scope is Scope.INSTANCE:
        row = await identity.instance_for(conn, organization_id, target.id)
        what = "instance"
    else:
        row = await identity.instance_of_deployment(conn, organization_id, target.id)
        what = "deployment"
    if row is None:
        raise NotFound(f"{what} {target.id} not found")
    return authz.instance(row.id, row.project, row.environment, row.labels, row.bundle)


def may_read(caller: Caller, instance: Instance) -> bool:
    """For list results: whether the caller may read this instance."""
    assert caller.principal is not None
    resource = authz.instance(instance.id, instance.project, instance.environment, instance.labels, instance.bundle)
    decider: authz.Decider = caller.policies
    return decider.allows(caller.principal, "instance:read", resource)
