"""Factories and assertions shared by the integration tests."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import grpc
from google.protobuf import field_mask_pb2, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from server.store.db import asyncpg_dsn
from tools.bundle import minimal

Stub = api_grpc.RolloutServiceStub
TRAILER_LIMIT = 8 * 1024  # grpcio's default soft limit on received metadata
TERMINAL = {pb.Deployment.STATUS_COMPLETED, pb.Deployment.STATUS_FAILED, pb.Deployment.STATUS_REJECTED}


@dataclass
class Failure:
    code: grpc.StatusCode
    message: str
    reason: str
    violations: dict[str, str]


def failure(call: Callable[[], Any]) -> Failure:
    """Run a call that must fail; return its code, ErrorInfo reason and field violations."""
    try:
        call()
    except grpc.RpcError as exc:
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
        reason, violations = "", {}
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                assert info.domain == "rollout.dev"
                reason = info.reason
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = {v.field: v.description for v in bad.field_violations}
        return Failure(exc.code(), exc.details() or "", reason, violations)
    raise AssertionError("the call succeeded but was expected to fail")


def trailer_bytes(exc: grpc.RpcError) -> int:
    """What the trailers of a failed call cost on the wire: grpc-message percent-encoded, binary values
    in base64 (how grpcio counts them against its limit)."""
    size = len("grpc-status") + 2 + len("grpc-message") + len(quote(exc.details() or "", safe=" !#$&'()*+,/:;=?@[]~"))
    for key, value in exc.trailing_metadata() or ():  # type: ignore[attr-defined]
        size += len(key) + len(base64.b64encode(value) if isinstance(value, bytes) else value)
    return size


def create_instance(stub: Stub, org: str, **fields: Any) -> pb.Instance:
    instance = pb.Instance(
        name=fields.pop("name", "web"),
        project=fields.pop("project", "shop"),
        environment=fields.pop("environment", "production"),
        bundle=fields.pop("bundle", "web"),
        kind=fields.pop("kind", pb.Instance.KIND_STATIC),
        **fields,
    )
    return stub.CreateInstance(api.CreateInstanceRequest(organization_id=org, instance=instance))


def publish(stub: Stub, org: str, version: str, bundle: str = "web", **fields: Any) -> pb.Release:
    content = fields.pop("artifact_content", b"artifact-" + version.encode())
    if "artifact_uri" in fields:
        content = b""
    return stub.PublishRelease(
        api.PublishReleaseRequest(
            organization_id=org,
            release=pb.Release(bundle=bundle, version=version, **fields),
            artifact_content=content,
        )
    )


def publish_servable(stub: Stub, org: str, version: str, bundle: str = "web", **fields: Any) -> pb.Release:
    """A release a DYNAMIC instance can run: a bundle with a `[serve]` step (tools/bundle.py's smallest)."""
    return publish(stub, org, version, bundle, artifact_content=minimal(version), **fields)


def upload(stub: Stub, org: str, version: str, content: bytes, chunk: int = 64 * 1024, **fields: Any) -> pb.Release:
    """UploadRelease: the release and the sha256 first, then the content in chunks."""
    bundle = fields.pop("bundle", "web")
    sha256 = fields.pop("sha256", hashlib.sha256(content).hexdigest())
    first = api.UploadReleaseRequest(
        organization_id=org, release=pb.Release(bundle=bundle, version=version, **fields), sha256=sha256,
        request_id=fields.pop("request_id", ""),
    )
    rest = [api.UploadReleaseRequest(content=content[i : i + chunk]) for i in range(0, len(content), chunk)]
    return stub.UploadRelease(iter([first, *rest]))


def propose(stub: Stub, org: str, instance_id: str, **fields: Any) -> pb.Deployment:
    return stub.ProposeDeployment(api.ProposeDeploymentRequest(organization_id=org, instance_id=instance_id, **fields))


def approve(stub: Stub, org: str, deployment_id: str) -> pb.Deployment:
    return stub.ApproveDeployment(api.ApproveDeploymentRequest(organization_id=org, id=deployment_id))


def get(stub: Stub, org: str, deployment_id: str) -> pb.Deployment:
    return stub.GetDeployment(api.GetDeploymentRequest(organization_id=org, id=deployment_id))


def events(stub: Stub, org: str, deployment_id: str, after: int = 0, timeout: float = 60) -> list[pb.DeploymentEvent]:
    """Every event of the deployment after `after`, until its terminal one (waits on the stream).

    Like any client, it resumes from the last sequence it saw when the server says it fell behind
    (WATCH_FELL_BEHIND: a chatty command's output came faster than this stream was read)."""
    seen: list[pb.DeploymentEvent] = []
    deadline = time.monotonic() + timeout
    while True:
        start = seen[-1].sequence if seen else after
        request = api.WatchDeploymentRequest(organization_id=org, id=deployment_id, after_sequence=start)
        try:
            for event in stub.WatchDeployment(request, timeout=max(1.0, deadline - time.monotonic())):
                seen.append(event)
            return seen
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or _reason(exc) != "WATCH_FELL_BEHIND":
                raise


def _reason(exc: grpc.RpcError) -> str:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


def wait_done(stub: Stub, org: str, deployment_id: str, timeout: float = 60) -> pb.Deployment:
    seen = events(stub, org, deployment_id, timeout=timeout)
    assert seen and seen[-1].status in TERMINAL, seen
    return get(stub, org, deployment_id)


def deploy(stub: Stub, org: str, instance_id: str, **fields: Any) -> pb.Deployment:
    """Propose, approve and wait: the deployment as it ended."""
    proposal = propose(stub, org, instance_id, **fields)
    approve(stub, org, proposal.id)
    return wait_done(stub, org, proposal.id)


def deploy_in_turn(
    stub: Stub,
    org: str,
    instance_id: str,
    versions: list[str],
    publish_release: Callable[[Stub, str, str], pb.Release] = publish,
) -> list[pb.Deployment]:
    """For each version in turn: publish it, then deploy it (the newest release); the deployments as they ended.
    The history a rollback test starts from."""
    done = []
    for version in versions:
        publish_release(stub, org, version)
        done.append(deploy(stub, org, instance_id))
    return done


def decommission(stub: Stub, org: str, instance_id: str) -> pb.Deployment:
    """DecommissionInstance, approved, and waited for: the deployment as it ended."""
    proposal = stub.DecommissionInstance(api.DecommissionInstanceRequest(organization_id=org, id=instance_id))
    approve(stub, org, proposal.id)
    return wait_done(stub, org, proposal.id)


def set_params(stub: Stub, org: str, instance_id: str, params: dict[str, Any]) -> pb.Instance:
    value = struct_pb2.Struct()
    value.update(params)
    return stub.UpdateInstance(
        api.UpdateInstanceRequest(
            organization_id=org,
            id=instance_id,
            instance=pb.Instance(params=value),
            update_mask=field_mask_pb2.FieldMask(paths=["params"]),
        )
    )


def rollback(stub: Stub, org: str, source_id: str) -> pb.Deployment:
    return stub.RollbackDeployment(api.RollbackDeploymentRequest(organization_id=org, id=source_id))


def instance_of(stub: Stub, org: str, instance_id: str) -> pb.Instance:
    return stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance_id))


def plan(stub: Stub, org: str, deployment_id: str, nth: int = 1) -> pb.Deployment:
    """Request a plan and wait for the deployment's `nth` PLANNED event; the deployment with its plan."""
    stub.PlanDeployment(api.PlanDeploymentRequest(organization_id=org, id=deployment_id))
    stream = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=deployment_id), timeout=30)
    planned = 0
    for event in stream:
        planned += event.type == pb.DeploymentEvent.TYPE_PLANNED
        if planned == nth:
            stream.cancel()
            break
    return get(stub, org, deployment_id)


def sql(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of one query, straight from PostgreSQL: for checking what the API does not show."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def sql_script(database_url: str, *statements: str) -> None:
    """Statements run in one session, in order (e.g. a SET and what it allows)."""

    async def run() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def sql_value(database_url: str, query: str, *args: Any) -> Any:
    """The first column of the first row of one query (None if there is none)."""
    rows = sql(database_url, query, *args)
    return rows[0][0] if rows else None


def wait_until(done: Callable[[], bool], what: str, timeout: float = 30, every: float = 0.1) -> None:
    """Poll `done` until it holds, for state that no event announces (a sweep, a drain); bounded."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f}s"
        time.sleep(every)
