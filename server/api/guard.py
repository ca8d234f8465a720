"""Authentication and authorization of every call (SPEC §7), before its handler runs.

Order: the bearer token (or client certificate) → UNAUTHENTICATED; the
organization and the resource id are well-formed → INVALID_ARGUMENT; the
organization is the caller's and the resource exists in it → NOT_FOUND (no
existence leak across organizations); the policies grant the action on the
resource → PERMISSION_DENIED.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from server import authz
from server.api.permissions import PERMISSIONS, Rule, Scope
from server.app.context import Caller, Services
from server.domain.errors import NotFound, PermissionDenied, Unauthenticated
from server.domain.models import Instance
from server.domain.validation import Violations
from server.store import identity

V = TypeVar("V")
BEARER = "bearer "
MAX_TOKEN = 512


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Guard:
    def __init__(self, services: Services) -> None:
        self.svc = services
        self.policies = authz.PolicyCache()

    async def admit(
        self, method: str, request: Message, metadata: dict[str, str], cert_name: str | None,
        validate: Callable[[Message], V],
    ) -> tuple[Caller, V]:
        """Authenticate, validate the request (pure), then authorize — on one pooled connection."""
        async with self.svc.reader.connect() as conn:
            who = await self._authenticate(conn, metadata, cert_name)
            parsed = validate(request)
            return await self._authorize(conn, PERMISSIONS[method], who, request), parsed

    async def _authorize(self, conn: Any, rule: Rule, who: identity.Authenticated, request: Any) -> Caller:
        """Runs after the request was validated: tenant, resource, policy."""
        organization_id: str = request.organization_id
        self._check_shape(request, rule, organization_id)
        if who.principal.organization_id != organization_id:
            raise NotFound(f"organization {organization_id} not found")
        resource = await self._resource(conn, rule, request, organization_id)
        policies = await self._policies(conn, organization_id, who.policy_version)
        if resource is not None and not policies.allows(who.principal, rule.action, resource):
            raise PermissionDenied(f"{who.principal.name} may not {rule.action} on this {resource.type.lower()}")
        return Caller(
            organization_id=organization_id,
            principal_id=who.principal.name,
            principal_kind=who.principal.kind.value.lower(),
            principal=who.principal,
            policies=policies,
        )

    async def _authenticate(self, conn: Any, metadata: dict[str, str], cert_name: str | None) -> identity.Authenticated:
        header = metadata.get("authorization")
        if header is None and cert_name:
            organization_id, _, name = cert_name.partition("/")
            found = await identity.by_name(conn, organization_id, name)
            if found is None or found.principal.disabled:
                raise Unauthenticated("the client certificate names no active principal")
            return found
        if header is None:
            raise Unauthenticated("missing credentials: send `authorization: Bearer <token>`")
        if not header.lower().startswith(BEARER) or not header[len(BEARER):].strip() or len(header) > MAX_TOKEN:
            raise Unauthenticated("malformed authorization header: expected `Bearer <token>`")
        found = await identity.by_token(conn, token_hash(header[len(BEARER):].strip()))
        if found is None:
            raise Unauthenticated("unknown token")
        if found.revoked:
            raise Unauthenticated("this token was revoked")
        if found.expired:
            raise Unauthenticated("this token has expired")
        if found.principal.disabled:
            raise Unauthenticated("this principal is disabled")
        return found

    @staticmethod
    def _check_shape(request: Message, rule: Rule, organization_id: str) -> None:
        v = Violations()
        v.organization(organization_id)
        if rule.scope in (Scope.INSTANCE, Scope.DEPLOYMENT, Scope.RELEASE):
            v.uuid(rule.field, getattr(request, rule.field))
        v.check()

    async def _resource(self, conn: Any, rule: Rule, request: Any, organization_id: str) -> authz.Resource | None:
        if rule.scope is Scope.EACH_INSTANCE:
            return None  # the handler filters what it lists
        if rule.scope is Scope.ORGANIZATION:
            return authz.organization(organization_id)
        if rule.scope is Scope.NEW_INSTANCE:
            spec = request.instance
            return authz.instance("new", spec.project, spec.environment, dict(spec.labels), spec.bundle)
        if rule.scope is Scope.NEW_RELEASE:
            spec = request.release
            return authz.release("new", spec.bundle, spec.release_channel or "stable")
        resource_id = getattr(request, rule.field)
        if rule.scope is Scope.RELEASE:
            row = await identity.release_for(conn, organization_id, resource_id)
            if row is None:
                raise NotFound(f"release {resource_id} not found")
            return authz.release(row.id, row.bundle, row.release_channel)
        if rule.scope is Scope.INSTANCE:
            row = await identity.instance_for(conn, organization_id, resource_id)
            what = "instance"
        else:
            row = await identity.instance_of_deployment(conn, organization_id, resource_id)
            what = "deployment"
        if row is None:
            raise NotFound(f"{what} {resource_id} not found")
        return authz.instance(row.id, row.project, row.environment, row.labels, row.bundle)

    async def _policies(self, conn: Any, organization_id: str, version: int) -> authz.Decider:
        cached = self.policies.get(organization_id, version)
        if cached is None:
            compiled = authz.compile_policies(await identity.policy_texts(conn, organization_id))
            cached = self.policies.put(organization_id, version, compiled)
        return cached


def may_read(caller: Caller, instance: Instance) -> bool:
    """For list results: whether the caller may read this instance."""
    assert caller.principal is not None
    resource = authz.instance(instance.id, instance.project, instance.environment, instance.labels, instance.bundle)
    decider: authz.Decider = caller.policies
    return decider.allows(caller.principal, "instance:read", resource)
