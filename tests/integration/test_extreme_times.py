"""Times at the edge of what Python can hold are INVALID_ARGUMENT, in filters and page tokens of every List
(`0001-01-01T00:00:00+14:00` is year 0 in UTC, and the database driver overflowed on it)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import Stub, create_instance, failure, propose, publish

EXTREMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("time", EXTREMES)
@pytest.mark.parametrize("op", [">=", "<"])
def test_audit_filter_with_an_extreme_time(stub: Stub, org: str, time: str, op: str) -> None:
    request = api.ListAuditEventsRequest(organization_id=org, filter=f'create_time {op} "{time}"')

    f = failure(lambda: stub.ListAuditEvents(request))

    assert (f.code, list(f.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["filter"])
    assert "out of range" in f.violations["filter"]


def test_the_last_representable_times_are_accepted(stub: Stub, org: str) -> None:
    create_instance(stub, org)
    everything = stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=org)).audit_events
    request = api.ListAuditEventsRequest(
        organization_id=org, filter='create_time >= "0001-01-01T00:00:00Z" AND create_time < "9999-12-31T23:59:59Z"'
    )
    assert stub.ListAuditEvents(request).audit_events == everything


def with_time(token: str, time: str) -> str:
    """The same page token, pointing at another time (tokens are opaque, not signed)."""
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["t"] = time
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def two_of_each(stub: Stub, org: str) -> str:
    instance = create_instance(stub, org)
    create_instance(stub, org, name="api")
    publish(stub, org, "1.0.0")
    publish(stub, org, "1.0.1")
    propose(stub, org, instance.id)
    propose(stub, org, instance.id)
    stub.CreatePrincipal(api.CreatePrincipalRequest(organization_id=org, principal={"name": "bob", "kind": 1}))
    return instance.id


LISTS: dict[str, Callable[[Stub, str, str, str], Any]] = {
    "ListInstances": lambda s, o, i, t: s.ListInstances(api.ListInstancesRequest(organization_id=o, page_size=1, page_token=t)),
    "ListReleases": lambda s, o, i, t: s.ListReleases(api.ListReleasesRequest(organization_id=o, page_size=1, page_token=t)),
    "ListDeployments": lambda s, o, i, t: s.ListDeployments(
        api.ListDeploymentsRequest(organization_id=o, instance_id=i, page_size=1, page_token=t)
    ),
    "ListAuditEvents": lambda s, o, i, t: s.ListAuditEvents(api.ListAuditEventsRequest(organization_id=o, page_size=1, page_token=t)),
    "ListPrincipals": lambda s, o, i, t: s.ListPrincipals(api.ListPrincipalsRequest(organization_id=o, page_size=1, page_token=t)),
}


@pytest.mark.parametrize("time", EXTREMES)
@pytest.mark.parametrize("name", sorted(LISTS))
def test_page_token_with_an_extreme_time(stub: Stub, org: str, name: str, time: str) -> None:
    call = LISTS[name]
    instance_id = two_of_each(stub, org)
    token = call(stub, org, instance_id, "").next_page_token
    assert token
    assert call(stub, org, instance_id, with_time(token, "2000-01-01T00:00:00+00:00")) is not None

    f = failure(lambda: call(stub, org, instance_id, with_time(token, time)))

    assert (f.code, list(f.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])
