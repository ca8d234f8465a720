"""Health follows the backends; SIGTERM ends streams with UNAVAILABLE and exits cleanly."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rollout.v1 import rollout_service_pb2 as api
from server.embedded import EmbeddedValkey, free_port
from tests.auth import as_principal
from tests.integration.helpers import create_instance, failure, propose, publish
from tests.stack import Stack

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_is_not_serving_while_redis_is_down(stack: Stack, tmp_path: Path) -> None:
    with EmbeddedValkey() as own_redis:
        _, address = stack.start_server(ROLLOUT_REDIS_URL=own_redis.url)
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=30)
            assert next(watch).status == SERVING
            assert statuses(health) == {"": SERVING, "rollout.v1.RolloutService": SERVING}

            own_redis.stop()

            assert next(watch).status == NOT_SERVING
            assert statuses(health) == {"": NOT_SERVING, "rollout.v1.RolloutService": NOT_SERVING}
            watch.cancel()


def statuses(health: health_pb2_grpc.HealthStub) -> dict[str, int]:
    return {name: s.status for name, s in health.List(health_pb2.HealthListRequest(), timeout=10).statuses.items()}


def test_health_check_and_list(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    assert statuses(health) == {"": SERVING, "rollout.v1.RolloutService": SERVING}
    assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status == SERVING
    f = failure(lambda: health.Check(health_pb2.HealthCheckRequest(service="x" * 100_000), timeout=10))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_sigterm_ends_watch_streams_with_unavailable(stack: Stack, org: str, org_token: str) -> None:
    server, address = stack.start_server()
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = create_instance(stub, org)
        publish(stub, org, "1.0.0")
        proposal = propose(stub, org, instance.id)  # never approved: the watch stays open
        stream = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=proposal.id), timeout=30)
        assert next(stream).sequence == 1

        server.popen.send_signal(signal.SIGTERM)

        try:
            next(stream)
            raise AssertionError("the stream should have ended")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
        assert server.popen.wait(timeout=20) == 0


def test_database_down_means_not_serving_and_unavailable(stack: Stack, org: str, org_token: str) -> None:
    dead = f"postgresql+asyncpg://rollout@127.0.0.1:{free_port()}/rollout"
    server, address = stack.start_server(wait=False, ROLLOUT_DATABASE_URL=dead)
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=30)
        assert next(watch).status in (NOT_SERVING, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        watch.cancel()
        stub = as_principal(channel, org_token)

        f = failure(lambda: stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=str(uuid.uuid4()))))

        assert (f.code, f.reason) == (grpc.StatusCode.UNAVAILABLE, "BACKEND_UNAVAILABLE")
    assert server.alive()
