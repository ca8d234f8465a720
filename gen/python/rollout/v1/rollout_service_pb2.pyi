from google.protobuf import field_mask_pb2 as _field_mask_pb2
from rollout.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateInstanceRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "instance")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    instance: _resources_pb2.Instance
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., instance: _Optional[_Union[_resources_pb2.Instance, _Mapping]] = ...) -> None: ...

class GetInstanceRequest(_message.Message):
    __slots__ = ("organization_id", "id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ListInstancesRequest(_message.Message):
    __slots__ = ("organization_id", "filter", "order_by", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInstancesResponse(_message.Message):
    __slots__ = ("instances", "next_page_token")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Instance]
    next_page_token: str
    def __init__(self, instances: _Optional[_Iterable[_Union[_resources_pb2.Instance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateInstanceRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id", "instance", "update_mask")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    instance: _resources_pb2.Instance
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ..., instance: _Optional[_Union[_resources_pb2.Instance, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class SetInstanceSecretsRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id", "secrets", "remove_names")
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_NAMES_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    secrets: _containers.ScalarMap[str, str]
    remove_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ..., secrets: _Optional[_Mapping[str, str]] = ..., remove_names: _Optional[_Iterable[str]] = ...) -> None: ...

class PublishReleaseRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "release", "artifact_content")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_CONTENT_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    release: _resources_pb2.Release
    artifact_content: bytes
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., release: _Optional[_Union[_resources_pb2.Release, _Mapping]] = ..., artifact_content: _Optional[bytes] = ...) -> None: ...

class UploadReleaseRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "release", "sha256", "content")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    release: _resources_pb2.Release
    sha256: str
    content: bytes
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., release: _Optional[_Union[_resources_pb2.Release, _Mapping]] = ..., sha256: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class GetReleaseRequest(_message.Message):
    __slots__ = ("organization_id", "id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ListReleasesRequest(_message.Message):
    __slots__ = ("organization_id", "filter", "order_by", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReleasesResponse(_message.Message):
    __slots__ = ("releases", "next_page_token")
    RELEASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    releases: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Release]
    next_page_token: str
    def __init__(self, releases: _Optional[_Iterable[_Union[_resources_pb2.Release, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ArchiveReleaseRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteReleaseArtifactRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ProposeDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "instance_id", "bundle_release_id", "message")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    instance_id: str
    bundle_release_id: str
    message: str
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., bundle_release_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class DecommissionInstanceRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id", "message")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    message: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RollbackDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id", "instance_id", "target", "reason")
    class Target(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TARGET_UNSPECIFIED: _ClassVar[RollbackDeploymentRequest.Target]
        TARGET_PREVIOUS_GOOD: _ClassVar[RollbackDeploymentRequest.Target]
    TARGET_UNSPECIFIED: RollbackDeploymentRequest.Target
    TARGET_PREVIOUS_GOOD: RollbackDeploymentRequest.Target
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    instance_id: str
    target: RollbackDeploymentRequest.Target
    reason: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., target: _Optional[_Union[RollbackDeploymentRequest.Target, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ApproveDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RejectDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id", "reason")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    reason: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("organization_id", "instance_id", "filter", "order_by", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    instance_id: str
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeploymentsResponse(_message.Message):
    __slots__ = ("deployments", "next_page_token")
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Deployment]
    next_page_token: str
    def __init__(self, deployments: _Optional[_Iterable[_Union[_resources_pb2.Deployment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchDeploymentRequest(_message.Message):
    __slots__ = ("organization_id", "id", "after_sequence")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    after_sequence: int
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchInstanceRequest(_message.Message):
    __slots__ = ("organization_id", "id", "after_instance_sequence")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_INSTANCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    after_instance_sequence: int
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., after_instance_sequence: _Optional[int] = ...) -> None: ...

class WatchRoutesRequest(_message.Message):
    __slots__ = ("organization_id", "resync_seconds")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESYNC_SECONDS_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    resync_seconds: int
    def __init__(self, organization_id: _Optional[str] = ..., resync_seconds: _Optional[int] = ...) -> None: ...

class WatchRoutesResponse(_message.Message):
    __slots__ = ("snapshot", "routes")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    snapshot: bool
    routes: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Route]
    def __init__(self, snapshot: _Optional[bool] = ..., routes: _Optional[_Iterable[_Union[_resources_pb2.Route, _Mapping]]] = ...) -> None: ...

class ListRuntimeInstancesRequest(_message.Message):
    __slots__ = ("organization_id", "instance_id", "filter", "order_by", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    instance_id: str
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRuntimeInstancesResponse(_message.Message):
    __slots__ = ("runtime_instances", "next_page_token")
    RUNTIME_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runtime_instances: _containers.RepeatedCompositeFieldContainer[_resources_pb2.RuntimeInstance]
    next_page_token: str
    def __init__(self, runtime_instances: _Optional[_Iterable[_Union[_resources_pb2.RuntimeInstance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("organization_id", "filter", "order_by", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("audit_events", "next_page_token")
    AUDIT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audit_events: _containers.RepeatedCompositeFieldContainer[_resources_pb2.AuditEvent]
    next_page_token: str
    def __init__(self, audit_events: _Optional[_Iterable[_Union[_resources_pb2.AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VerifyAuditChainRequest(_message.Message):
    __slots__ = ("organization_id",)
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    def __init__(self, organization_id: _Optional[str] = ...) -> None: ...

class VerifyAuditChainResponse(_message.Message):
    __slots__ = ("intact", "checked", "first_broken_id", "detail")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    checked: int
    first_broken_id: str
    detail: str
    def __init__(self, intact: _Optional[bool] = ..., checked: _Optional[int] = ..., first_broken_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class CreatePrincipalRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "principal")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    principal: _resources_pb2.Principal
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., principal: _Optional[_Union[_resources_pb2.Principal, _Mapping]] = ...) -> None: ...

class ListPrincipalsRequest(_message.Message):
    __slots__ = ("organization_id", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPrincipalsResponse(_message.Message):
    __slots__ = ("principals", "next_page_token")
    PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    principals: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Principal]
    next_page_token: str
    def __init__(self, principals: _Optional[_Iterable[_Union[_resources_pb2.Principal, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePrincipalRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id", "principal", "update_mask")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    principal: _resources_pb2.Principal
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ..., principal: _Optional[_Union[_resources_pb2.Principal, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "principal_id", "ttl_seconds")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    principal_id: str
    ttl_seconds: int
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., principal_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "info")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    token: str
    info: _resources_pb2.TokenInfo
    def __init__(self, token: _Optional[str] = ..., info: _Optional[_Union[_resources_pb2.TokenInfo, _Mapping]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("organization_id", "id", "request_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    id: str
    request_id: str
    def __init__(self, organization_id: _Optional[str] = ..., id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PutPolicyRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "policy")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    policy: _resources_pb2.Policy
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., policy: _Optional[_Union[_resources_pb2.Policy, _Mapping]] = ...) -> None: ...

class DeletePolicyRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "name")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    name: str
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ("organization_id",)
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    def __init__(self, organization_id: _Optional[str] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Policy]
    def __init__(self, policies: _Optional[_Iterable[_Union[_resources_pb2.Policy, _Mapping]]] = ...) -> None: ...

class PutApprovalRuleRequest(_message.Message):
    __slots__ = ("organization_id", "request_id", "rule")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    request_id: str
    rule: _resources_pb2.ApprovalRule
    def __init__(self, organization_id: _Optional[str] = ..., request_id: _Optional[str] = ..., rule: _Optional[_Union[_resources_pb2.ApprovalRule, _Mapping]] = ...) -> None: ...

class ListApprovalRulesRequest(_message.Message):
    __slots__ = ("organization_id",)
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    def __init__(self, organization_id: _Optional[str] = ...) -> None: ...

class ListApprovalRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ApprovalRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[_resources_pb2.ApprovalRule, _Mapping]]] = ...) -> None: ...
