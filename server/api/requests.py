"""Protobuf requests → validated use-case inputs. Every RPC validates before touching state (docs/product.md §8)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format, struct_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.app.instances import UPDATABLE, InstanceFields
from server.app.releases import ReleaseFields
from server.artifacts import supported
from server.domain import validation
from server.domain.models import ApprovalRule, Kind, PrincipalKind, ReleaseState
from server.domain.semver import InvalidVersion, Version
from server.domain.validation import Violations

KINDS = {pb.Instance.KIND_STATIC: Kind.STATIC, pb.Instance.KIND_DYNAMIC: Kind.DYNAMIC}
PUBLISHABLE_STATES = {
    pb.Release.STATE_UNSPECIFIED: ReleaseState.READY,
    pb.Release.STATE_READY: ReleaseState.READY,
    pb.Release.STATE_FAILED: ReleaseState.FAILED,
}
DEFAULT_CHANNEL = "stable"


def _json(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _params(v: Violations, field: str, message: struct_pb2.Struct) -> dict[str, Any]:
    if not _finite(_struct_values(message)):
        v.add(field, "numbers must be finite (no NaN or Infinity)")
        return {}
    value = _json(message)
    v.params(field, value)
    return value


def _struct_values(message: struct_pb2.Struct) -> Any:
    # Read numbers without json_format, which would turn NaN into the string "NaN".
    def walk(value: struct_pb2.Value) -> Any:
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            return value.number_value
        if kind == "struct_value":
            return {k: walk(x) for k, x in value.struct_value.fields.items()}
        if kind == "list_value":
            return [walk(x) for x in value.list_value.values]
        return None

    return {k: walk(x) for k, x in message.fields.items()}


def organization(v: Violations, request: Any) -> None:
    v.organization(request.organization_id)
    if hasattr(request, "request_id"):
        v.request_id(request.request_id)


def named(request: Any, field: str = "id") -> None:
    """Requests that name one resource: organization_id and a UUID id."""
    v = Violations()
    organization(v, request)
    v.uuid(field, getattr(request, field))
    v.check()


def listing(request: Any, parent: str | None = None) -> None:
    v = Violations()
    organization(v, request)
    if parent:
        v.uuid(parent, getattr(request, parent))
    v.page_size(request.page_size)
    v.text("filter", request.filter, validation.MAX_FILTER)
    v.text("order_by", request.order_by, 64)
    v.text("page_token", request.page_token, 1024)
    v.check()


def create_instance(request: api.CreateInstanceRequest) -> InstanceFields:
    v = Violations()
    organization(v, request)
    if not request.HasField("instance"):
        v.add("instance", "required")
        v.check()
    i = request.instance
    v.slug("instance.name", i.name)
    v.slug("instance.project", i.project)
    v.slug("instance.environment", i.environment)
    v.slug("instance.bundle", i.bundle)
    v.slug("instance.release_channel", i.release_channel, required=False)
    kind = KINDS.get(i.kind)
    if kind is None:
        v.add("instance.kind", "must be KIND_STATIC or KIND_DYNAMIC")
    v.replicas("instance.replicas", i.replicas, dynamic=kind is Kind.DYNAMIC)
    v.labels("instance.labels", dict(i.labels))
    v.connections("instance.connections", dict(i.connections))
    v.version_constraint("instance.version_constraint", i.version_constraint)
    params = _params(v, "instance.params", i.params)
    v.check()
    assert kind is not None
    return InstanceFields(
        name=i.name,
        project=i.project,
        environment=i.environment,
        bundle=i.bundle,
        kind=kind,
        replicas=i.replicas,
        labels=dict(i.labels),
        params=params,
        connections=dict(i.connections),
        version_constraint=i.version_constraint.strip(),
        release_channel=i.release_channel or DEFAULT_CHANNEL,
    )


def _checked(check: Callable[[Violations, str, Any], None], value: Any) -> Callable[[Violations, str], Any]:
    def run(v: Violations, field: str) -> Any:
        check(v, field, value)
        return value

    return run


def _optional_slug(v: Violations, field: str, value: str) -> None:
    v.slug(field, value, required=False)


def _replicas(v: Violations, field: str, replicas: int) -> None:
    if replicas < 0 or replicas > 100:
        v.add(field, "must be between 0 and 100")


def _updates(i: pb.Instance) -> dict[str, Callable[[Violations, str], Any]]:
    """For each updatable field: check the new value (as `instance.<field>`) and return it."""
    return {
        "name": _checked(Violations.slug, i.name),
        "project": _checked(Violations.slug, i.project),
        "environment": _checked(Violations.slug, i.environment),
        "release_channel": lambda v, f: _checked(_optional_slug, i.release_channel)(v, f) or DEFAULT_CHANNEL,
        "version_constraint": lambda v, f: _checked(Violations.version_constraint, i.version_constraint)(v, f).strip(),
        "labels": _checked(Violations.labels, dict(i.labels)),
        "connections": _checked(Violations.connections, dict(i.connections)),
        "params": lambda v, f: _params(v, f, i.params),
        "replicas": _checked(_replicas, i.replicas),
    }


def update_instance(request: api.UpdateInstanceRequest) -> dict[str, Any]:
    v = Violations()
    organization(v, request)
    v.uuid("id", request.id)
    paths = list(request.update_mask.paths)
    if not paths:
        v.add("update_mask", "required: name the fields to change")
    for path in paths:
        if path not in UPDATABLE:
            v.add("update_mask", f"{path!r} cannot be updated; updatable: {', '.join(sorted(UPDATABLE))}")
    v.check()
    updates = _updates(request.instance)
    changes = {path: updates[path](v, f"instance.{path}") for path in paths}
    v.check()
    return changes


SECRET_NAME_RULE = "name must be 1-63 letters, digits, '_' or '-', starting with a letter"


def _secret_name(name: str) -> bool:
    return bool(validation.SLUG.fullmatch(name.lower().replace("_", "-")))


def set_secrets(request: api.SetInstanceSecretsRequest) -> tuple[dict[str, str], list[str]]:
    v = Violations()
    organization(v, request)
    v.uuid("id", request.id)
    if not request.secrets and not request.remove_names:
        v.add("secrets", "set at least one secret or name one in remove_names")
    if len(request.secrets) > validation.MAX_SECRETS:
        v.add("secrets", f"at most {validation.MAX_SECRETS} secrets")
    for name, value in request.secrets.items():
        if not _secret_name(name):
            v.add(f"secrets[{name[:64]}]", SECRET_NAME_RULE)
        elif len(value.encode()) > validation.MAX_SECRET_BYTES:
            # The description never repeats the value.
            v.add(f"secrets[{name}]", f"value must be at most {validation.MAX_SECRET_BYTES} bytes")
    # Names are checked like the ones set: a NUL reached PostgreSQL (INTERNAL), and tens of thousands
    # of names passed asyncpg's limit on query arguments (UNAVAILABLE, retried forever).
    if len(request.remove_names) > validation.MAX_SECRETS:
        v.add("remove_names", f"at most {validation.MAX_SECRETS} names")
    for index, name in enumerate(request.remove_names[: validation.MAX_SECRETS]):
        if not _secret_name(name):
            v.add(f"remove_names[{index}]", SECRET_NAME_RULE)
        elif name in request.secrets:
            v.add(f"remove_names[{index}]", "cannot both set and remove the same secret")
    v.check()
    return dict(request.secrets), list(request.remove_names)


def _release(v: Violations, request: Any) -> ReleaseFields | None:
    """The release to publish, checked (its artifact aside); None if it is missing."""
    if not request.HasField("release"):
        v.add("release", "required")
        return None
    r = request.release
    v.slug("release.bundle", r.bundle)
    v.slug("release.release_channel", r.release_channel, required=False)
    if not r.version:
        v.add("release.version", "required")
    elif len(r.version) > 128:
        v.add("release.version", "must be at most 128 characters")
    else:
        try:
            Version.parse(r.version)
        except InvalidVersion as exc:
            v.add("release.version", str(exc))
    state = PUBLISHABLE_STATES.get(r.state)
    if state is None:
        v.add("release.state", "must be STATE_READY (default) or STATE_FAILED when publishing")
    if r.schema_version < 0:
        v.add("release.schema_version", "must not be negative")
    return ReleaseFields(
        bundle=r.bundle,
        version=r.version,
        release_channel=r.release_channel or DEFAULT_CHANNEL,
        artifact_uri=r.artifact_uri,
        state=state or ReleaseState.READY,
        schema_version=r.schema_version,
    )


def publish_release(request: api.PublishReleaseRequest) -> tuple[ReleaseFields, bytes | None]:
    v = Violations()
    organization(v, request)
    fields = _release(v, request)
    v.check()
    assert fields is not None
    content: bytes | None = request.artifact_content or None
    if fields.artifact_uri and content is not None:
        v.add("artifact_content", "give either artifact_content or release.artifact_uri, not both")
    elif not fields.artifact_uri and content is None:
        v.add("release.artifact_uri", "required unless artifact_content is given")
    elif fields.artifact_uri:
        v.text("release.artifact_uri", fields.artifact_uri, 2048)
        problem = supported(fields.artifact_uri)
        if problem:
            v.add("release.artifact_uri", problem)
    if content is not None and len(content) > validation.MAX_ARTIFACT_BYTES:
        v.add("artifact_content", f"must be at most {validation.MAX_ARTIFACT_BYTES} bytes")
    v.check()
    return fields, content


SHA256 = re.compile(r"[0-9a-f]{64}")


def upload_release(request: api.UploadReleaseRequest) -> tuple[ReleaseFields, str]:
    """UploadRelease's first message: the release and the sha256 its chunks must add up to."""
    v = Violations()
    organization(v, request)
    fields = _release(v, request)
    if fields is not None and fields.artifact_uri:
        v.add("release.artifact_uri", "must be empty: the artifact is the uploaded content")
    if not SHA256.fullmatch(request.sha256):
        v.add("sha256", "required: the sha256 of the whole artifact, 64 lowercase hex digits")
    if len(request.content) > validation.MAX_ARTIFACT_BYTES:
        v.add("content", f"each chunk must be at most {validation.MAX_ARTIFACT_BYTES} bytes")
    v.check()
    assert fields is not None
    return fields, request.sha256


def propose(request: api.ProposeDeploymentRequest) -> None:
    v = Violations()
    organization(v, request)
    v.uuid("instance_id", request.instance_id)
    v.uuid("bundle_release_id", request.bundle_release_id, required=False)
    v.text("message", request.message)
    v.check()


ROLLBACK_TARGETS = {api.RollbackDeploymentRequest.TARGET_PREVIOUS_GOOD}
MAX_REASON = 512


def rollback(request: api.RollbackDeploymentRequest) -> None:
    """Either the source by `id`, or `instance_id` and a `target` that chooses it; an optional reason."""
    v = Violations()
    organization(v, request)
    if request.id and (request.instance_id or request.target):
        v.add("id", "give either id, or instance_id and target, not both")
    elif request.id:
        v.uuid("id", request.id)
    elif request.instance_id or request.target:
        v.uuid("instance_id", request.instance_id)
        if request.target not in ROLLBACK_TARGETS:
            v.add("target", "must be TARGET_PREVIOUS_GOOD with instance_id")
    else:
        v.add("id", "required: the source deployment, or instance_id and target")
    v.text("reason", request.reason, MAX_REASON)
    v.check()


def with_text(request: Any, field: str) -> None:
    v = Violations()
    organization(v, request)
    v.uuid("id", request.id)
    v.text(field, getattr(request, field))
    v.check()


def watch(request: Any, after_field: str) -> None:
    v = Violations()
    organization(v, request)
    v.uuid("id", request.id)
    if getattr(request, after_field) < 0:
        v.add(after_field, "must not be negative")
    v.check()


MAX_RESYNC_SECONDS = 3600


def watch_routes(request: Any) -> None:
    v = Violations()
    organization(v, request)
    if not 0 <= request.resync_seconds <= MAX_RESYNC_SECONDS:
        v.add("resync_seconds", f"must be 0 (the default) to {MAX_RESYNC_SECONDS}")
    v.check()


def organization_only(request: Any) -> None:
    v = Violations()
    organization(v, request)
    v.check()


PRINCIPAL_KINDS = {pb.Principal.KIND_USER: PrincipalKind.USER, pb.Principal.KIND_SERVICE: PrincipalKind.SERVICE}
MAX_GROUPS = 32
MAX_POLICY = 64 * 1024
MAX_TTL = 365 * 24 * 3600


def _groups(v: Violations, field: str, groups: list[str]) -> None:
    if len(groups) > MAX_GROUPS:
        v.add(field, f"at most {MAX_GROUPS} groups")
    for index, group in enumerate(groups):
        v.slug(f"{field}[{index}]", group)


def create_principal(request: api.CreatePrincipalRequest) -> tuple[str, PrincipalKind, list[str]]:
    v = Violations()
    organization(v, request)
    p = request.principal
    v.slug("principal.name", p.name)
    kind = PRINCIPAL_KINDS.get(p.kind)
    if kind is None:
        v.add("principal.kind", "must be KIND_USER or KIND_SERVICE")
    _groups(v, "principal.groups", list(p.groups))
    v.check()
    assert kind is not None
    return p.name, kind, list(p.groups)


def update_principal(request: api.UpdatePrincipalRequest) -> dict[str, Any]:
    v = Violations()
    organization(v, request)
    v.uuid("id", request.id)
    paths = list(request.update_mask.paths)
    if not paths:
        v.add("update_mask", "required: `groups` and/or `disabled`")
    changes: dict[str, Any] = {}
    for path in paths:
        if path == "groups":
            _groups(v, "principal.groups", list(request.principal.groups))
            changes["groups"] = list(request.principal.groups)
        elif path == "disabled":
            changes["disabled"] = request.principal.disabled
        else:
            v.add("update_mask", f"{path!r} cannot be updated; updatable: disabled, groups")
    v.check()
    return changes


def create_token(request: api.CreateTokenRequest) -> None:
    v = Violations()
    organization(v, request)
    v.uuid("principal_id", request.principal_id)
    if request.ttl_seconds and not 60 <= request.ttl_seconds <= MAX_TTL:
        v.add("ttl_seconds", f"must be between 60 and {MAX_TTL}")
    v.check()


def put_policy(request: api.PutPolicyRequest) -> tuple[str, str]:
    v = Violations()
    organization(v, request)
    v.slug("policy.name", request.policy.name)
    if not request.policy.cedar.strip():
        v.add("policy.cedar", "required")
    v.text("policy.cedar", request.policy.cedar, MAX_POLICY)
    v.check()
    return request.policy.name, request.policy.cedar


def delete_policy(request: api.DeletePolicyRequest) -> None:
    v = Violations()
    organization(v, request)
    v.slug("name", request.name)
    v.check()


def put_approval_rule(request: api.PutApprovalRuleRequest) -> ApprovalRule:
    v = Violations()
    organization(v, request)
    rule = request.rule
    v.slug("rule.environment", rule.environment)
    if not 1 <= rule.required_approvals <= 10:
        v.add("rule.required_approvals", "must be between 1 and 10")
    v.check()
    return ApprovalRule(rule.environment, rule.required_approvals, rule.proposer_may_approve)


def paging(request: Any) -> None:
    v = Violations()
    organization(v, request)
    v.page_size(request.page_size)
    v.text("page_token", request.page_token, 1024)
    v.check()
