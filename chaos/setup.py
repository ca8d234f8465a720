"""Before the load: an admin per organization, the first releases, and the key storm's instance."""

from __future__ import annotations

import asyncio

from chaos.calls import Caller
from chaos.load import BUNDLE
from chaos.watch import Seen, watch_deployment
from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.first_admin import create_admin
from server.store.db import create_engine
from tools.bundle import minimal

RELEASES = ("1.0.0", "1.1.0")


def admin_tokens(database_url: str, organizations: list[str]) -> dict[str, str]:
    """A token of each organization's `admin` (bootstrapped as `make run` does)."""

    async def run() -> dict[str, str]:
        engine = create_engine(database_url, 1)
        try:
            return {org: await create_admin(engine, org) for org in organizations}
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def prepare(callers: dict[str, Caller]) -> str:
    """Publish the first releases in every organization; in the first, an instance of the key storm
    with two COMPLETED deployments (v1.0.0, v1.1.0). Returns the earlier one: the storm's rollback source."""
    releases: dict[str, list[str]] = {}
    for org, caller in callers.items():
        for version in RELEASES:
            answer = await caller.call("PublishRelease", api.PublishReleaseRequest(
                organization_id=org, request_id=f"chaos-setup-{version}",
                release=pb.Release(bundle=BUNDLE, version=version), artifact_content=minimal(version)))
            _require(answer.ok, f"PublishRelease {version}: {answer.code.name} {answer.details}")
            releases.setdefault(org, []).append(answer.response.id)
    org, caller = next(iter(callers.items()))
    created = await caller.call("CreateInstance", api.CreateInstanceRequest(
        organization_id=org, request_id="chaos-setup-storm", instance=pb.Instance(
            name="storm", project="chaos", environment="production", bundle=BUNDLE,
            kind=pb.Instance.KIND_STATIC, version_constraint="^1")))
    _require(created.ok, f"CreateInstance: {created.code.name} {created.details}")
    deployed = [await _deploy(caller, org, created.response.id, release_id) for release_id in releases[org]]
    return deployed[0]


async def _deploy(caller: Caller, org: str, instance_id: str, release_id: str) -> str:
    proposal = await caller.call("ProposeDeployment", api.ProposeDeploymentRequest(
        organization_id=org, instance_id=instance_id, bundle_release_id=release_id,
        request_id=f"chaos-setup-propose-{release_id}"))
    _require(proposal.ok, f"ProposeDeployment: {proposal.code.name} {proposal.details}")
    deployment_id: str = proposal.response.id
    approved = await caller.call("ApproveDeployment", api.ApproveDeploymentRequest(
        organization_id=org, id=deployment_id, request_id=f"chaos-setup-approve-{release_id}"))
    _require(approved.ok, f"ApproveDeployment: {approved.code.name} {approved.details}")
    seen = Seen("deployment", deployment_id)
    await watch_deployment(caller, org, deployment_id, seen, 60)
    final = await caller.call("GetDeployment", api.GetDeploymentRequest(organization_id=org, id=deployment_id))
    _require(final.ok and final.response.status == pb.Deployment.STATUS_COMPLETED,
             f"the storm's deployment {deployment_id} did not complete: {final.response}")
    return deployment_id


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"setup: {message}")
