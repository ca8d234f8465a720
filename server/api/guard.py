"""The edge of access control: what a call presents and what it names, handed to server/app/access.py.

The decision and its lookups are in app/access.py; what each RPC requires is
in server/api/permissions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from server.api.permissions import PERMISSIONS
from server.app.access import Access, Credentials, Scope, Target
from server.app.context import Caller
from server.domain.errors import invalid
from server.domain.validation import Violations

V = TypeVar("V")
Context = grpc.aio.ServicerContext[Any, Any]

IDEMPOTENCY_HEADER = "idempotency-key"
ATTRIBUTION_HEADER = "x-attribution"
MAX_ATTRIBUTION = 512


def credentials(request: Any, context: Context) -> Credentials:
    """The bearer token or client certificate, the idempotency key (field or header) and attribution."""
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    names = list((context.auth_context() or {}).get("x509_common_name") or [])
    request_id = getattr(request, "request_id", "")
    if not request_id and IDEMPOTENCY_HEADER in metadata:
        request_id = metadata[IDEMPOTENCY_HEADER]
        v = Violations()
        v.request_id(request_id)
        if v.items:
            raise invalid(IDEMPOTENCY_HEADER, v.items[0].description)
    return Credentials(
        authorization=metadata.get("authorization"),
        certificate_name=names[0].decode(errors="replace") if names else None,
        request_id=request_id,
        attribution=metadata.get(ATTRIBUTION_HEADER, "")[:MAX_ATTRIBUTION],
    )


def target(method: str, request: Any) -> tuple[str, Target]:
    """The action the RPC requires, and the resource it is checked on."""
    rule = PERMISSIONS[method]
    if rule.otherwise and not getattr(request, rule.field):
        scope, field = rule.otherwise
        return rule.action, Target(scope, getattr(request, field))
    if rule.scope is Scope.NEW_INSTANCE:
        spec = request.instance
        attrs = {"project": spec.project, "environment": spec.environment, "labels": dict(spec.labels)}
        return rule.action, Target(rule.scope, attrs={**attrs, "bundle": spec.bundle})
    if rule.scope is Scope.NEW_RELEASE:
        spec = request.release
        return rule.action, Target(rule.scope, attrs={"bundle": spec.bundle, "release_channel": spec.release_channel or "stable"})
    if rule.scope in (Scope.INSTANCE, Scope.DEPLOYMENT, Scope.RELEASE):
        return rule.action, Target(rule.scope, getattr(request, rule.field))
    return rule.action, Target(rule.scope)


async def admit(
    access: Access, method: str, request: Any, context: Context, validate: Callable[[Any], V]
) -> tuple[Caller, V]:
    """Authenticate, validate (pure), authorize — before any state is touched."""
    action, resource = target(method, request)
    return await access.admit(
        request.organization_id, credentials(request, context), action, resource, lambda: validate(request)
    )
