"""RolloutService: validate the request, call one use case, convert the result.

Status codes are never chosen here: errors go through server/api/errors.py.
Mutating RPCs run through `mutate` (idempotency key + audit record).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.api import convert, requests
from server.api.calls import Context, mutate, stream, unary
from server.api.admin import AdminRpcs
from server.api.guard import Guard, may_read
from server.app import audit, deployments, instances, releases, runtime, watch
from server.app.context import Caller, Services
from server.app.event_hub import EventHub
from server.domain.audit import AuditEntry
from server.keyring import Keyring


def _blinded(request: api.SetInstanceSecretsRequest, keyring: Keyring) -> api.SetInstanceSecretsRequest:
    """The request as its idempotency fingerprint sees it: each value replaced by a keyed digest, so the
    stored fingerprint is no hash of a secret that a database dump could test guesses against (ADR 009)."""
    blinded = api.SetInstanceSecretsRequest()
    blinded.CopyFrom(request)
    for name, value in request.secrets.items():
        blinded.secrets[name] = keyring.blind(request.id, name, value.encode()).hex()
    return blinded


class RolloutServicer(AdminRpcs, api_grpc.RolloutServiceServicer):
    def __init__(self, services: Services, hub: EventHub) -> None:
        self.svc = services
        self.hub = hub
        self.guard = Guard(services)

    # Instances

    @unary(requests.create_instance)
    async def CreateInstance(
        self, request: api.CreateInstanceRequest, context: Context, who: Caller, fields: Any
    ) -> pb.Instance:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("instance.create", "instances"),
            lambda conn, who: instances.create(conn, self.svc, who, fields),
            convert.instance,
            pb.Instance,
        )

    @unary(requests.named)
    async def GetInstance(
        self, request: api.GetInstanceRequest, context: Context, who: Caller, _: object
    ) -> pb.Instance:
        return convert.instance(await instances.get(self.svc, who, request.id))

    @unary(requests.listing)
    async def ListInstances(
        self, request: api.ListInstancesRequest, context: Context, who: Caller, _: object
    ) -> api.ListInstancesResponse:
        rows, token = await instances.list_page(
            self.svc, who, request.filter, request.order_by, request.page_size, request.page_token
        )
        # Listing needs no grant of its own; it shows only the instances the caller may read.
        visible = [i for i in rows if may_read(who, i)]
        return api.ListInstancesResponse(instances=[convert.instance(i) for i in visible], next_page_token=token)

    @unary(requests.update_instance)
    async def UpdateInstance(
        self, request: api.UpdateInstanceRequest, context: Context, who: Caller, changes: Any
    ) -> pb.Instance:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("instance.update", f"instances/{request.id}"),
            lambda conn, who: instances.update(conn, self.svc, who, request.id, changes),
            convert.instance,
            pb.Instance,
        )

    @unary(requests.set_secrets)
    async def SetInstanceSecrets(
        self, request: api.SetInstanceSecretsRequest, context: Context, who: Caller, parsed: Any
    ) -> pb.Instance:
        secrets, remove = parsed
        return await mutate(
            self.svc,
            _blinded(request, self.svc.keyring),
            context,
            who,
            AuditEntry("instance.set_secrets", f"instances/{request.id}"),
            lambda conn, who: instances.set_secrets(conn, self.svc, who, request.id, secrets, remove),
            convert.instance,
            pb.Instance,
        )

    # Releases

    @unary(requests.publish_release)
    async def PublishRelease(
        self, request: api.PublishReleaseRequest, context: Context, who: Caller, parsed: Any
    ) -> pb.Release:
        fields, content = parsed
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("release.publish", "releases"),
            lambda conn, who: releases.publish(conn, self.svc, who, fields, content),
            convert.release,
            pb.Release,
        )

    @unary(requests.named)
    async def GetRelease(self, request: api.GetReleaseRequest, context: Context, who: Caller, _: object) -> pb.Release:
        return convert.release(await releases.get(self.svc, who, request.id))

    @unary(requests.listing)
    async def ListReleases(
        self, request: api.ListReleasesRequest, context: Context, who: Caller, _: object
    ) -> api.ListReleasesResponse:
        rows, token = await releases.list_page(
            self.svc, who, request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListReleasesResponse(releases=[convert.release(r) for r in rows], next_page_token=token)

    @unary(requests.named)
    async def ArchiveRelease(
        self, request: api.ArchiveReleaseRequest, context: Context, who: Caller, _: object
    ) -> pb.Release:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("release.archive", f"releases/{request.id}"),
            lambda conn, who: releases.archive(conn, self.svc, who, request.id),
            convert.release,
            pb.Release,
        )

    @unary(requests.named)
    async def DeleteReleaseArtifact(
        self, request: api.DeleteReleaseArtifactRequest, context: Context, who: Caller, _: object
    ) -> pb.Release:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("release.delete_artifact", f"releases/{request.id}"),
            lambda conn, who: releases.delete_artifact(conn, self.svc, who, request.id),
            convert.release,
            pb.Release,
        )

    # Deployments

    @unary(requests.propose)
    async def ProposeDeployment(
        self, request: api.ProposeDeploymentRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("deployment.propose", f"instances/{request.instance_id}"),
            lambda conn, who: deployments.propose(
                conn, self.svc, who, request.instance_id, request.bundle_release_id, request.message
            ),
            convert.deployment,
            pb.Deployment,
        )

    @unary(lambda r: requests.with_text(r, "message"))
    async def DecommissionInstance(
        self, request: api.DecommissionInstanceRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("deployment.decommission", f"instances/{request.id}"),
            lambda conn, who: deployments.decommission(conn, self.svc, who, request.id, request.message),
            convert.deployment,
            pb.Deployment,
        )

    @unary(requests.named)
    async def RollbackDeployment(
        self, request: api.RollbackDeploymentRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("deployment.rollback", f"deployments/{request.id}"),
            lambda conn, who: deployments.rollback(conn, self.svc, who, request.id),
            convert.deployment,
            pb.Deployment,
        )

    @unary(requests.named)
    async def PlanDeployment(
        self, request: api.PlanDeploymentRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("deployment.plan", f"deployments/{request.id}"),
            lambda conn, who: deployments.request_plan(conn, self.svc, who, request.id),
            convert.deployment,
            pb.Deployment,
        )

    @unary(requests.named)
    async def ApproveDeployment(
        self, request: api.ApproveDeploymentRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("deployment.approve", f"deployments/{request.id}"),
            lambda conn, who: deployments.approve(conn, self.svc, who, request.id),
            convert.deployment,
            pb.Deployment,
        )

    @unary(lambda r: requests.with_text(r, "reason"))
    async def RejectDeployment(
        self, request: api.RejectDeploymentRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("deployment.reject", f"deployments/{request.id}"),
            lambda conn, who: deployments.reject(conn, self.svc, who, request.id, request.reason),
            convert.deployment,
            pb.Deployment,
        )

    @unary(requests.named)
    async def GetDeployment(
        self, request: api.GetDeploymentRequest, context: Context, who: Caller, _: object
    ) -> pb.Deployment:
        return convert.deployment(await deployments.get(self.svc, who, request.id))

    @unary(lambda r: requests.listing(r, parent="instance_id"))
    async def ListDeployments(
        self, request: api.ListDeploymentsRequest, context: Context, who: Caller, _: object
    ) -> api.ListDeploymentsResponse:
        rows, token = await deployments.list_page(
            self.svc,
            who,
            request.instance_id,
            request.filter,
            request.order_by,
            request.page_size,
            request.page_token,
        )
        return api.ListDeploymentsResponse(deployments=[convert.deployment(d) for d in rows], next_page_token=token)

    @unary(lambda r: requests.listing(r, parent="instance_id"))
    async def ListRuntimeInstances(
        self, request: api.ListRuntimeInstancesRequest, context: Context, who: Caller, _: object
    ) -> api.ListRuntimeInstancesResponse:
        rows, token = await runtime.list_page(
            self.svc,
            who,
            request.instance_id,
            request.filter,
            request.order_by,
            request.page_size,
            request.page_token,
        )
        return api.ListRuntimeInstancesResponse(
            runtime_instances=[convert.runtime_instance(r) for r in rows], next_page_token=token
        )

    # Audit

    @unary(requests.listing)
    async def ListAuditEvents(
        self, request: api.ListAuditEventsRequest, context: Context, who: Caller, _: object
    ) -> api.ListAuditEventsResponse:
        rows, token = await audit.list_page(
            self.svc, who, request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListAuditEventsResponse(audit_events=[convert.audit_event(r) for r in rows], next_page_token=token)

    @unary(requests.organization_only)
    async def VerifyAuditChain(
        self, request: api.VerifyAuditChainRequest, context: Context, who: Caller, _: object
    ) -> api.VerifyAuditChainResponse:
        check = await audit.verify_chain(self.svc, who)
        return api.VerifyAuditChainResponse(
            intact=check.first_broken_id is None,
            checked=check.checked,
            first_broken_id=check.first_broken_id or "",
            detail=check.detail,
        )

    # Progress streams

    @stream(lambda r: requests.watch(r, "after_sequence"))
    async def WatchDeployment(
        self, request: api.WatchDeploymentRequest, context: Context, who: Caller, _: object
    ) -> AsyncIterator[pb.DeploymentEvent]:
        events = watch.deployment_events(self.svc, self.hub, who, request.id, request.after_sequence)
        async for event in events:
            yield convert.event(event)

    @stream(lambda r: requests.watch(r, "after_instance_sequence"))
    async def WatchInstance(
        self, request: api.WatchInstanceRequest, context: Context, who: Caller, _: object
    ) -> AsyncIterator[pb.DeploymentEvent]:
        events = watch.instance_events(self.svc, self.hub, who, request.id, request.after_instance_sequence)
        async for event in events:
            yield convert.event(event)
