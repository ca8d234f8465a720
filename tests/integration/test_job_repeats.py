"""arq may run a job more than once: running the provision job again changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.app.context import Services
from server.config import Settings
from tests.integration.helpers import Stub, create_instance, deploy, events, publish
from tests.stack import Stack
from workers.drivers.simulated import SimulatedDriver
from workers.provision import provision_deployment


async def run_job_again(settings: Settings, deployment_id: str) -> None:
    services = await Services.open(settings)
    ctx: dict[str, Any] = {
        "services": services,
        "settings": settings,
        "driver": SimulatedDriver(),
        "worker_id": "test-repeat",
        "worker_name": "test/repeat",
    }
    try:
        await provision_deployment(ctx, deployment_id)
        await provision_deployment(ctx, deployment_id)
    finally:
        await services.close()


def test_repeated_provision_job_is_a_no_op(stub: Stub, org: str, stack: Stack, address: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    before_events = events(stub, org, done.id)
    before = stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id))

    asyncio.run(run_job_again(Settings.from_env(stack.env()), done.id))

    assert events(stub, org, done.id) == before_events
    after = stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id))
    assert (after.active_deployment_id, after.route_generation) == (done.id, before.route_generation)
    assert stub.GetDeployment(api.GetDeploymentRequest(organization_id=org, id=done.id)).status == pb.Deployment.STATUS_COMPLETED
