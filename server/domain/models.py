"""The resources as plain values. Storage and the API convert to and from these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON = dict[str, Any]


class Kind(enum.StrEnum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


class ReleaseState(enum.StrEnum):
    READY = "READY"
    FAILED = "FAILED"
    ARCHIVED = "ARCHIVED"


class Action(enum.StrEnum):
    PROVISION = "PROVISION"
    DECOMMISSION = "DECOMMISSION"


class Status(enum.StrEnum):
    PROPOSED = "PROPOSED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


class RuntimeState(enum.StrEnum):
    STARTING = "STARTING"
    HEALTHY = "HEALTHY"
    DRAINING = "DRAINING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


class EventType(enum.StrEnum):
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    STARTED = "STARTED"
    ARTIFACT_VERIFIED = "ARTIFACT_VERIFIED"
    PROVISIONED = "PROVISIONED"
    RUNTIME_PROGRESS = "RUNTIME_PROGRESS"
    SWITCHED = "SWITCHED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PLAN_STARTED = "PLAN_STARTED"
    PLANNED = "PLANNED"
    RESUMED = "RESUMED"
    PROGRESS = "PROGRESS"
    # Of the instance itself, not of a deployment (deployment_id "", no status).
    RUNTIME_FAILED = "RUNTIME_FAILED"


@dataclass(frozen=True)
class Instance:
    id: str
    organization_id: str
    name: str
    project: str
    environment: str
    bundle: str
    kind: Kind
    replicas: int
    labels: dict[str, str]
    params: JSON
    connections: dict[str, str]
    version_constraint: str
    release_channel: str
    bundle_release_id: str | None
    version: str | None
    pinned: bool
    active_deployment_id: str | None
    route_generation: int
    secret_names: tuple[str, ...]
    create_time: datetime
    update_time: datetime
    quarantined_release_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    id: str
    organization_id: str
    bundle: str
    version: str
    release_channel: str
    artifact_uri: str
    state: ReleaseState
    artifact_present: bool
    schema_version: int
    create_time: datetime
    sha256: str = ""
    size_bytes: int = 0
    # A bundle's manifest as stored (docs/bundles.md); None for a plain artifact.
    manifest: JSON | None = None

    @property
    def is_bundle(self) -> bool:
        return self.manifest is not None

    @property
    def servable(self) -> bool:
        """A bundle with a `[serve]` step: DYNAMIC instances can run it."""
        return bool(self.manifest and self.manifest.get("serve"))


@dataclass(frozen=True)
class Deployment:
    id: str
    organization_id: str
    instance_id: str
    action: Action
    status: Status
    params: JSON
    md_metadata: JSON
    connection_params: dict[str, str]
    bundle_release_id: str | None
    version: str | None
    release_channel: str | None
    message: str
    rollback_of_id: str | None
    rollback_of_version: str | None
    plan: JSON | None
    proposed_by: str
    decided_by: str | None
    decide_time: datetime | None
    reject_reason: str
    error: str
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class Event:
    # "" and 0 for an event of the instance itself (it has no deployment, and no status).
    deployment_id: str
    instance_id: str
    sequence: int
    instance_sequence: int
    type: EventType
    status: Status | None
    message: str
    progress_done: int
    progress_total: int
    create_time: datetime


@dataclass(frozen=True)
class NewEvent:
    """An event to record; storage assigns its sequences and time."""

    type: EventType
    status: Status
    message: str
    progress_done: int = 0
    progress_total: int = 0
    extra: JSON = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeInstance:
    id: str
    organization_id: str
    instance_id: str
    release_id: str
    version: str
    deployment_id: str
    state: RuntimeState
    drain_after: datetime | None
    error: str
    create_time: datetime
    update_time: datetime
    # Which spawn of it this is: a spawn taken over from a dead worker is the next attempt.
    spawn_attempt: int = 0
    # Where it runs, once started: the machine, its loopback port, and for a local process its pid
    # and the process's start time (so that a reused pid is never taken for it).
    host: str = ""
    port: int = 0
    pid: int = 0
    pid_start: int = 0


class PrincipalKind(enum.StrEnum):
    USER = "USER"
    SERVICE = "SERVICE"


@dataclass(frozen=True)
class Principal:
    id: str
    organization_id: str
    name: str
    kind: PrincipalKind
    groups: tuple[str, ...]
    disabled: bool
    create_time: datetime


@dataclass(frozen=True)
class ApprovalRule:
    environment: str
    required_approvals: int = 1
    proposer_may_approve: bool = True
