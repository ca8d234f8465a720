import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Instance(_message.Message):
    __slots__ = ("id", "name", "project", "environment", "labels", "kind", "replicas", "params", "connections", "version_constraint", "release_channel", "bundle", "bundle_release_id", "version", "pinned", "active_deployment_id", "route_generation", "secret_names", "create_time", "update_time", "quarantined_release_ids", "public_url")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Instance.Kind]
        KIND_STATIC: _ClassVar[Instance.Kind]
        KIND_DYNAMIC: _ClassVar[Instance.Kind]
    KIND_UNSPECIFIED: Instance.Kind
    KIND_STATIC: Instance.Kind
    KIND_DYNAMIC: Instance.Kind
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ConnectionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAMES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_RELEASE_IDS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    project: str
    environment: str
    labels: _containers.ScalarMap[str, str]
    kind: Instance.Kind
    replicas: int
    params: _struct_pb2.Struct
    connections: _containers.ScalarMap[str, str]
    version_constraint: str
    release_channel: str
    bundle: str
    bundle_release_id: str
    version: str
    pinned: bool
    active_deployment_id: str
    route_generation: int
    secret_names: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    quarantined_release_ids: _containers.RepeatedScalarFieldContainer[str]
    public_url: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., project: _Optional[str] = ..., environment: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., kind: _Optional[_Union[Instance.Kind, str]] = ..., replicas: _Optional[int] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., connections: _Optional[_Mapping[str, str]] = ..., version_constraint: _Optional[str] = ..., release_channel: _Optional[str] = ..., bundle: _Optional[str] = ..., bundle_release_id: _Optional[str] = ..., version: _Optional[str] = ..., pinned: _Optional[bool] = ..., active_deployment_id: _Optional[str] = ..., route_generation: _Optional[int] = ..., secret_names: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quarantined_release_ids: _Optional[_Iterable[str]] = ..., public_url: _Optional[str] = ...) -> None: ...

class RuntimeInstance(_message.Message):
    __slots__ = ("id", "instance_id", "release_id", "version", "state", "deployment_id", "drain_time", "error", "create_time", "update_time", "host", "port", "pid")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[RuntimeInstance.State]
        STATE_STARTING: _ClassVar[RuntimeInstance.State]
        STATE_HEALTHY: _ClassVar[RuntimeInstance.State]
        STATE_DRAINING: _ClassVar[RuntimeInstance.State]
        STATE_STOPPED: _ClassVar[RuntimeInstance.State]
        STATE_FAILED: _ClassVar[RuntimeInstance.State]
    STATE_UNSPECIFIED: RuntimeInstance.State
    STATE_STARTING: RuntimeInstance.State
    STATE_HEALTHY: RuntimeInstance.State
    STATE_DRAINING: RuntimeInstance.State
    STATE_STOPPED: RuntimeInstance.State
    STATE_FAILED: RuntimeInstance.State
    ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DRAIN_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    id: str
    instance_id: str
    release_id: str
    version: str
    state: RuntimeInstance.State
    deployment_id: str
    drain_time: _timestamp_pb2.Timestamp
    error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    host: str
    port: int
    pid: int
    def __init__(self, id: _Optional[str] = ..., instance_id: _Optional[str] = ..., release_id: _Optional[str] = ..., version: _Optional[str] = ..., state: _Optional[_Union[RuntimeInstance.State, str]] = ..., deployment_id: _Optional[str] = ..., drain_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., pid: _Optional[int] = ...) -> None: ...

class Release(_message.Message):
    __slots__ = ("id", "bundle", "version", "release_channel", "artifact_uri", "state", "artifact_present", "schema_version", "create_time", "sha256", "size_bytes", "is_bundle", "servable")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Release.State]
        STATE_READY: _ClassVar[Release.State]
        STATE_FAILED: _ClassVar[Release.State]
        STATE_ARCHIVED: _ClassVar[Release.State]
    STATE_UNSPECIFIED: Release.State
    STATE_READY: Release.State
    STATE_FAILED: Release.State
    STATE_ARCHIVED: Release.State
    ID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RELEASE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_PRESENT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    IS_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    SERVABLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    bundle: str
    version: str
    release_channel: str
    artifact_uri: str
    state: Release.State
    artifact_present: bool
    schema_version: int
    create_time: _timestamp_pb2.Timestamp
    sha256: str
    size_bytes: int
    is_bundle: bool
    servable: bool
    def __init__(self, id: _Optional[str] = ..., bundle: _Optional[str] = ..., version: _Optional[str] = ..., release_channel: _Optional[str] = ..., artifact_uri: _Optional[str] = ..., state: _Optional[_Union[Release.State, str]] = ..., artifact_present: _Optional[bool] = ..., schema_version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., is_bundle: _Optional[bool] = ..., servable: _Optional[bool] = ...) -> None: ...

class DeploymentRef(_message.Message):
    __slots__ = ("id", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("done", "total")
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    done: int
    total: int
    def __init__(self, done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("id", "instance_id", "action", "status", "params", "md_metadata", "connection_params", "bundle_release_id", "version", "release_channel", "message", "rollback_of", "plan", "proposed_by", "decided_by", "error", "create_time", "update_time", "decide_time", "reject_reason")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[Deployment.Action]
        ACTION_PROVISION: _ClassVar[Deployment.Action]
        ACTION_DECOMMISSION: _ClassVar[Deployment.Action]
    ACTION_UNSPECIFIED: Deployment.Action
    ACTION_PROVISION: Deployment.Action
    ACTION_DECOMMISSION: Deployment.Action
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Deployment.Status]
        STATUS_PROPOSED: _ClassVar[Deployment.Status]
        STATUS_PENDING: _ClassVar[Deployment.Status]
        STATUS_RUNNING: _ClassVar[Deployment.Status]
        STATUS_COMPLETED: _ClassVar[Deployment.Status]
        STATUS_FAILED: _ClassVar[Deployment.Status]
        STATUS_REJECTED: _ClassVar[Deployment.Status]
    STATUS_UNSPECIFIED: Deployment.Status
    STATUS_PROPOSED: Deployment.Status
    STATUS_PENDING: Deployment.Status
    STATUS_RUNNING: Deployment.Status
    STATUS_COMPLETED: Deployment.Status
    STATUS_FAILED: Deployment.Status
    STATUS_REJECTED: Deployment.Status
    class ConnectionParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    MD_METADATA_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_PARAMS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RELEASE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    instance_id: str
    action: Deployment.Action
    status: Deployment.Status
    params: _struct_pb2.Struct
    md_metadata: _struct_pb2.Struct
    connection_params: _containers.ScalarMap[str, str]
    bundle_release_id: str
    version: str
    release_channel: str
    message: str
    rollback_of: DeploymentRef
    plan: _struct_pb2.Struct
    proposed_by: str
    decided_by: str
    error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    decide_time: _timestamp_pb2.Timestamp
    reject_reason: str
    def __init__(self, id: _Optional[str] = ..., instance_id: _Optional[str] = ..., action: _Optional[_Union[Deployment.Action, str]] = ..., status: _Optional[_Union[Deployment.Status, str]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., md_metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., connection_params: _Optional[_Mapping[str, str]] = ..., bundle_release_id: _Optional[str] = ..., version: _Optional[str] = ..., release_channel: _Optional[str] = ..., message: _Optional[str] = ..., rollback_of: _Optional[_Union[DeploymentRef, _Mapping]] = ..., plan: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., proposed_by: _Optional[str] = ..., decided_by: _Optional[str] = ..., error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reject_reason: _Optional[str] = ...) -> None: ...

class DeploymentEvent(_message.Message):
    __slots__ = ("deployment_id", "sequence", "type", "status", "message", "progress", "create_time", "instance_id", "instance_sequence")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[DeploymentEvent.Type]
        TYPE_PROPOSED: _ClassVar[DeploymentEvent.Type]
        TYPE_APPROVED: _ClassVar[DeploymentEvent.Type]
        TYPE_REJECTED: _ClassVar[DeploymentEvent.Type]
        TYPE_STARTED: _ClassVar[DeploymentEvent.Type]
        TYPE_ARTIFACT_VERIFIED: _ClassVar[DeploymentEvent.Type]
        TYPE_PROVISIONED: _ClassVar[DeploymentEvent.Type]
        TYPE_RUNTIME_PROGRESS: _ClassVar[DeploymentEvent.Type]
        TYPE_SWITCHED: _ClassVar[DeploymentEvent.Type]
        TYPE_COMPLETED: _ClassVar[DeploymentEvent.Type]
        TYPE_FAILED: _ClassVar[DeploymentEvent.Type]
        TYPE_PLAN_STARTED: _ClassVar[DeploymentEvent.Type]
        TYPE_PLANNED: _ClassVar[DeploymentEvent.Type]
        TYPE_RESUMED: _ClassVar[DeploymentEvent.Type]
        TYPE_PROGRESS: _ClassVar[DeploymentEvent.Type]
        TYPE_RUNTIME_FAILED: _ClassVar[DeploymentEvent.Type]
    TYPE_UNSPECIFIED: DeploymentEvent.Type
    TYPE_PROPOSED: DeploymentEvent.Type
    TYPE_APPROVED: DeploymentEvent.Type
    TYPE_REJECTED: DeploymentEvent.Type
    TYPE_STARTED: DeploymentEvent.Type
    TYPE_ARTIFACT_VERIFIED: DeploymentEvent.Type
    TYPE_PROVISIONED: DeploymentEvent.Type
    TYPE_RUNTIME_PROGRESS: DeploymentEvent.Type
    TYPE_SWITCHED: DeploymentEvent.Type
    TYPE_COMPLETED: DeploymentEvent.Type
    TYPE_FAILED: DeploymentEvent.Type
    TYPE_PLAN_STARTED: DeploymentEvent.Type
    TYPE_PLANNED: DeploymentEvent.Type
    TYPE_RESUMED: DeploymentEvent.Type
    TYPE_PROGRESS: DeploymentEvent.Type
    TYPE_RUNTIME_FAILED: DeploymentEvent.Type
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    sequence: int
    type: DeploymentEvent.Type
    status: Deployment.Status
    message: str
    progress: Progress
    create_time: _timestamp_pb2.Timestamp
    instance_id: str
    instance_sequence: int
    def __init__(self, deployment_id: _Optional[str] = ..., sequence: _Optional[int] = ..., type: _Optional[_Union[DeploymentEvent.Type, str]] = ..., status: _Optional[_Union[Deployment.Status, str]] = ..., message: _Optional[str] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., instance_id: _Optional[str] = ..., instance_sequence: _Optional[int] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("id", "create_time", "organization_id", "actor", "actor_kind", "action", "resource", "previous_deployment_id", "new_deployment_id", "previous_release_id", "new_release_id", "request_id", "attribution", "outcome", "sequence", "hash", "prev_hash", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_KIND_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    create_time: _timestamp_pb2.Timestamp
    organization_id: str
    actor: str
    actor_kind: str
    action: str
    resource: str
    previous_deployment_id: str
    new_deployment_id: str
    previous_release_id: str
    new_release_id: str
    request_id: str
    attribution: str
    outcome: str
    sequence: int
    hash: str
    prev_hash: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., organization_id: _Optional[str] = ..., actor: _Optional[str] = ..., actor_kind: _Optional[str] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., previous_deployment_id: _Optional[str] = ..., new_deployment_id: _Optional[str] = ..., previous_release_id: _Optional[str] = ..., new_release_id: _Optional[str] = ..., request_id: _Optional[str] = ..., attribution: _Optional[str] = ..., outcome: _Optional[str] = ..., sequence: _Optional[int] = ..., hash: _Optional[str] = ..., prev_hash: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Principal(_message.Message):
    __slots__ = ("id", "name", "kind", "groups", "disabled", "create_time")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Principal.Kind]
        KIND_USER: _ClassVar[Principal.Kind]
        KIND_SERVICE: _ClassVar[Principal.Kind]
    KIND_UNSPECIFIED: Principal.Kind
    KIND_USER: Principal.Kind
    KIND_SERVICE: Principal.Kind
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: Principal.Kind
    groups: _containers.RepeatedScalarFieldContainer[str]
    disabled: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[Principal.Kind, str]] = ..., groups: _Optional[_Iterable[str]] = ..., disabled: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("id", "principal_id", "expire_time", "revoked", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    principal_id: str
    expire_time: _timestamp_pb2.Timestamp
    revoked: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., principal_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("name", "cedar", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CEDAR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    cedar: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., cedar: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApprovalRule(_message.Message):
    __slots__ = ("environment", "required_approvals", "proposer_may_approve")
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_MAY_APPROVE_FIELD_NUMBER: _ClassVar[int]
    environment: str
    required_approvals: int
    proposer_may_approve: bool
    def __init__(self, environment: _Optional[str] = ..., required_approvals: _Optional[int] = ..., proposer_may_approve: _Optional[bool] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("instance_id", "host", "kind", "route_generation", "active_deployment_id", "release_id", "version", "artifact_uri", "backends")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROUTE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    host: str
    kind: Instance.Kind
    route_generation: int
    active_deployment_id: str
    release_id: str
    version: str
    artifact_uri: str
    backends: _containers.RepeatedCompositeFieldContainer[RouteBackend]
    def __init__(self, instance_id: _Optional[str] = ..., host: _Optional[str] = ..., kind: _Optional[_Union[Instance.Kind, str]] = ..., route_generation: _Optional[int] = ..., active_deployment_id: _Optional[str] = ..., release_id: _Optional[str] = ..., version: _Optional[str] = ..., artifact_uri: _Optional[str] = ..., backends: _Optional[_Iterable[_Union[RouteBackend, _Mapping]]] = ...) -> None: ...

class RouteBackend(_message.Message):
    __slots__ = ("runtime_instance_id", "address", "state")
    RUNTIME_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    runtime_instance_id: str
    address: str
    state: RuntimeInstance.State
    def __init__(self, runtime_instance_id: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[_Union[RuntimeInstance.State, str]] = ...) -> None: ...
