"""Faults are never failures: killed workers, restarted backends, cancelled calls, racing locks."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from tests.auth import admin_token, as_principal
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    deploy_in_turn,
    events,
    get,
    instance_of,
    propose,
    publish,
    publish_servable,
    set_params,
    sql,
    wait_done,
    wait_until,
)
from tests.stack import Stack

S = pb.Deployment
E = pb.DeploymentEvent
R = pb.RuntimeInstance


def _wait_for(stub: Stub, org: str, deployment_id: str, event_type: int) -> None:
    request = api.WatchDeploymentRequest(organization_id=org, id=deployment_id)
    for event in stub.WatchDeployment(request, timeout=60):
        if event.type == event_type:
            return
    raise AssertionError(f"the deployment ended without a {E.Type.Name(event_type)} event")


def _runtime(stub: Stub, org: str, instance_id: str) -> list[pb.RuntimeInstance]:
    request = api.ListRuntimeInstancesRequest(organization_id=org, instance_id=instance_id, page_size=100)
    return list(stub.ListRuntimeInstances(request).runtime_instances)


def test_a_worker_killed_while_spawning_is_resumed_without_provisioning_or_spawning_twice(
    stack: Stack, org: str, org_token: str
) -> None:
    queue = {"ROLLOUT_QUEUE_NAME": f"rollout:test-spawn-kill:{org}"}
    _, address = stack.start_server(**queue)
    victim = stack.start_worker(**queue)
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        instance = create_instance(stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=2)
        publish_servable(stub, org, "1.0.0")
        set_params(stub, org, instance.id, {"rollout.simulate": {"spawn_delay_ms": 4_000}})
        proposal = propose(stub, org, instance.id)
        approve(stub, org, proposal.id)
        _wait_for(stub, org, proposal.id, E.TYPE_RUNTIME_PROGRESS)

        victim.kill(signal.SIGKILL)
        stack.start_worker(**queue)

        done = wait_done(stub, org, proposal.id, timeout=90)
        assert done.status == S.STATUS_COMPLETED, done.error
        seen = [e.type for e in events(stub, org, proposal.id)]
        assert seen.count(E.TYPE_PROVISIONED) == 1, "the resumed run provisioned again"
        assert seen.count(E.TYPE_RESUMED) == 1
        spawned = [r for r in _runtime(stub, org, instance.id) if r.deployment_id == proposal.id]
        assert [r.state for r in spawned] == [R.STATE_HEALTHY] * 2, "spawns were redone or lost"


def test_a_redis_restart_while_spawning_does_not_fail_the_deployment(
    stack: Stack, org: str, org_token: str, tmp_path: Path
) -> None:
    port = free_port()
    redis_server = EmbeddedValkey(tmp_path / "valkey", port=port)
    redis_url = redis_server.start()
    try:
        settings = {"ROLLOUT_REDIS_URL": redis_url, "ROLLOUT_QUEUE_NAME": f"rollout:test-redis-blip:{org}"}
        _, address = stack.start_server(**settings)
        stack.start_worker(**settings)
        with grpc.insecure_channel(address) as channel:
            stub = as_principal(channel, org_token)
            instance = create_instance(stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=2)
            publish_servable(stub, org, "1.0.0")
            set_params(stub, org, instance.id, {"rollout.simulate": {"spawn_delay_ms": 1_500}})
            proposal = propose(stub, org, instance.id)
            approve(stub, org, proposal.id)
            _wait_for(stub, org, proposal.id, E.TYPE_RUNTIME_PROGRESS)

            redis_server.stop()
            time.sleep(2)  # the outage itself, not a wait for state
            redis_server = EmbeddedValkey(tmp_path / "valkey", port=port)
            redis_server.start()

            done = wait_done(stub, org, proposal.id, timeout=90)
            assert done.status == S.STATUS_COMPLETED, done.error
            spawned = [r for r in _runtime(stub, org, instance.id) if r.deployment_id == proposal.id]
            assert [r.state for r in spawned] == [R.STATE_HEALTHY] * 2
    finally:
        redis_server.stop()


def test_a_health_failing_deployment_records_nothing_after_its_failed_event(
    stub: Stub, org: str, backends: tuple[str, str]
) -> None:
    instance = create_instance(stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=4)
    publish_servable(stub, org, "1.0.0")
    set_params(stub, org, instance.id, {"rollout.simulate": {"fail": "health", "spawn_delay_ms": 200}})
    failed = deploy(stub, org, instance.id)
    assert failed.status == S.STATUS_FAILED
    # Spawns that end after their deployment announce nothing to wait on.
    wait_until(lambda: all(r.state != R.STATE_STARTING for r in _runtime(stub, org, instance.id)), "the spawns' end")

    stored = sql(
        backends[0],
        "SELECT sequence, type, status FROM deployment_events WHERE deployment_id = $1 ORDER BY sequence",
        failed.id,
    )
    assert stored[-1]["type"] == "FAILED", [tuple(r) for r in stored]
    assert [r["status"] for r in stored].count("FAILED") == 1


def test_no_event_is_recorded_after_a_terminal_one(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=proposal.id))
    # What a late writer would do: the event log of a finished deployment takes nothing more.
    rows = sql(
        backends[0],
        """WITH d AS (UPDATE deployments SET event_seq = event_seq + 1 WHERE id = $1 AND NOT events_closed
                      RETURNING event_seq) SELECT count(*) AS open FROM d""",
        proposal.id,
    )
    assert rows[0]["open"] == 0
    assert [e.type for e in events(stub, org, proposal.id)] == [E.TYPE_PROPOSED, E.TYPE_REJECTED]


class _Traffic:
    """Calls and one open WatchInstance against an instance, from threads, counting how each ends."""

    def __init__(self, stub: Stub, org: str, instance_id: str) -> None:
        self.stub, self.org, self.instance_id = stub, org, instance_id
        self.codes: Counter[str] = Counter()
        self.stream_end: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._load) for _ in range(4)] + [threading.Thread(target=self._watch)]

    def _one(self, n: int) -> None:
        if n % 3 == 0:
            propose(self.stub, self.org, self.instance_id, request_id=f"k-{n}")
        elif n % 3 == 1:
            instance_of(self.stub, self.org, self.instance_id)
        else:
            request = api.ListDeploymentsRequest(organization_id=self.org, instance_id=self.instance_id)
            self.stub.ListDeployments(request, timeout=5)

    def _load(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                self._one(n)
                self.codes["OK"] += 1
            except grpc.RpcError as exc:
                self.codes[exc.code().name] += 1
                time.sleep(0.02)

    def _watch(self) -> None:
        try:
            for _ in self.stub.WatchInstance(api.WatchInstanceRequest(organization_id=self.org, id=self.instance_id), timeout=60):
                pass
            self.stream_end.append("OK")
        except grpc.RpcError as exc:
            self.stream_end.append(exc.code().name)

    def wait_for_ok(self, calls: int) -> None:
        target = self.codes["OK"] + calls
        wait_until(lambda: self.codes["OK"] >= target, f"recovery after the restart ({self.codes})")

    def __enter__(self) -> _Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def _restart_immediately(pg: EmbeddedPostgres, data: Path, port: int) -> EmbeddedPostgres:
    assert pg.pid is not None
    os.kill(pg.pid, signal.SIGQUIT)  # immediate shutdown: connections are cut mid-call
    pg.stop()
    time.sleep(1)  # the outage itself, not a wait for state
    restarted = EmbeddedPostgres(data, port=port, durable=False)
    restarted.start()
    return restarted


def test_a_postgres_restart_answers_unavailable_and_never_internal(
    stack: Stack, org: str, tmp_path: Path
) -> None:
    port = free_port()
    pg = EmbeddedPostgres(tmp_path / "pg", port=port, durable=False)
    url = pg.start()
    try:
        stack.migrate(ROLLOUT_DATABASE_URL=url)
        token = admin_token(url, org)
        server, address = stack.start_server(ROLLOUT_DATABASE_URL=url)
        with grpc.insecure_channel(address) as channel:
            stub = as_principal(channel, token)
            instance = create_instance(stub, org)
            publish(stub, org, "1.0.0")
            with _Traffic(stub, org, instance.id) as traffic:
                time.sleep(0.5)  # traffic under way
                pg = _restart_immediately(pg, tmp_path / "pg", port)
                traffic.wait_for_ok(20)
        server.stop()
        # An open watch ends with UNAVAILABLE when its events cannot be read, so the client resumes.
        assert traffic.stream_end == ["UNAVAILABLE"], traffic.stream_end
        assert traffic.codes["UNAVAILABLE"] > 0, traffic.codes
        assert set(traffic.codes) <= {"OK", "UNAVAILABLE"}, traffic.codes
    finally:
        pg.stop()


def test_conflicting_operations_never_deadlock(stub: Stub, org: str, postgres: EmbeddedPostgres) -> None:
    log_start = postgres.log_file.stat().st_size
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    deploy(stub, org, instance.id)
    rng = random.Random(7)
    approved = []

    def plan(deployment_id: str) -> None:
        stub.PlanDeployment(api.PlanDeploymentRequest(organization_id=org, id=deployment_id))

    def reject(deployment_id: str) -> None:
        stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=deployment_id))

    with ThreadPoolExecutor(8) as pool:
        for _ in range(12):
            proposals = [propose(stub, org, instance.id).id for _ in range(6)]
            list(pool.map(plan, proposals))
            first, *rest = proposals
            approved.append(first)
            jobs = [pool.submit(approve, stub, org, first)]
            for deployment_id in rest:
                jobs.append(pool.submit(rng.choice([plan, reject, plan]), deployment_id))
            for job in jobs:
                try:
                    job.result()
                except grpc.RpcError as exc:
                    # A proposal rejected before its plan job ran: refused, and nothing else.
                    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc
    for deployment_id in approved:
        assert wait_done(stub, org, deployment_id).status == S.STATUS_COMPLETED
    with postgres.log_file.open("rb") as log:
        log.seek(log_start)
        assert b"deadlock detected" not in log.read()


def test_cancelled_calls_leave_no_half_used_connection(
    stub: Stub, org: str, stack: Stack, backends: tuple[str, str]
) -> None:
    instance = create_instance(stub, org)
    # Roll back to a deployment that is not the active one, so a rollback the deadline does not cut is accepted.
    source, _active = deploy_in_turn(stub, org, instance.id, ["1.0.0", "1.0.1"])
    rng = random.Random(11)

    def one(n: int, timeout: float) -> None:
        if n % 3 == 0:
            stub.ProposeDeployment(api.ProposeDeploymentRequest(organization_id=org, instance_id=instance.id), timeout=timeout)
        elif n % 3 == 1:
            request = api.RollbackDeploymentRequest(organization_id=org, id=source.id, request_id=f"r-{n}")
            stub.RollbackDeployment(request, timeout=timeout)
        else:
            stub.GetInstance(api.GetInstanceRequest(organization_id=org, id=instance.id), timeout=timeout)

    for n in range(150):
        try:
            # Deadlines short enough to cut calls inside their transaction on the server.
            one(n, rng.uniform(0.0005, 0.01))
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED), exc
    # Every pooled connection is clean: a burst of normal calls all succeed.
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: propose(stub, org, instance.id).status, range(40)))
    assert results == [S.STATUS_PROPOSED] * 40
    half_done = sql(
        backends[0],
        """SELECT count(*) AS n FROM deployments d WHERE d.organization_id = $1
           AND NOT EXISTS (SELECT 1 FROM deployment_events e WHERE e.deployment_id = d.id)""",
        org,
    )
    assert half_done[0]["n"] == 0
    for process in stack.processes:
        text = process.log.read_text(errors="replace")
        assert "another operation is in progress" not in text, process.log
        assert "cannot switch to state" not in text, process.log


def test_a_run_whose_workers_keep_dying_fails_once_its_attempts_are_used_up(
    stack: Stack, org: str, tmp_path: Path
) -> None:
    # A PostgreSQL of its own: every worker that shares a database may take a run over, and the
    # session's workers allow more attempts.
    with EmbeddedPostgres(tmp_path / "pg", durable=False) as pg:
        stack.migrate(ROLLOUT_DATABASE_URL=pg.url)
        token = admin_token(pg.url, org)
        settings = {
            "ROLLOUT_DATABASE_URL": pg.url,
            "ROLLOUT_MAX_ATTEMPTS": "1",
            "ROLLOUT_QUEUE_NAME": f"rollout:test-attempts:{org}",
        }
        server, address = stack.start_server(**settings)
        victim = stack.start_worker(**settings)
        with grpc.insecure_channel(address) as channel:
            stub = as_principal(channel, token)
            instance = create_instance(stub, org)
            publish(stub, org, "1.0.0")
            set_params(stub, org, instance.id, {"rollout.simulate": {"delay_ms": 60_000}})
            proposal = propose(stub, org, instance.id)
            approve(stub, org, proposal.id)
            _wait_for(stub, org, proposal.id, E.TYPE_STARTED)
            victim.kill(signal.SIGKILL)
            replacement = stack.start_worker(**settings)
            done = wait_done(stub, org, proposal.id, timeout=60)
            assert done.status == S.STATUS_FAILED
            assert "ROLLOUT_MAX_ATTEMPTS=1" in done.error
            assert get(stub, org, proposal.id).error == done.error
            replacement.stop()
            server.stop()
