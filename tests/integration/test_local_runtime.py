"""Runtime instances as real processes (docs/adr/011-local-driver.md): the hello bundle served, reused, adopted, drained.

These run against the local-driver stack (tests/integration/local_stack.py).
Every process a test starts is checked gone by pid and start time before it ends.
"""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    decommission,
    deploy,
    events,
    instance_of,
    publish,
    rollback,
    sql,
    sql_script,
    wait_done,
    wait_until,
)
from tests.integration.local_stack import HOST_ID, LocalStack
from tools.bundle import pack
from workers.drivers import local_processes

R = pb.RuntimeInstance
E = pb.DeploymentEvent
S = pb.Deployment
HELLO = Path(__file__).resolve().parents[2] / "examples" / "bundles" / "hello"


def publish_hello(stub: Stub, org: str, version: str) -> pb.Release:
    return publish(stub, org, version, bundle="hello", artifact_content=pack(HELLO, version))


def runtime(stub: Stub, org: str, instance_id: str, filter: str = "") -> list[pb.RuntimeInstance]:
    request = api.ListRuntimeInstancesRequest(organization_id=org, instance_id=instance_id, filter=filter, page_size=100)
    return list(stub.ListRuntimeInstances(request).runtime_instances)


def answer(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
        text: str = reply.read().decode()
        return text


def processes(local: LocalStack, instance_id: str) -> dict[str, tuple[int, int]]:
    """Runtime instance id → (pid, start time), as the database records them."""
    rows = sql(local.database_url, "SELECT id, pid, pid_start FROM runtime_instances WHERE instance_id = $1::uuid", instance_id)
    return {str(r["id"]): (r["pid"], r["pid_start"]) for r in rows}


def running(pid_and_start: tuple[int, int]) -> bool:
    return local_processes.alive(*pid_and_start)


def hello(stub: Stub, org: str, replicas: int = 2) -> pb.Instance:
    return create_instance(stub, org, name="web", bundle="hello", kind=pb.Instance.KIND_DYNAMIC, replicas=replicas)


def decommission_and_check_nothing_runs(stub: Stub, org: str, local: LocalStack, instance_id: str) -> None:
    assert decommission(stub, org, instance_id).status == S.STATUS_COMPLETED
    wait_until(lambda: not runtime(stub, org, instance_id, "state = HEALTHY"), "the drain after the decommission")
    started = processes(local, instance_id)
    wait_until(lambda: not any(running(p) for p in started.values()), "every process of the instance to stop")


def test_hello_is_served_rolled_back_warm_and_answers_its_version(local_stub: Stub, org: str, local: LocalStack) -> None:
    instance = hello(local_stub, org)
    publish_hello(local_stub, org, "1.0.0")
    first = deploy(local_stub, org, instance.id)
    assert first.status == S.STATUS_COMPLETED, first.error
    v2 = publish_hello(local_stub, org, "2.0.0")
    second = deploy(local_stub, org, instance.id)
    assert second.status == S.STATUS_COMPLETED, second.error
    provisioned = [e.message for e in events(local_stub, org, second.id) if e.type == E.TYPE_PROGRESS]
    assert provisioned[:2] == ["provision: python3 provision.py", "provisioning hello v2.0.0 for web (shop/production)"]

    serving = runtime(local_stub, org, instance.id, f"state = HEALTHY AND release_id = {v2.id}")
    assert len(serving) == 2 and all(r.host == HOST_ID and r.port and r.pid for r in serving)
    for r in serving:
        assert answer(r.port) == f"hello from v2.0.0 (pid {r.pid})\n"
    warm = {r.id: (r.port, r.pid) for r in runtime(local_stub, org, instance.id) if r.version == "1.0.0"}
    assert len(warm) == 2

    back = rollback(local_stub, org, first.id)
    approve(local_stub, org, back.id)
    assert wait_done(local_stub, org, back.id).status == S.STATUS_COMPLETED

    after = runtime(local_stub, org, instance.id, "state = HEALTHY")
    assert {r.id: (r.port, r.pid) for r in after if r.version == "1.0.0"} == warm, "the warm processes answer, none new"
    assert len(runtime(local_stub, org, instance.id)) == 4, "nothing was spawned"
    for port, pid in warm.values():
        assert answer(port) == f"hello from v1.0.0 (pid {pid})\n"
    decommission_and_check_nothing_runs(local_stub, org, local, instance.id)


def test_runtime_instances_outlive_a_killed_worker_and_a_new_one_adopts_them(
    local_stub: Stub, org: str, local: LocalStack
) -> None:
    instance = hello(local_stub, org)
    v1 = publish_hello(local_stub, org, "1.0.0")
    deploy(local_stub, org, instance.id)
    v2 = publish_hello(local_stub, org, "2.0.0")
    assert deploy(local_stub, org, instance.id).status == S.STATUS_COMPLETED
    started = processes(local, instance.id)
    assert len(started) == 4 and all(running(p) for p in started.values())

    local.worker.kill(signal.SIGKILL)
    for r in runtime(local_stub, org, instance.id):
        assert answer(r.port).startswith(f"hello from v{r.version} "), "a dead worker takes nothing down"
    local.start_worker()

    # Health is still checked: a serving process that dies is marked FAILED, with an event of its instance.
    victim = runtime(local_stub, org, instance.id, f"release_id = {v2.id}")[0]
    victim_process = started[victim.id]
    assert running(victim_process)
    local_processes.signal_group(victim.pid, signal.SIGKILL)
    failed = _instance_event(local_stub, org, instance.id, E.TYPE_RUNTIME_FAILED)
    assert victim.id in failed.message and failed.deployment_id == ""
    [marked] = [r for r in runtime(local_stub, org, instance.id) if r.id == victim.id]
    assert marked.state == R.STATE_FAILED

    # Drains still happen: the warm window of v1 ends (here, now), and a drainer that died mid-stop is replaced.
    stuck, due = (r.id for r in runtime(local_stub, org, instance.id, f"release_id = {v1.id}"))
    sql_script(
        local.database_url,
        f"UPDATE runtime_instances SET state = 'DRAINING', update_time = now() - interval '1 hour' WHERE id = '{stuck}'",
        f"UPDATE runtime_instances SET drain_after = now() WHERE id = '{due}'",
    )
    wait_until(lambda: len(runtime(local_stub, org, instance.id, "state = STOPPED")) == 2, "the drain of v1's instances")
    for runtime_id in (stuck, due, victim.id):
        assert not running(started[runtime_id]), f"runtime instance {runtime_id} still runs"
    assert not (local.runtime_folders / stuck).exists()
    assert instance_of(local_stub, org, instance.id).route_generation == 2

    decommission_and_check_nothing_runs(local_stub, org, local, instance.id)
    assert not any(running(p) for p in started.values())


def _instance_event(stub: Stub, org: str, instance_id: str, event_type: int) -> pb.DeploymentEvent:
    request = api.WatchInstanceRequest(organization_id=org, id=instance_id)
    stream = stub.WatchInstance(request, timeout=60)
    try:
        for event in stream:
            if event.type == event_type:
                return event
    except grpc.RpcError as exc:
        raise AssertionError(f"no {E.Type.Name(event_type)} event on the instance: {exc.code()}") from None
    finally:
        stream.cancel()
    raise AssertionError("the instance's stream ended")
