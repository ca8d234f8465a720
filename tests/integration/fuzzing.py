"""Hypothesis strategies that build any protobuf request from its descriptor, field by field.

Values mix the plausible (the test organization, ids of rows that exist, names
and filters the service accepts) with the hostile (random and huge unicode,
NUL characters, boundary integers, unknown enum numbers, NaN, deep Structs),
so generated requests get past the first checks and reach deeper code.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

F = FieldDescriptor
INT_BOUNDS = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}
MAX_DEPTH = 3

# Protobuf strings are UTF-8: lone surrogates cannot be sent at all.
unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
huge_text = st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "é", "😀", "\x00", "\u202e", "%", "a/"]), st.sampled_from([300, 5_000, 70_000])
)
tricky_text = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "'; DROP TABLE instances; --", "../../etc/passwd", "file:///etc/passwd", "%s%n", "\ufeff",
     "NaN", "-1", "0", "9" * 40, "null", "{}", "[", "\\", '"', "ADMIN", "a" * 63, "a" * 64, "*", "..", "é", "\u0301"]
)
filters = st.sampled_from(
    ["action = PROVISION AND status = COMPLETED", "status = PROPOSED", "state = HEALTHY", "state = READY",
     'create_time >= "0001-01-01T00:00:00+14:00"', 'create_time < "9999-12-31T23:59:59-14:00"',
     'create_time > "2025-01-01T00:00:00Z"', "create_time >= 2025-13-45", "bundle = web", 'name = "a\\u0000b"',
     "release_id = 00000000-0000-4000-8000-000000000000", "action = ROLLBACK", "x = y AND", "AND", "= =",
     'resource = "instances" AND actor = admin AND outcome = ok', "status = " + "A" * 2000]
)
order_bys = st.sampled_from(["create_time desc", "create_time asc", "create_time", "name", "create_time sideways", ""])
versions = st.sampled_from(["1.0.0", "2.0.0-rc.1+build", "^1", "~1.2", ">=1.0.0 <2.0.0", "*", "1.0", "v1", ">>1", "1.0.0-"])
NESTINGS = [("(", "true", ")"), ("[", "", "] == []"), ("{a: ", "1", "} == {}"), ("if true then ", "true", " else true")]
cedar = st.sampled_from(
    ['permit(principal, action, resource);', 'forbid(principal, action, resource);', "permit(", "not cedar at all",
     'permit(principal in Group::"sre", action == Action::"instance:read", resource) when { resource.environment == "production" };']
) | st.builds(
    lambda nesting, depth: "permit(principal, action, resource) when { %s };"
    % (nesting[0] * depth + nesting[1] + nesting[2] * depth),
    st.sampled_from(NESTINGS),
    st.sampled_from([3, 60, 700, 2000]),
)


def token_payloads(ids: Sequence[str]) -> st.SearchStrategy[str]:
    times = st.sampled_from(["2025-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "x", ""])
    payload = st.fixed_dictionaries(
        {"t": times | st.integers(), "i": st.sampled_from([*ids, "nope"]), "q": st.text(max_size=20)}
    ) | st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda x: st.lists(x, max_size=3), max_leaves=8)
    return st.builds(
        lambda p: base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("="), payload
    )


@dataclass(frozen=True)
class Pool:
    """What exists in the test organization, so generated requests can name it."""

    organization_id: str
    ids: dict[str, tuple[str, ...]]  # resource ("instance", "release", "deployment", "principal") → ids
    resource: str = ""  # what the request's own `id` names, guessed from its type's name
    names: tuple[str, ...] = ("web", "api", "shop", "production", "staging", "stable", "admin", "sre")

    def for_request(self, type_name: str) -> Pool:
        verbs = {"Rollback": "deployment", "Approve": "deployment", "Reject": "deployment", "Plan": "deployment"}
        named = [r for r in self.ids if r.capitalize() in type_name] + [r for v, r in verbs.items() if v in type_name]
        return dataclasses.replace(self, resource=named[0] if named else "")

    def _ids(self, field: str) -> tuple[str, ...]:
        named = [r for r in self.ids if r in field] or ([self.resource] if self.resource and field == "id" else [])
        return self.ids[named[0]] if named else tuple(i for ids in self.ids.values() for i in ids)

    def text(self, field: FieldDescriptor, hostile: bool) -> st.SearchStrategy[str]:
        if hostile:
            return unicode_text | huge_text | tricky_text
        name = field.name
        if name == "organization_id":
            return st.just(self.organization_id)
        if name == "id" or name.endswith("_id") or name.endswith("_ids"):
            return st.sampled_from(self._ids(name)) | st.sampled_from(self._ids(name)) | st.uuids().map(str)
        if name == "request_id":
            return st.just("") | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
        if name == "filter":
            return st.just("") | filters
        if name == "order_by":
            return st.just("") | order_bys
        if name == "page_token":
            return st.just("") | token_payloads(self._ids(""))
        if name in ("version", "version_constraint"):
            return versions
        if name == "cedar":
            return cedar
        if name == "artifact_uri":
            return st.sampled_from(["file:///tmp/nope.tgz", "s3://bucket/key", "file://relative", "http://x"])
        if name == "paths":
            return st.sampled_from(["name", "params", "labels", "replicas", "groups", "disabled", "version_constraint"])
        return st.sampled_from(self.names)


def _enum(enum: EnumDescriptor, hostile: bool) -> st.SearchStrategy[int]:
    if hostile:
        return st.sampled_from([-1, 99, 2**31 - 1, -(2**31)])
    return st.sampled_from([v.number for v in enum.values])


def _scalar(field: FieldDescriptor, pool: Pool, hostile: bool) -> st.SearchStrategy[Any]:
    if field.type == F.TYPE_STRING:
        return pool.text(field, hostile)
    if field.type == F.TYPE_BYTES:
        if hostile:
            return st.binary(max_size=64) | st.sampled_from([b"x" * (1024 * 1024 + 1), b"\x00" * 10, b""])
        return st.just(b"artifact")
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type == F.TYPE_ENUM:
        return _enum(field.enum_type, hostile)
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(allow_nan=hostile, allow_infinity=hostile, width=64 if field.type == F.TYPE_DOUBLE else 32)
    low, high = INT_BOUNDS[field.type]
    if not hostile:
        return st.sampled_from([0, 1, 2, 3, 60, 3600])
    edges = [low, high, -1, 101, 1001, 2**31 - 1, 2**31, 2**53 + 1]
    return st.sampled_from([e for e in edges if low <= e <= high]) | st.integers(low, high)


def _odd_json() -> st.SearchStrategy[Any]:
    leaves = (
        st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | unicode_text | tricky_text
        | st.sampled_from([1e308, -1e308, 5e-324, 2.0**53 + 1])
    )
    return st.recursive(leaves, lambda x: st.lists(x, max_size=4) | st.dictionaries(unicode_text, x, max_size=4), max_leaves=20)


def _fill_struct(message: struct_pb2.Struct, value: dict[str, Any], depth: int) -> None:
    for key, item in value.items():
        _fill_value(message.fields[key], item, depth)


def _fill_value(target: struct_pb2.Value, item: Any, depth: int) -> None:
    # Value.update() rejects NaN nowhere and keeps every odd float, which is the point.
    if isinstance(item, dict):
        _fill_struct(target.struct_value, item, depth + 1)
    elif isinstance(item, list):
        target.list_value.SetInParent()
        for element in item:
            _fill_value(target.list_value.values.add(), element, depth + 1)
    elif item is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(item, bool):
        target.bool_value = item
    elif isinstance(item, float):
        target.number_value = item
    else:
        target.string_value = item


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": math.nan}
    for _ in range(levels):
        value = {"n": value}
    return value


@st.composite
def _struct(draw: st.DrawFn, hostile: bool) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    shape = draw(st.sampled_from(["odd", "deep", "huge", "simulate"] if hostile else ["plain", "plain", "simulate"]))
    if shape == "plain":
        message.update(draw(st.dictionaries(st.sampled_from(["workers", "region", "debug"]), st.integers(0, 9), max_size=3)))
    elif shape == "odd":
        _fill_struct(message, draw(st.dictionaries(unicode_text | tricky_text, _odd_json(), max_size=6)), 0)
    elif shape == "deep":
        _fill_struct(message, _nested(draw(st.sampled_from([30, 99, 150]))), 0)
    elif shape == "huge":
        _fill_struct(message, {"blob": "x" * draw(st.sampled_from([64 * 1024 - 20, 64 * 1024, 200_000]))}, 0)
    else:
        fail = draw(st.sampled_from(["provision", "health", "decommission", "bogus", ""]))
        delay = draw(st.sampled_from([0.0, -1.0, 1e12] if hostile else [0.0]))
        _fill_struct(message, {"rollout.simulate": {"fail": fail, "delay_ms": delay}}, 0)
    return message


def _value(
    field: FieldDescriptor, pool: Pool, modes: st.SearchStrategy[str], depth: int, hostile: bool
) -> st.SearchStrategy[Any]:
    if field.message_type is None:
        return _scalar(field, pool, hostile)
    if field.message_type.full_name == "google.protobuf.Struct":
        return _struct(hostile)
    return message(field.message_type, pool, modes, depth + 1)


# How each field is filled, per request: with what the service accepts (so that the checks after
# validation run too), with one bad field here and there, or mostly with hostile values.
TEMPERS = [
    st.sampled_from(["plausible"] * 6 + ["unset"] * 2),
    st.sampled_from(["plausible"] * 5 + ["hostile"] + ["unset"] * 2),
    st.sampled_from(["plausible"] * 2 + ["hostile"] * 4 + ["unset"] * 2),
]
TENANT = st.sampled_from(["plausible"] * 9 + ["hostile"])


@st.composite
def request(draw: st.DrawFn, descriptor: Descriptor, pool: Pool) -> Message:
    """A request of `descriptor`, generated field by field (see `message`)."""
    return draw(message(descriptor, pool.for_request(descriptor.name), draw(st.sampled_from(TEMPERS))))


@st.composite
def message(
    draw: st.DrawFn, descriptor: Descriptor, pool: Pool, modes: st.SearchStrategy[str], depth: int = 0
) -> Message:
    """A message of `descriptor`, each field unset, plausible or hostile as `modes` draws."""
    result = GetMessageClass(descriptor)()
    for field in descriptor.fields:
        mode = draw(TENANT if field.name == "organization_id" else modes)
        if mode == "unset" or (depth >= MAX_DEPTH and field.message_type is not None):
            continue
        hostile = mode == "hostile"
        sizes = [8, 40, 65] if hostile else [1, 2, 3]
        target = getattr(result, field.name) if field.is_repeated or field.message_type else None
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            keys = draw(st.lists(_scalar(key_field, pool, hostile), min_size=1, max_size=draw(st.sampled_from(sizes)), unique=True))
            for key in keys:
                value = draw(_value(value_field, pool, modes, depth, hostile))
                if value_field.message_type is None:
                    target[key] = value
                else:
                    target[key].CopyFrom(value)
        elif field.is_repeated:
            element = _value(field, pool, modes, depth, hostile)
            values = draw(st.lists(element, min_size=int(not hostile), max_size=draw(st.sampled_from(sizes))))
            if hostile and field.message_type is None and draw(st.booleans()):
                # Tens of thousands of one small value: more than hypothesis would draw one by one
                # (a small one, or the request would take gigabytes to build).
                values = [draw(_scalar(field, pool, hostile=False))] * draw(st.sampled_from([1000, 40_000]))
            if field.message_type is None:
                target.extend(values)
            else:
                for value in values:
                    target.add().CopyFrom(value)
        elif field.message_type is not None:
            target.CopyFrom(draw(_value(field, pool, modes, depth, hostile)))
        else:
            setattr(result, field.name, draw(_value(field, pool, modes, depth, hostile)))
    return result
