"""Domain values → protobuf messages."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from rollout.v1 import resources_pb2 as pb
from server.domain import routes
from server.domain.audit import AuditRecord
from server.domain.models import ApprovalRule, Deployment, Event, Instance, Principal, Release, RuntimeInstance
from server.store.identity import TokenRow

# The domain of instances' public_url (Settings.public_domain). Encoders take only the value, and this is
# the one piece of configuration they show, so the server sets it once at start (use_public_domain).
_public_domain = ["localhost:8080"]


def use_public_domain(domain: str) -> None:
    _public_domain[0] = domain


def struct(value: dict[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if value:
        message.update(value)
    return message


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def instance(value: Instance) -> pb.Instance:
    return pb.Instance(
        id=value.id,
        name=value.name,
        project=value.project,
        environment=value.environment,
        labels=value.labels,
        kind=f"KIND_{value.kind.value}",
        replicas=value.replicas,
        params=struct(value.params),
        connections=value.connections,
        version_constraint=value.version_constraint,
        release_channel=value.release_channel,
        bundle=value.bundle,
        bundle_release_id=value.bundle_release_id or "",
        version=value.version or "",
        pinned=value.pinned,
        active_deployment_id=value.active_deployment_id or "",
        route_generation=value.route_generation,
        secret_names=list(value.secret_names),
        quarantined_release_ids=list(value.quarantined_release_ids),
        create_time=timestamp(value.create_time),
        update_time=timestamp(value.update_time),
        public_url=routes.public_url(value.name, value.project, value.environment, value.organization_id, _public_domain[0]),
    )


def route(value: routes.Route) -> pb.Route:
    return pb.Route(
        instance_id=value.instance_id,
        host=value.host,
        kind=f"KIND_{value.kind.value}",
        route_generation=value.route_generation,
        active_deployment_id=value.active_deployment_id,
        release_id=value.release_id,
        version=value.version,
        artifact_uri=value.artifact_uri,
        backends=[
            pb.RouteBackend(runtime_instance_id=b.runtime_instance_id, address=b.address, state=f"STATE_{b.state.value}")
            for b in value.backends
        ],
    )


def release(value: Release) -> pb.Release:
    return pb.Release(
        id=value.id,
        bundle=value.bundle,
        version=value.version,
        release_channel=value.release_channel,
        artifact_uri=value.artifact_uri,
        state=f"STATE_{value.state.value}",
        artifact_present=value.artifact_present,
        schema_version=value.schema_version,
        create_time=timestamp(value.create_time),
        sha256=value.sha256,
        size_bytes=value.size_bytes,
        is_bundle=value.is_bundle,
        servable=value.servable,
    )


def deployment(value: Deployment) -> pb.Deployment:
    message = pb.Deployment(
        id=value.id,
        instance_id=value.instance_id,
        action=f"ACTION_{value.action.value}",
        status=f"STATUS_{value.status.value}",
        params=struct(value.params),
        md_metadata=struct(value.md_metadata),
        connection_params=value.connection_params,
        bundle_release_id=value.bundle_release_id or "",
        version=value.version or "",
        release_channel=value.release_channel or "",
        message=value.message,
        proposed_by=value.proposed_by,
        decided_by=value.decided_by or "",
        error=value.error,
        reject_reason=value.reject_reason,
        create_time=timestamp(value.create_time),
        update_time=timestamp(value.update_time),
        decide_time=timestamp(value.decide_time),
    )
    if value.rollback_of_id:
        message.rollback_of.CopyFrom(pb.DeploymentRef(id=value.rollback_of_id, version=value.rollback_of_version or ""))
    if value.plan is not None:
        message.plan.CopyFrom(struct(value.plan))
    return message


def event(value: Event) -> pb.DeploymentEvent:
    message = pb.DeploymentEvent(
        deployment_id=value.deployment_id,
        sequence=value.sequence,
        type=f"TYPE_{value.type.value}",
        status=f"STATUS_{value.status.value}" if value.status else "STATUS_UNSPECIFIED",
        message=value.message,
        create_time=timestamp(value.create_time),
        instance_id=value.instance_id,
        instance_sequence=value.instance_sequence,
    )
    if value.progress_total:
        message.progress.CopyFrom(pb.Progress(done=value.progress_done, total=value.progress_total))
    return message


@functools.lru_cache(maxsize=1024)
def event_bytes(value: Event) -> bytes:
    """An event's wire form, built once however many watchers it goes to (events are frozen values)."""
    return event(value).SerializeToString()


def runtime_instance(value: RuntimeInstance) -> pb.RuntimeInstance:
    return pb.RuntimeInstance(
        id=value.id,
        instance_id=value.instance_id,
        release_id=value.release_id,
        version=value.version,
        state=f"STATE_{value.state.value}",
        deployment_id=value.deployment_id,
        drain_time=timestamp(value.drain_after),
        error=value.error,
        create_time=timestamp(value.create_time),
        update_time=timestamp(value.update_time),
        host=value.host,
        port=value.port,
        pid=value.pid,
    )


def audit_event(value: AuditRecord) -> pb.AuditEvent:
    return pb.AuditEvent(
        id=value.id,
        create_time=timestamp(value.create_time),
        organization_id=value.organization_id,
        actor=value.actor,
        actor_kind=value.actor_kind,
        action=value.action,
        resource=value.resource,
        previous_deployment_id=value.previous_deployment_id or "",
        new_deployment_id=value.new_deployment_id or "",
        previous_release_id=value.previous_release_id or "",
        new_release_id=value.new_release_id or "",
        request_id=value.request_id,
        attribution=value.attribution,
        reason=value.reason,
        outcome=value.outcome,
        sequence=value.sequence,
        hash=value.hash,
        prev_hash=value.prev_hash,
    )


def principal(value: Principal) -> pb.Principal:
    return pb.Principal(
        id=value.id,
        name=value.name,
        kind=f"KIND_{value.kind.value}",
        groups=list(value.groups),
        disabled=value.disabled,
        create_time=timestamp(value.create_time),
    )


def token_info(value: TokenRow) -> pb.TokenInfo:
    return pb.TokenInfo(
        id=value.id,
        principal_id=value.principal_id,
        expire_time=timestamp(value.expire_time),
        revoked=value.revoked,
        create_time=timestamp(value.create_time),
    )


def policy(value: Any) -> pb.Policy:
    return pb.Policy(name=value["name"], cedar=value["cedar"], update_time=timestamp(value["update_time"]))


def approval_rule(value: ApprovalRule) -> pb.ApprovalRule:
    return pb.ApprovalRule(
        environment=value.environment,
        required_approvals=value.required_approvals,
        proposer_may_approve=value.proposer_may_approve,
    )
