"""Huge bad input gets INVALID_ARGUMENT that a stock grpcio client can read.

Errors echo the request (field names, bad values); uncapped, the trailers of a
20,000-character update_mask path reached 60 KB and grpcio refused them with
RESOURCE_EXHAUSTED "received metadata size exceeds hard limit".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from tests.auth import bearer
from tests.integration.helpers import TRAILER_LIMIT, failure, trailer_bytes

GOOD_ID = "00000000-0000-4000-8000-000000000000"


def update_mask(paths: list[str]) -> Callable[[api_grpc.RolloutServiceStub, str], Any]:
    return lambda s, o: s.UpdateInstance(
        api.UpdateInstanceRequest(
            organization_id=o, id=GOOD_ID, instance=pb.Instance(), update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
    )


def labels(keys: list[str]) -> Callable[[api_grpc.RolloutServiceStub, str], Any]:
    instance = pb.Instance(
        name="web", project="shop", environment="prod", bundle="web", kind=pb.Instance.KIND_STATIC,
        labels={k: "v" for k in keys},
    )
    return lambda s, o: s.CreateInstance(api.CreateInstanceRequest(organization_id=o, instance=instance))


CASES = {
    "a 20,000-character update_mask path": (update_mask(["p" * 20_000]), "update_mask"),
    "a 20,000-character unicode update_mask path": (update_mask(["é" * 20_000]), "update_mask"),
    "1,000 long update_mask paths": (update_mask([f"{i}" + "q" * 1000 for i in range(1000)]), "update_mask"),
    "65 bad 63-character label keys": (labels([f"{i:02d}" + "K" * 61 for i in range(65)]), "instance.labels"),
    "1,000 bad unicode label keys": (labels([f"{i}" + "Ж" * 500 for i in range(1000)]), "instance.labels"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_huge_bad_input_is_readable_invalid_argument(channel: grpc.Channel, org: str, org_token: str, case: str) -> None:
    call, field = CASES[case]
    stub = api_grpc.RolloutServiceStub(channel)  # a stock client: no options, no interceptors
    raw: list[grpc.RpcError] = []

    def send() -> Any:
        try:
            return call(_WithMetadata(stub, bearer(org_token)), org)
        except grpc.RpcError as exc:
            raw.append(exc)
            raise

    f = failure(send)

    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), f.message
    assert field in f.violations, f.violations
    assert all(len(name) <= 96 and len(text) <= 192 for name, text in f.violations.items())
    assert len(f.violations) <= 9
    assert trailer_bytes(raw[0]) < TRAILER_LIMIT - 1024


def test_many_violations_end_with_how_many_more(channel: grpc.Channel, org: str, org_token: str) -> None:
    stub = _WithMetadata(api_grpc.RolloutServiceStub(channel), bearer(org_token))

    f = failure(lambda: labels([f"{i:02d}" + "K" * 61 for i in range(65)])(stub, org))

    assert f.violations["instance.labels"] == "at most 64 labels"
    assert len(f.violations) == 9
    assert f.violations["request"] == "and 58 more"
    assert f.message.endswith("; and 58 more")


def test_an_echoed_value_is_cut_and_marked(channel: grpc.Channel, org: str, org_token: str) -> None:
    stub = _WithMetadata(api_grpc.RolloutServiceStub(channel), bearer(org_token))

    f = failure(lambda: update_mask(["p" * 20_000])(stub, org))

    assert f.violations["update_mask"].startswith("'pppp") and f.violations["update_mask"].endswith("…")


class _WithMetadata:
    """The stub's methods, each sent with `metadata` (the stub itself stays stock)."""

    def __init__(self, stub: api_grpc.RolloutServiceStub, metadata: Any) -> None:
        self.stub, self.metadata = stub, metadata

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.stub, name)
        return lambda request: method(request, metadata=self.metadata, timeout=30)
