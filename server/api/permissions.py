"""The one table of what each RPC requires (docs/product.md §7): its action, and the resource it is checked on.

A test enumerates the service's RPCs through reflection and fails if one is
missing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.app.access import Scope


@dataclass(frozen=True)
class Rule:
    action: str
    scope: Scope
    field: str = "id"
    # When `field` is empty in the request: the scope and field it names instead.
    otherwise: tuple[Scope, str] | None = None


PERMISSIONS: dict[str, Rule] = {
    "CreateInstance": Rule("instance:admin", Scope.NEW_INSTANCE),
    "GetInstance": Rule("instance:read", Scope.INSTANCE),
    "ListInstances": Rule("instance:read", Scope.EACH_INSTANCE),
    "UpdateInstance": Rule("instance:admin", Scope.INSTANCE),
    "SetInstanceSecrets": Rule("instance:admin", Scope.INSTANCE),
    "PublishRelease": Rule("release:publish", Scope.NEW_RELEASE),
    "UploadRelease": Rule("release:publish", Scope.NEW_RELEASE),
    "GetRelease": Rule("release:read", Scope.RELEASE),
    "ListReleases": Rule("release:read", Scope.ORGANIZATION),
    "ArchiveRelease": Rule("release:publish", Scope.RELEASE),
    "DeleteReleaseArtifact": Rule("release:publish", Scope.RELEASE),
    "ProposeDeployment": Rule("instance:propose", Scope.INSTANCE, "instance_id"),
    "DecommissionInstance": Rule("instance:propose", Scope.INSTANCE),
    "RollbackDeployment": Rule("instance:propose", Scope.DEPLOYMENT, otherwise=(Scope.INSTANCE, "instance_id")),
    "PlanDeployment": Rule("instance:propose", Scope.DEPLOYMENT),
    "ApproveDeployment": Rule("instance:deploy", Scope.DEPLOYMENT),
    "RejectDeployment": Rule("instance:deploy", Scope.DEPLOYMENT),
    "GetDeployment": Rule("instance:read", Scope.DEPLOYMENT),
    "ListDeployments": Rule("instance:read", Scope.INSTANCE, "instance_id"),
    "WatchDeployment": Rule("instance:read", Scope.DEPLOYMENT),
    "WatchInstance": Rule("instance:read", Scope.INSTANCE),
    "ListRuntimeInstances": Rule("instance:read", Scope.INSTANCE, "instance_id"),
    # Every instance's route: a router's service principal reads the whole organization.
    "WatchRoutes": Rule("instance:read", Scope.ORGANIZATION),
    "ListAuditEvents": Rule("audit:read", Scope.ORGANIZATION),
    "VerifyAuditChain": Rule("audit:read", Scope.ORGANIZATION),
    "CreatePrincipal": Rule("org:admin", Scope.ORGANIZATION),
    "ListPrincipals": Rule("org:admin", Scope.ORGANIZATION),
    "UpdatePrincipal": Rule("org:admin", Scope.ORGANIZATION),
    "CreateToken": Rule("org:admin", Scope.ORGANIZATION),
    "RevokeToken": Rule("org:admin", Scope.ORGANIZATION),
    "PutPolicy": Rule("org:admin", Scope.ORGANIZATION),
    "DeletePolicy": Rule("org:admin", Scope.ORGANIZATION),
    "ListPolicies": Rule("org:admin", Scope.ORGANIZATION),
    "PutApprovalRule": Rule("org:admin", Scope.ORGANIZATION),
    "ListApprovalRules": Rule("org:admin", Scope.ORGANIZATION),
}
