"""What a worker does when a deployment runs (docs/product.md §4): lock, re-check, switch, fail, recover."""

from __future__ import annotations

import signal
from pathlib import Path

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.embedded import EmbeddedValkey, free_port
from tests.auth import as_principal
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    events,
    get,
    propose,
    publish,
    set_params,
    wait_done,
    wait_until,
)
from tests.stack import Stack

S = pb.Deployment
E = pb.DeploymentEvent


def _instance(stub: Stub, org: str, instance_id: str) -> pb.Instance:
    return stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance_id))


def test_driver_failure_fails_the_deployment_and_keeps_the_previous_one_active(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    good = deploy(stub, org, instance.id)
    set_params(stub, org, instance.id, {"rollout.simulate": {"fail": "provision"}})

    bad = deploy(stub, org, instance.id)

    assert (bad.status, bad.error) == (S.STATUS_FAILED, "simulated provision failure")
    last = events(stub, org, bad.id)[-1]
    assert (last.type, last.status, last.message) == (E.TYPE_FAILED, S.STATUS_FAILED, "simulated provision failure")
    live = _instance(stub, org, instance.id)
    assert (live.active_deployment_id, live.route_generation) == (good.id, 1)


def test_artifact_deleted_after_approval_fails_the_run(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    v1 = publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    # A slow deployment holds the instance's lock while v2's artifact disappears.
    set_params(stub, org, instance.id, {"rollout.simulate": {"delay_ms": 1500}})
    blocker = propose(stub, org, instance.id, bundle_release_id=v1.id)
    set_params(stub, org, instance.id, {})
    v2 = publish(stub, org, "1.1.0")
    target = propose(stub, org, instance.id)
    assert target.bundle_release_id == v2.id
    approve(stub, org, blocker.id)
    approve(stub, org, target.id)

    stub.DeleteReleaseArtifact(api.DeleteReleaseArtifactRequest(organization_id=org, id=v2.id))

    assert wait_done(stub, org, blocker.id).status == S.STATUS_COMPLETED
    failed = wait_done(stub, org, target.id)
    assert failed.status == S.STATUS_FAILED
    assert failed.error.startswith("ARTIFACT_GONE")
    assert events(stub, org, target.id)[-1].type == E.TYPE_FAILED
    assert _instance(stub, org, instance.id).active_deployment_id == blocker.id != first.id


def test_one_deployment_runs_per_instance_in_approval_order(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    set_params(stub, org, instance.id, {"rollout.simulate": {"delay_ms": 200}})
    proposals = [propose(stub, org, instance.id) for _ in range(4)]
    for proposal in reversed(proposals):  # approval order differs from creation order
        approve(stub, org, proposal.id)
    approved_order = [p.id for p in reversed(proposals)]
    for proposal in proposals:
        wait_done(stub, org, proposal.id)

    stream = stub.WatchInstance(api.WatchInstanceRequest(organization_id=org, id=instance.id), timeout=30)
    timeline = []
    for event in stream:
        timeline.append(event)
        if len([e for e in timeline if e.type == E.TYPE_COMPLETED]) == len(proposals):
            stream.cancel()
            break

    assert [e.instance_sequence for e in timeline] == list(range(1, len(timeline) + 1))
    running: str | None = None
    started = []
    for event in timeline:
        if event.type == E.TYPE_STARTED:
            assert running is None, f"{event.deployment_id} started while {running} was running"
            running = event.deployment_id
            started.append(event.deployment_id)
        elif event.type in (E.TYPE_COMPLETED, E.TYPE_FAILED):
            assert running == event.deployment_id
            running = None
    assert started == approved_order


def _started(stub: Stub, org: str, deployment_id: str) -> None:
    for event in stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=deployment_id), timeout=30):
        if event.type == E.TYPE_STARTED:
            return
    raise AssertionError("the deployment never started")


def test_a_worker_killed_mid_provision_is_invisible_another_worker_completes_the_run(
    stack: Stack, org: str, org_token: str
) -> None:
    # A stack of its own (own queue) so the job lands on the worker this test kills.
    queue = {"ROLLOUT_QUEUE_NAME": f"rollout:test-kill:{org}"}
    _, address = stack.start_server(**queue)
    victim = stack.start_worker(**queue)
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = create_instance(stub, org)
        publish(stub, org, "1.0.0")
        set_params(stub, org, instance.id, {"rollout.simulate": {"delay_ms": 3_000}})
        interrupted = propose(stub, org, instance.id)
        set_params(stub, org, instance.id, {})
        queued = propose(stub, org, instance.id)
        approve(stub, org, interrupted.id)
        approve(stub, org, queued.id)
        _started(stub, org, interrupted.id)
        assert get(stub, org, interrupted.id).status == S.STATUS_RUNNING
        generation = _instance(stub, org, instance.id).route_generation

        victim.kill(signal.SIGKILL)
        stack.start_worker(**queue)

        resumed = wait_done(stub, org, interrupted.id, timeout=60)
        assert resumed.status == S.STATUS_COMPLETED, resumed.error
        seen = [e.type for e in events(stub, org, interrupted.id)]
        assert seen.count(E.TYPE_STARTED) == 1 and seen.count(E.TYPE_RESUMED) == 1
        assert seen.index(E.TYPE_STARTED) < seen.index(E.TYPE_RESUMED) < seen.index(E.TYPE_SWITCHED)
        assert seen.count(E.TYPE_SWITCHED) == 1 and seen[-1] == E.TYPE_COMPLETED
        assert wait_done(stub, org, queued.id, timeout=60).status == S.STATUS_COMPLETED
        # Each run switched exactly once.
        after = _instance(stub, org, instance.id)
        assert (after.active_deployment_id, after.route_generation) == (queued.id, generation + 2)


def test_an_approved_deployment_whose_job_never_reaches_a_worker_is_run_by_the_sweeper(
    stack: Stack, org: str, org_token: str
) -> None:
    # The server enqueues on a queue no worker reads, as if the enqueue after commit had been lost;
    # the worker's sweeper finds the stalled PENDING deployment in PostgreSQL and runs it.
    _, address = stack.start_server(ROLLOUT_QUEUE_NAME=f"rollout:nobody-listens:{org}")
    stack.start_worker(ROLLOUT_QUEUE_NAME=f"rollout:sweeper:{org}")
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = create_instance(stub, org)
        publish(stub, org, "1.0.0")
        proposal = propose(stub, org, instance.id)
        assert approve(stub, org, proposal.id).status == S.STATUS_PENDING

        assert wait_done(stub, org, proposal.id, timeout=30).status == S.STATUS_COMPLETED


def test_workers_survive_a_redis_outage_and_nothing_approved_meanwhile_is_lost(
    stack: Stack, org: str, org_token: str, tmp_path: Path
) -> None:
    port = free_port()
    redis_server = EmbeddedValkey(tmp_path / "valkey", port=port)
    redis_url = redis_server.start()
    try:
        _, address = stack.start_server(ROLLOUT_REDIS_URL=redis_url)
        worker = stack.start_worker(ROLLOUT_REDIS_URL=redis_url)
        with grpc.insecure_channel(address) as channel:
            stub = as_principal(channel, org_token)
            instance = create_instance(stub, org)
            publish(stub, org, "1.0.0")
            before = deploy(stub, org, instance.id)
            assert before.status == S.STATUS_COMPLETED

            redis_server.stop()
            proposal = propose(stub, org, instance.id)
            # PostgreSQL is up, so the approval is accepted; its job cannot be enqueued now.
            assert approve(stub, org, proposal.id).status == S.STATUS_PENDING
            redis_server = EmbeddedValkey(tmp_path / "valkey", port=port)
            redis_server.start()

            assert wait_done(stub, org, proposal.id, timeout=60).status == S.STATUS_COMPLETED
            assert worker.alive()
    finally:
        redis_server.stop()


def test_a_worker_stops_on_sigterm_while_its_redis_is_down(stack: Stack, tmp_path: Path) -> None:
    redis_server = EmbeddedValkey(tmp_path / "valkey", port=free_port())
    worker = stack.start_worker(ROLLOUT_REDIS_URL=redis_server.start())
    redis_server.stop()
    wait_until(lambda: "Redis unavailable" in worker.log.read_text(errors="replace"), "the worker noticing the outage")
    worker.popen.send_signal(signal.SIGTERM)
    # It ends by itself (code 0), not by the SIGKILL that would follow a hang on Redis.
    assert worker.popen.wait(timeout=14) == 0, worker.log_tail()


def test_an_enqueue_wakes_an_idle_worker_without_waiting_for_its_poll(stack: Stack, org: str, org_token: str) -> None:
    # The worker polls every 10 minutes and its own sweeper never re-enqueues: the run can finish within
    # the watch's minute only because the enqueue woke the worker (and on this worker, not another's).
    queue = {"ROLLOUT_QUEUE_NAME": f"rollout:wake:{org}"}
    _, address = stack.start_server(**queue)
    worker = stack.start_worker(ROLLOUT_POLL_DELAY="600", ROLLOUT_STALL_SECONDS="600", **queue)
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = create_instance(stub, org)
        publish(stub, org, "1.0.0")
        done = deploy(stub, org, instance.id)

        assert done.status == S.STATUS_COMPLETED
        started = [e for e in events(stub, org, done.id) if e.type == pb.DeploymentEvent.TYPE_STARTED]
        assert [e.message.endswith(f"/{worker.popen.pid}") for e in started] == [True], started
