"""RolloutService: validate the request, call one use case, convert the result.

Status codes are never chosen here: errors go through server/api/errors.py.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.api import convert, requests
from server.api.errors import to_status
from server.api.handlers import Malformed
from server.app import deployments, instances, releases, runtime, watch
from server.app.context import Caller, Services
from server.app.event_hub import EventHub
from server.domain.errors import NotImplementedYet, invalid

Response = TypeVar("Response")
Context = grpc.aio.ServicerContext[Any, Any]
Handler = Callable[[Any, Any, Context], Awaitable[Response]]

IDEMPOTENCY_HEADER = "idempotency-key"
ATTRIBUTION_HEADER = "x-attribution"
MAX_ATTRIBUTION = 512


def unary(handler: Handler[Response]) -> Handler[Response]:
    """Turns every exception of a unary handler into a rich status (never UNKNOWN)."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: Context) -> Response:
        try:
            refuse_malformed(request)
            return await handler(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await context.abort_with_status(to_status(exc))
            raise  # unreachable: abort_with_status raises

    return wrapper


def stream(handler: Callable[..., AsyncIterator[Response]]) -> Callable[..., AsyncIterator[Response]]:
    """The same for a server-streaming handler."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: Context) -> AsyncIterator[Response]:
        try:
            refuse_malformed(request)
            async for message in handler(self, request, context):
                yield message
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await context.abort_with_status(to_status(exc))

    return wrapper


def refuse_malformed(request: object) -> None:
    if isinstance(request, Malformed):
        raise invalid("request", f"is not a valid {request.type_name} message")


def caller(request: Any, context: Context) -> Caller:
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    request_id = getattr(request, "request_id", "") or metadata.get(IDEMPOTENCY_HEADER, "")
    return Caller(
        organization_id=request.organization_id,
        request_id=request_id,
        attribution=metadata.get(ATTRIBUTION_HEADER, "")[:MAX_ATTRIBUTION],
    )


class RolloutServicer(api_grpc.RolloutServiceServicer):
    def __init__(self, services: Services, hub: EventHub) -> None:
        self.svc = services
        self.hub = hub

    # Instances

    @unary
    async def CreateInstance(self, request: api.CreateInstanceRequest, context: Context) -> pb.Instance:
        fields = requests.create_instance(request)
        return convert.instance(await instances.create(self.svc, caller(request, context), fields))

    @unary
    async def GetInstance(self, request: api.GetInstanceRequest, context: Context) -> pb.Instance:
        requests.named(request)
        return convert.instance(await instances.get(self.svc, caller(request, context), request.id))

    @unary
    async def ListInstances(
        self, request: api.ListInstancesRequest, context: Context
    ) -> api.ListInstancesResponse:
        requests.listing(request)
        rows, token = await instances.list_page(
            self.svc, caller(request, context), request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListInstancesResponse(instances=[convert.instance(i) for i in rows], next_page_token=token)

    @unary
    async def UpdateInstance(self, request: api.UpdateInstanceRequest, context: Context) -> pb.Instance:
        changes = requests.update_instance(request)
        return convert.instance(await instances.update(self.svc, caller(request, context), request.id, changes))

    @unary
    async def SetInstanceSecrets(
        self, request: api.SetInstanceSecretsRequest, context: Context
    ) -> pb.Instance:
        secrets, remove = requests.set_secrets(request)
        return convert.instance(
            await instances.set_secrets(self.svc, caller(request, context), request.id, secrets, remove)
        )

    # Releases

    @unary
    async def PublishRelease(self, request: api.PublishReleaseRequest, context: Context) -> pb.Release:
        fields, content = requests.publish_release(request)
        return convert.release(await releases.publish(self.svc, caller(request, context), fields, content))

    @unary
    async def GetRelease(self, request: api.GetReleaseRequest, context: Context) -> pb.Release:
        requests.named(request)
        return convert.release(await releases.get(self.svc, caller(request, context), request.id))

    @unary
    async def ListReleases(
        self, request: api.ListReleasesRequest, context: Context
    ) -> api.ListReleasesResponse:
        requests.listing(request)
        rows, token = await releases.list_page(
            self.svc, caller(request, context), request.filter, request.order_by, request.page_size, request.page_token
        )
        return api.ListReleasesResponse(releases=[convert.release(r) for r in rows], next_page_token=token)

    @unary
    async def ArchiveRelease(self, request: api.ArchiveReleaseRequest, context: Context) -> pb.Release:
        requests.named(request)
        return convert.release(await releases.archive(self.svc, caller(request, context), request.id))

    @unary
    async def DeleteReleaseArtifact(
        self, request: api.DeleteReleaseArtifactRequest, context: Context
    ) -> pb.Release:
        requests.named(request)
        return convert.release(await releases.delete_artifact(self.svc, caller(request, context), request.id))

    # Deployments

    @unary
    async def ProposeDeployment(
        self, request: api.ProposeDeploymentRequest, context: Context
    ) -> pb.Deployment:
        requests.propose(request)
        return convert.deployment(
            await deployments.propose(
                self.svc, caller(request, context), request.instance_id, request.bundle_release_id, request.message
            )
        )

    @unary
    async def DecommissionInstance(
        self, request: api.DecommissionInstanceRequest, context: Context
    ) -> pb.Deployment:
        requests.with_text(request, "message")
        return convert.deployment(
            await deployments.decommission(self.svc, caller(request, context), request.id, request.message)
        )

    @unary
    async def ApproveDeployment(
        self, request: api.ApproveDeploymentRequest, context: Context
    ) -> pb.Deployment:
        requests.named(request)
        return convert.deployment(await deployments.approve(self.svc, caller(request, context), request.id))

    @unary
    async def RejectDeployment(
        self, request: api.RejectDeploymentRequest, context: Context
    ) -> pb.Deployment:
        requests.with_text(request, "reason")
        return convert.deployment(
            await deployments.reject(self.svc, caller(request, context), request.id, request.reason)
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
            self.svc,
            caller(request, context),
            request.instance_id,
            request.filter,
            request.order_by,
            request.page_size,
            request.page_token,
        )
        return api.ListDeploymentsResponse(deployments=[convert.deployment(d) for d in rows], next_page_token=token)

    @unary
    async def RollbackDeployment(self, request: api.RollbackDeploymentRequest, context: Context) -> pb.Deployment:
        requests.named(request)
        return convert.deployment(await deployments.rollback(self.svc, caller(request, context), request.id))

    @unary
    async def PlanDeployment(self, request: api.PlanDeploymentRequest, context: Context) -> pb.Deployment:
        requests.named(request)
        return convert.deployment(await deployments.request_plan(self.svc, caller(request, context), request.id))

    @unary
    async def ListRuntimeInstances(
        self, request: api.ListRuntimeInstancesRequest, context: Context
    ) -> api.ListRuntimeInstancesResponse:
        requests.listing(request, parent="instance_id")
        rows, token = await runtime.list_page(
            self.svc,
            caller(request, context),
            request.instance_id,
            request.filter,
            request.order_by,
            request.page_size,
            request.page_token,
        )
        return api.ListRuntimeInstancesResponse(
            runtime_instances=[convert.runtime_instance(r) for r in rows], next_page_token=token
        )

    @unary
    async def ListAuditEvents(
        self, request: api.ListAuditEventsRequest, context: Context
    ) -> api.ListAuditEventsResponse:
        raise NotImplementedYet("ListAuditEvents is not implemented yet")

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
