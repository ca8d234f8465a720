"""WatchDeployment / WatchInstance: replay then tail; resuming misses nothing and repeats nothing."""

from __future__ import annotations

import asyncio

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from tests.auth import as_principal, bearer
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    deploy,
    events,
    failure,
    plan,
    propose,
    publish,
    sql,
)
from tests.stack import Stack


def test_resuming_after_every_event_sees_each_exactly_once(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, instance.id)
    full = events(stub, org, done.id)

    for k in range(len(full)):
        assert events(stub, org, done.id, after=k) == full[k:]
    assert full[-1].status == pb.Deployment.STATUS_COMPLETED
    # Resumed after its last event, a finished deployment's watch ends at once (nothing more will happen).
    assert events(stub, org, done.id, after=len(full), timeout=10) == []


def test_live_watch_opened_before_approval_ends_after_the_terminal_event(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    stream = stub.WatchDeployment(api.WatchDeploymentRequest(organization_id=org, id=proposal.id), timeout=30)
    first = next(stream)
    assert (first.sequence, first.type) == (1, pb.DeploymentEvent.TYPE_PROPOSED)

    approve(stub, org, proposal.id)
    rest = list(stream)

    assert [e.sequence for e in rest] == list(range(2, len(rest) + 2))
    assert rest[-1].type == pb.DeploymentEvent.TYPE_COMPLETED


def test_watch_instance_resumes_by_instance_sequence(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first, second = deploy(stub, org, instance.id), deploy(stub, org, instance.id)
    request = api.WatchInstanceRequest(organization_id=org, id=instance.id)
    total = len(events(stub, org, first.id)) + len(events(stub, org, second.id))

    stream = stub.WatchInstance(request, timeout=30)
    seen = [next(stream) for _ in range(total)]
    stream.cancel()

    assert [e.instance_sequence for e in seen] == list(range(1, total + 1))
    assert [e.deployment_id for e in seen] == [first.id] * (total // 2) + [second.id] * (total // 2)
    resumed = stub.WatchInstance(
        api.WatchInstanceRequest(organization_id=org, id=instance.id, after_instance_sequence=total - 2), timeout=30
    )
    assert [next(resumed).instance_sequence for _ in range(2)] == [total - 1, total]
    resumed.cancel()


def test_a_quiet_watch_says_it_is_open_before_any_event(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)  # no deployment: nothing to send for now
    stream = stub.WatchInstance(api.WatchInstanceRequest(organization_id=org, id=instance.id), timeout=20)

    stream.initial_metadata()  # without headers at admission this waits for the deadline

    assert stream.is_active()
    stream.cancel()


def test_watch_of_unknown_deployment_is_not_found(stub: Stub, org: str) -> None:
    f = failure(lambda: events(stub, org, "00000000-0000-4000-8000-000000000000"))
    assert f.code == grpc.StatusCode.NOT_FOUND


def test_resume_after_every_event_of_a_real_rollback(stub: Stub, org: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    publish(stub, org, "1.1.0")
    deploy(stub, org, instance.id)
    back = stub.RollbackDeployment(api.RollbackDeploymentRequest(organization_id=org, id=first.id))
    plan(stub, org, back.id)
    approve(stub, org, back.id)

    seen: list[pb.DeploymentEvent] = []
    while not seen or seen[-1].status != pb.Deployment.STATUS_COMPLETED:
        # Disconnect after every single event and resume from the last sequence seen.
        stream = stub.WatchDeployment(
            api.WatchDeploymentRequest(organization_id=org, id=back.id, after_sequence=seen[-1].sequence if seen else 0),
            timeout=30,
        )
        seen.append(next(stream))
        stream.cancel()

    assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
    assert seen == events(stub, org, back.id)
    assert {pb.DeploymentEvent.TYPE_PLANNED, pb.DeploymentEvent.TYPE_SWITCHED} <= {e.type for e in seen}


def test_watcher_on_another_server_sees_events_of_a_deployment_approved_elsewhere(stub: Stub, org: str, stack: Stack, org_token: str) -> None:
    _, other_address = stack.start_server()
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    with grpc.insecure_channel(other_address) as other:
        watcher = as_principal(other, org_token).WatchDeployment(
            api.WatchDeploymentRequest(organization_id=org, id=proposal.id), timeout=30
        )
        assert next(watcher).type == pb.DeploymentEvent.TYPE_PROPOSED

        approve(stub, org, proposal.id)  # through the session's server; a worker process runs it

        rest = list(watcher)
    assert [e.sequence for e in rest] == list(range(2, len(rest) + 2))
    assert rest[-1].type == pb.DeploymentEvent.TYPE_COMPLETED


def test_500_concurrent_watchers_all_receive_every_event(stub: Stub, org: str, address: str, org_token: str) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)

    async def watch_all() -> list[list[int]]:
        channels = [grpc.aio.insecure_channel(address) for _ in range(5)]
        try:
            calls = [
                api_grpc.RolloutServiceStub(channels[i % 5]).WatchDeployment(
                    api.WatchDeploymentRequest(organization_id=org, id=proposal.id), timeout=60, metadata=bearer(org_token)
                )
                for i in range(500)
            ]
            for call in calls:  # every watcher is connected and has replayed the stored event
                assert (await call.read()).sequence == 1
            await asyncio.to_thread(approve, stub, org, proposal.id)

            async def rest(call: grpc.aio.UnaryStreamCall) -> list[int]:  # type: ignore[type-arg]
                seen = [1]
                while (event := await call.read()) is not grpc.aio.EOF:
                    seen.append(event.sequence)
                return seen

            return await asyncio.gather(*(rest(c) for c in calls))
        finally:
            for channel in channels:
                await channel.close()

    results = asyncio.run(watch_all())

    expected = [e.sequence for e in events(stub, org, proposal.id)]
    assert len(results) == 500 and all(r == expected for r in results)


def test_a_finished_deployment_with_more_events_than_a_page_replays_them_all(
    stub: Stub, org: str, backends: tuple[str, str]
) -> None:
    instance = create_instance(stub, org)
    publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    # 2,500 progress events (more than two pages of stored events), then the terminal one.
    sql(
        backends[0],
        """WITH d AS (UPDATE deployments SET event_seq = event_seq + 2500 WHERE id = $1::uuid RETURNING event_seq),
                i AS (UPDATE instances SET event_seq = event_seq + 2500 WHERE id = $2::uuid RETURNING event_seq)
           INSERT INTO deployment_events (deployment_id, sequence, organization_id, instance_id, instance_sequence,
                                          type, status, message)
           SELECT $1::uuid, d.event_seq - 2500 + g, $3, $2::uuid, i.event_seq - 2500 + g, 'PLANNED', 'PROPOSED', 'p'
           FROM d, i, generate_series(1, 2500) AS g""",
        proposal.id, instance.id, org,
    )
    stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=proposal.id))

    replayed = events(stub, org, proposal.id)

    assert [e.sequence for e in replayed] == list(range(1, 2503))
    assert replayed[-1].type == pb.DeploymentEvent.TYPE_REJECTED
