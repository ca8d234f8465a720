"""Generated requests for every RPC: never UNKNOWN or INTERNAL, small trailers, no partial rows (docs/product.md §8).

Requests are built from each method's descriptor (tests/integration/fuzzing.py)
and sent as bytes through the session's real server, as the test organization's
admin and without credentials; raw and mangled bytes go to every method of
RolloutService, health and reflection. Examples are derandomized
(tests/conftest.py) and few per RPC, so the file stays well under a minute.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.store.db import asyncpg_dsn
from tests.auth import bearer
from tests.integration.fuzzing import Pool, request
from tests.integration.helpers import TRAILER_LIMIT, Stub, create_instance, propose, publish, trailer_bytes

SERVICE = api.DESCRIPTOR.services_by_name["RolloutService"]
SERVICES = [
    SERVICE,
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
]
BROKEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
# Answers after which the call may or may not have committed: no claim about rows.
UNDECIDED = {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}
# An open stream with nothing to send yet is fine; waiting longer would only make the file slower.
STREAM_WAIT = 1.0


def fuzz(examples: int) -> settings:
    """`examples` per test (times ROLLOUT_FUZZ_SCALE, for a deeper run by hand).

    The fixtures (organization, token, seeded rows) are the same for every example of one test on
    purpose: the row counts compare within that organization."""
    return settings(
        max_examples=examples * int(os.environ.get("ROLLOUT_FUZZ_SCALE", "1")),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )

# Rows that only the server writes, in the server's own transactions (workers add events, runtime
# instances, quarantines and audit records in the background; refused mutations add an audit record
# and remember their idempotency key by design).
COUNTS = """
SELECT (SELECT count(*) FROM instances WHERE organization_id = $1) AS instances,
       (SELECT count(*) FROM releases WHERE organization_id = $1) AS releases,
       (SELECT count(*) FROM deployments WHERE organization_id = $1) AS deployments,
       (SELECT count(*) FROM principals WHERE organization_id = $1) AS principals,
       (SELECT count(*) FROM tokens WHERE organization_id = $1) AS tokens,
       (SELECT count(*) FROM policies WHERE organization_id = $1) AS policies,
       (SELECT count(*) FROM approval_rules WHERE organization_id = $1) AS approval_rules,
       (SELECT count(*) FROM instance_secrets s JOIN instances i ON i.id = s.instance_id
         WHERE i.organization_id = $1) AS secrets,
       (SELECT count(*) FROM approvals a JOIN deployments d ON d.id = a.deployment_id
         WHERE d.organization_id = $1) AS approvals
"""


@pytest.fixture()
def rows(backends: tuple[str, str], org: str) -> Iterator[Callable[[], dict[str, int]]]:
    """Row counts of the test organization, on one connection kept for the test."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(asyncpg_dsn(backends[0])))
    try:
        yield lambda: dict(loop.run_until_complete(conn.fetchrow(COUNTS, org)))
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


@pytest.fixture()
def pool(stub: Stub, org: str) -> Pool:
    """An organization with something in it, so generated requests name rows that exist."""
    instance = create_instance(stub, org)
    dynamic = create_instance(stub, org, name="api", kind=pb.Instance.KIND_DYNAMIC, replicas=1)
    release = publish(stub, org, "1.0.0")
    proposal = propose(stub, org, instance.id)
    admin = stub.ListPrincipals(api.ListPrincipalsRequest(organization_id=org)).principals[0]
    ids = {"instance": (instance.id, dynamic.id), "release": (release.id,), "deployment": (proposal.id,), "principal": (admin.id,)}
    return Pool(org, ids)


def outcome(channel: grpc.Channel, service: Any, method: Any, payload: bytes, metadata: Any) -> tuple[grpc.StatusCode, int]:
    """Send `payload` as the request bytes of `method`; its code, and the size of its trailers."""
    path = f"/{service.full_name}/{method.name}"
    try:
        if method.client_streaming:
            stream: Any = channel.stream_stream(path)(iter([payload]), metadata=metadata, timeout=STREAM_WAIT * 10)
            next(stream, None)
            stream.cancel()
        elif method.server_streaming:
            stream = channel.unary_stream(path)(payload, metadata=metadata, timeout=STREAM_WAIT)
            next(stream, None)
            stream.cancel()
        else:
            channel.unary_unary(path)(payload, metadata=metadata, timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), trailer_bytes(exc)
    return grpc.StatusCode.OK, 0


def check(
    channel: grpc.Channel, service: Any, method: Any, payload: bytes, token: str, rows: Callable[[], dict[str, int]]
) -> None:
    before = rows()
    code, size = outcome(channel, service, method, payload, bearer(token))
    assert code not in BROKEN, (method.name, code, payload[:200])
    assert size < TRAILER_LIMIT - 1024, (method.name, size)
    if code not in UNDECIDED:
        assert rows() == before, (method.name, code, payload[:200])

    code, size = outcome(channel, service, method, payload, ())
    assert code not in BROKEN, (method.name, code, payload[:200])
    assert size < TRAILER_LIMIT - 1024
    if service is SERVICE:
        refused = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert code in refused, (method.name, code, payload[:200])


@pytest.mark.parametrize("method", list(SERVICE.methods), ids=lambda m: m.name)
@fuzz(10)
@given(data=st.data())
def test_generated_requests(
    channel: grpc.Channel, org_token: str, pool: Pool, rows: Callable[[], dict[str, int]], method: Any, data: Any
) -> None:
    generated = data.draw(request(method.input_type, pool), label="request")
    check(channel, SERVICE, method, generated.SerializeToString(), org_token, rows)


def mangled(valid: bytes) -> st.SearchStrategy[bytes]:
    """`valid` truncated, with a byte changed, or with garbage appended."""
    cut = st.integers(0, max(len(valid) - 1, 0)).map(lambda n: valid[:n])
    flipped = st.tuples(st.integers(0, max(len(valid) - 1, 0)), st.integers(0, 255)).map(
        lambda p: valid[: p[0]] + bytes([p[1]]) + valid[p[0] + 1 :]
    )
    return cut | flipped | st.binary(max_size=16).map(lambda tail: valid + tail)


@fuzz(60)
@given(data=st.data())
def test_raw_bytes_to_every_service(
    channel: grpc.Channel, org_token: str, pool: Pool, rows: Callable[[], dict[str, int]], data: Any
) -> None:
    service = data.draw(st.sampled_from(SERVICES), label="service")
    method = data.draw(st.sampled_from(list(service.methods)), label="method")
    valid = data.draw(request(method.input_type, pool), label="valid").SerializeToString()
    payload = data.draw(st.binary(max_size=64) | mangled(valid), label="payload")
    check(channel, service, method, payload, org_token, rows)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=600)
headers = st.lists(
    st.tuples(st.sampled_from(["authorization", "idempotency-key", "x-attribution", "x-anything"]), printable)
    | st.tuples(st.sampled_from(["idempotency-key-bin", "x-anything-bin"]), st.binary(max_size=64)),
    max_size=4,
)


@fuzz(30)
@given(data=st.data())
def test_generated_metadata(
    channel: grpc.Channel, org_token: str, pool: Pool, rows: Callable[[], dict[str, int]], data: Any
) -> None:
    method = data.draw(st.sampled_from(list(SERVICE.methods)), label="method")
    payload = data.draw(request(method.input_type, pool), label="request").SerializeToString()
    extra = data.draw(headers, label="metadata")
    own_token = data.draw(st.booleans(), label="with the admin's token")
    metadata = [*(bearer(org_token) if own_token else ()), *extra]
    before = rows()

    code, size = outcome(channel, SERVICE, method, payload, metadata)

    assert code not in BROKEN, (method.name, code, metadata)
    assert size < TRAILER_LIMIT - 1024
    if code not in UNDECIDED:
        assert rows() == before, (method.name, code, metadata)
