"""RolloutService: validate the request, call one use case, convert the result.

Status codes are never chosen here: errors go through server/api/errors.py.
Mutating RPCs run through `mutate` (idempotency key + audit record).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.api import convert, requests
from server.api.calls import Context, caller, mutate, stream, unary
from server.app import audit, deployments, instances, releases, runtime, watch
from server.app.context import Services
from server.app.event_hub import EventHub
from server.domain.audit import AuditEntry


class RolloutServicer(api_grpc.RolloutServiceServicer):
    def __init__(self, services: Services, hub: EventHub) -> None:
        self.svc = services
        self.hub = hub

    # Instances

    @unary
    async def CreateInstance(self, request: api.CreateInstanceRequest, context: Context) -> pb.Instance:
        fields = requests.create_instance(request)
        return await mutate(
            self.svc, request, context, AuditEntry("instance.create", "instances"),
            lambda conn, who: instances.create(conn, self.svc, who, fields),
            convert.instance, pb.Instance,
        )

    @unary
    async def GetInstance(self, request: api.GetInstanceRequest, context: Context) -> pb.Instance:
        requests.named(request)
        return convert.instance(await instances.get(self.svc, caller(request, context), request.id))

    @unary
    async def ListInstances(self, request: api.ListInstancesRequest, context: Context) -> api.ListInstancesResponse:
        requests.listing(request)
        rows, token = await instances.list_page(
            self.svc, caller(request, context), request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListInstancesResponse(instances=[convert.instance(i) for i in rows], next_page_token=token)

    @unary
    async def UpdateInstance(self, request: api.UpdateInstanceRequest, context: Context) -> pb.Instance:
        changes = requests.update_instance(request)
        return await mutate(
            self.svc, request, context, AuditEntry("instance.update", f"instances/{request.id}"),
            lambda conn, who: instances.update(conn, self.svc, who, request.id, changes),
            convert.instance, pb.Instance,
        )

    @unary
    async def SetInstanceSecrets(self, request: api.SetInstanceSecretsRequest, context: Context) -> pb.Instance:
        secrets, remove = requests.set_secrets(request)
        return await mutate(
            self.svc, request, context, AuditEntry("instance.set_secrets", f"instances/{request.id}"),
            lambda conn, who: instances.set_secrets(conn, self.svc, who, request.id, secrets, remove),
            convert.instance, pb.Instance,
        )

    # Releases

    @unary
    async def PublishRelease(self, request: api.PublishReleaseRequest, context: Context) -> pb.Release:
        fields, content = requests.publish_release(request)
        return await mutate(
            self.svc, request, context, AuditEntry("release.publish", "releases"),
            lambda conn, who: releases.publish(conn, self.svc, who, fields, content),
            convert.release, pb.Release,
        )

    @unary
    async def GetRelease(self, request: api.GetReleaseRequest, context: Context) -> pb.Release:
        requests.named(request)
        return convert.release(await releases.get(self.svc, caller(request, context), request.id))

    @unary
    async def ListReleases(self, request: api.ListReleasesRequest, context: Context) -> api.ListReleasesResponse:
        requests.listing(request)
        rows, token = await releases.list_page(
            self.svc, caller(request, context), request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListReleasesResponse(releases=[convert.release(r) for r in rows], next_page_token=token)

    @unary
    async def ArchiveRelease(self, request: api.ArchiveReleaseRequest, context: Context) -> pb.Release:
        requests.named(request)
        return await mutate(
            self.svc, request, context, AuditEntry("release.archive", f"releases/{request.id}"),
            lambda conn, who: releases.archive(conn, self.svc, who, request.id),
            convert.release, pb.Release,
        )

    @unary
    async def DeleteReleaseArtifact(self, request: api.DeleteReleaseArtifactRequest, context: Context) -> pb.Release:
        requests.named(request)
        return await mutate(
            self.svc, request, context, AuditEntry("release.delete_artifact", f"releases/{request.id}"),
            lambda conn, who: releases.delete_artifact(conn, self.svc, who, request.id),
            convert.release, pb.Release,
        )

    # Deployments

    @unary
    async def ProposeDeployment(self, request: api.ProposeDeploymentRequest, context: Context) -> pb.Deployment:
        requests.propose(request)
        return await mutate(
            self.svc, request, context, AuditEntry("deployment.propose", f"instances/{request.instance_id}"),
            lambda conn, who: deployments.propose(
                conn, self.svc, who, request.instance_id, request.bundle_release_id, request.message
            ),
            convert.deployment, pb.Deployment,
        )

    @unary
    async def DecommissionInstance(self, request: api.DecommissionInstanceRequest, context: Context) -> pb.Deployment:
        requests.with_text(request, "message")
        return await mutate(
            self.svc, request, context, AuditEntry("deployment.decommission", f"instances/{request.id}"),
            lambda conn, who: deployments.decommission(conn, self.svc, who, request.id, request.message),
            convert.deployment, pb.Deployment,
        )

    @unary
    async def RollbackDeployment(self, request: api.RollbackDeploymentRequest, context: Context) -> pb.Deployment:
        requests.named(request)
        return await mutate(
            self.svc, request, context, AuditEntry("deployment.rollback", f"deployments/{request.id}"),
            lambda conn, who: deployments.rollback(conn, self.svc, who, request.id),
            convert.deployment, pb.Deployment,
        )

    @unary
    async def PlanDeployment(self, request: api.PlanDeploymentRequest, context: Context) -> pb.Deployment:
        requests.named(request)
        return await mutate(
            self.svc, request, context, AuditEntry("deployment.plan", f"deployments/{request.id}"),
            lambda conn, who: deployments.request_plan(conn, self.svc, who, request.id),
            convert.deployment, pb.Deployment,
        )

    @unary
    async def ApproveDeployment(self, request: api.ApproveDeploymentRequest, context: Context) -> pb.Deployment:
        requests.named(request)
        return await mutate(
            self.svc, request, context, AuditEntry("deployment.approve", f"deployments/{request.id}"),
            lambda conn, who: deployments.approve(conn, self.svc, who, request.id),
            convert.deployment, pb.Deployment,
        )

    @unary
    async def RejectDeployment(self, request: api.RejectDeploymentRequest, context: Context) -> pb.Deployment:
        requests.with_text(request, "reason")
        return await mutate(
            self.svc, request, context, AuditEntry("deployment.reject", f"deployments/{request.id}"),
            lambda conn, who: deployments.reject(conn, self.svc, who, request.id, request.reason),
            convert.deployment, pb.Deployment,
        )

    @unary
    async def GetDeployment(self, request: api.GetDeploymentRequest, context: Context) -> pb.Deployment:
        requests.named(request)
        return convert.deployment(await deployments.get(self.svc, caller(request, context), request.id))

    @unary
    async def ListDeployments(
        self, request: api.ListDeploymentsRequest, context: Context
    ) -> api.ListDeploymentsResponse:
        requests.listing(request, parent="instance_id")
        rows, token = await deployments.list_page(
            self.svc, caller(request, context), request.instance_id,
            request.filter, request.order_by, request.page_size, request.page_token,
        )
        return api.ListDeploymentsResponse(deployments=[convert.deployment(d) for d in rows], next_page_token=token)

    @unary
    async def ListRuntimeInstances(
        self, request: api.ListRuntimeInstancesRequest, context: Context
    ) -> api.ListRuntimeInstancesResponse:
        requests.listing(request, parent="instance_id")
        rows, token = await runtime.list_page(
            self.svc, caller(request, context), request.instance_id,
            request.filter, request.order_by, request.page_size, request.page_token,
        )
        return api.ListRuntimeInstancesResponse(
            runtime_instances=[convert.runtime_instance(r) for r in rows], next_page_token=token
        )

    # Audit

    @unary
    async def ListAuditEvents(self, request: api.ListAuditEventsRequest, context: Context) -> api.ListAuditEventsResponse:
        requests.listing(request)
        rows, token = await audit.list_page(
            self.svc, caller(request, context), request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListAuditEventsResponse(audit_events=[convert.audit_event(r) for r in rows], next_page_token=token)

    @unary
    async def VerifyAuditChain(self, request: api.VerifyAuditChainRequest, context: Context) -> api.VerifyAuditChainResponse:
        requests.organization_only(request)
        check = await audit.verify_chain(self.svc, caller(request, context))
        return api.VerifyAuditChainResponse(
            intact=check.first_broken_id is None,
            checked=check.checked,
            first_broken_id=check.first_broken_id or "",
            detail=check.detail,
        )

    # Progress streams

    @stream
    async def WatchDeployment(
        self, request: api.WatchDeploymentRequest, context: Context
    ) -> AsyncIterator[pb.DeploymentEvent]:
        requests.watch(request, "after_sequence")
        events = watch.deployment_events(self.svc, self.hub, caller(request, context), request.id, request.after_sequence)
        async for event in events:
            yield convert.event(event)

    @stream
    async def WatchInstance(
        self, request: api.WatchInstanceRequest, context: Context
    ) -> AsyncIterator[pb.DeploymentEvent]:
        requests.watch(request, "after_instance_sequence")
        events = watch.instance_events(
            self.svc, self.hub, caller(request, context), request.id, request.after_instance_sequence
        )
        async for event in events:
            yield convert.event(event)
