"""Request field rules: server/domain/validation.py (the Violations collector)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.validation import MAX_PARAMS_BYTES, Violations

UUID = "0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10"


def collect(check: Callable[[Violations], None]) -> list[FieldViolation]:
    v = Violations()
    check(v)
    return v.items


def fields(check: Callable[[Violations], None]) -> list[str]:
    return [item.field for item in collect(check)]


# --- the collector -----------------------------------------------------------------


def test_check_without_violations_does_nothing() -> None:
    v = Violations()
    v.organization("acme")
    v.check()
    assert v.items == []


def test_check_raises_every_violation_at_once() -> None:
    v = Violations()
    v.organization("")
    v.uuid("id", "nope")
    v.page_size(-1)
    with pytest.raises(InvalidArgument) as exc_info:
        v.check()
    assert exc_info.value.violations == [
        FieldViolation("organization_id", "required"),
        FieldViolation("id", "must be a UUID"),
        FieldViolation("page_size", "must be between 0 and 1000"),
    ]
    assert exc_info.value.reason == "INVALID_ARGUMENT"
    assert exc_info.value.message == "invalid argument: organization_id, id, page_size"


def test_add() -> None:
    assert collect(lambda v: v.add("x.y", "why")) == [FieldViolation("x.y", "why")]


# --- organization ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["acme", "ab", "a1", "1a", "00", "acme-corp", "a-", "a" * 63, "9" + "x" * 62])
def test_organization_ok(value: str) -> None:
    assert collect(lambda v: v.organization(value)) == []


def test_organization_required() -> None:
    assert collect(lambda v: v.organization("")) == [FieldViolation("organization_id", "required")]


@pytest.mark.parametrize(
    "value", ["a", "Acme", "-acme", "ac me", "acme_corp", "acme.io", "a" * 64, "ácme", " acme", "acme\x00", "ac/me"]
)
def test_organization_bad(value: str) -> None:
    assert collect(lambda v: v.organization(value)) == [
        FieldViolation("organization_id", "must be 2-63 lowercase letters, digits or '-'")
    ]


# --- uuid --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [UUID, UUID.upper(), "00000000-0000-0000-0000-000000000000"])
def test_uuid_ok(value: str) -> None:
    assert collect(lambda v: v.uuid("id", value)) == []


def test_uuid_required() -> None:
    assert collect(lambda v: v.uuid("instance_id", "")) == [FieldViolation("instance_id", "required")]


def test_uuid_optional_may_be_empty() -> None:
    assert collect(lambda v: v.uuid("release_id", "", required=False)) == []


def test_uuid_optional_still_checked_when_set() -> None:
    assert fields(lambda v: v.uuid("release_id", "x", required=False)) == ["release_id"]


@pytest.mark.parametrize(
    "value", ["nope", UUID[:-1], UUID + "0", "g" * 32, UUID.replace("-", "_"), " " + UUID, UUID + "\x00", "ü" * 36]
)
def test_uuid_not_a_uuid(value: str) -> None:
    assert collect(lambda v: v.uuid("id", value)) == [FieldViolation("id", "must be a UUID")]


@pytest.mark.parametrize(
    "value",
    [
        UUID.replace("-", ""),
        "{" + UUID + "}",
        "urn:uuid:" + UUID,
        UUID[:8] + UUID[9:13] + "-" + UUID[14:],  # dashes in the wrong places
    ],
)
def test_uuid_not_canonical(value: str) -> None:
    assert collect(lambda v: v.uuid("id", value)) == [FieldViolation("id", "must be a UUID in canonical form")]


# --- slug --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "web", "web-1", "a-", "a" * 63, "x0-9"])
def test_slug_ok(value: str) -> None:
    assert collect(lambda v: v.slug("instance.name", value)) == []


def test_slug_required() -> None:
    assert collect(lambda v: v.slug("instance.name", "")) == [FieldViolation("instance.name", "required")]


def test_slug_optional() -> None:
    assert collect(lambda v: v.slug("instance.release_channel", "", required=False)) == []


@pytest.mark.parametrize("value", ["1web", "-web", "Web", "web_1", "web.1", "we b", "a" * 64, "wéb", "web\x00"])
def test_slug_bad(value: str) -> None:
    assert collect(lambda v: v.slug("instance.project", value)) == [
        FieldViolation("instance.project", "must be 1-63 lowercase letters, digits or '-', starting with a letter")
    ]


def test_slug_optional_still_checked_when_set() -> None:
    assert fields(lambda v: v.slug("release.release_channel", "Beta", required=False)) == ["release.release_channel"]


# --- text --------------------------------------------------------------------------


def test_text_ok() -> None:
    assert collect(lambda v: v.text("message", "x" * 1024)) == []
    assert collect(lambda v: v.text("message", "")) == []
    assert collect(lambda v: v.text("message", "héllo ✓ \n\t")) == []


def test_text_too_long() -> None:
    assert collect(lambda v: v.text("message", "x" * 1025)) == [
        FieldViolation("message", "must be at most 1024 characters")
    ]


def test_text_custom_limit() -> None:
    assert collect(lambda v: v.text("order_by", "x" * 64, 64)) == []
    assert collect(lambda v: v.text("order_by", "x" * 65, 64)) == [
        FieldViolation("order_by", "must be at most 64 characters")
    ]


def test_text_limit_counts_characters_not_bytes() -> None:
    assert collect(lambda v: v.text("message", "é" * 1024)) == []


def test_text_nul() -> None:
    assert collect(lambda v: v.text("reason", "a\x00b")) == [
        FieldViolation("reason", "must not contain NUL characters")
    ]


def test_text_too_long_and_nul() -> None:
    assert fields(lambda v: v.text("reason", "\x00" * 2000)) == ["reason", "reason"]


# --- request_id --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "a", "req-1", "!~", "x" * 255, "550e8400-e29b-41d4-a716-446655440000"])
def test_request_id_ok(value: str) -> None:
    assert collect(lambda v: v.request_id(value)) == []


def test_request_id_too_long() -> None:
    assert collect(lambda v: v.request_id("x" * 256)) == [
        FieldViolation("request_id", "must be at most 255 characters")
    ]


@pytest.mark.parametrize("value", ["has space", "tab\t", "é", "nul\x00", "\x7f", "line\nbreak", "✓"])
def test_request_id_not_printable_ascii(value: str) -> None:
    assert collect(lambda v: v.request_id(value)) == [
        FieldViolation("request_id", "must be printable ASCII without spaces")
    ]


def test_request_id_too_long_reports_length_only() -> None:
    assert fields(lambda v: v.request_id(" " * 300)) == ["request_id"]


# --- params ------------------------------------------------------------------------


def _params_of_size(size: int) -> dict[str, str]:
    value = {"k": "x" * (size - len('{"k":""}'))}
    assert len(json.dumps(value, separators=(",", ":")).encode()) == size
    return value


def test_params_limit_is_64_kib() -> None:
    assert MAX_PARAMS_BYTES == 65536


def test_params_at_the_limit() -> None:
    assert collect(lambda v: v.params("params", _params_of_size(65536))) == []


def test_params_over_the_limit() -> None:
    assert collect(lambda v: v.params("params", _params_of_size(65537))) == [
        FieldViolation("params", "must be at most 65536 bytes as JSON (got 65537)")
    ]


def test_params_size_counts_utf8_bytes() -> None:
    # 'é' is one character but two bytes of UTF-8.
    value = {"k": "é" * 32765}  # 8 + 65530 bytes
    assert collect(lambda v: v.params("deployment.params", value)) == [
        FieldViolation("deployment.params", "must be at most 65536 bytes as JSON (got 65538)")
    ]


def test_params_ok() -> None:
    assert collect(lambda v: v.params("params", {})) == []
    assert collect(lambda v: v.params("params", {"a": [1, 2.5, None, True], "b": {"c": "ü"}})) == []


@pytest.mark.parametrize("value", [{"a": "x\x00y"}, {"k\x00": 1}, {"a": {"b": ["\x00"]}}])
def test_params_nul(value: dict[str, object]) -> None:
    assert collect(lambda v: v.params("params", value)) == [
        FieldViolation("params", "must not contain NUL characters")
    ]


# --- labels ------------------------------------------------------------------------


def test_labels_ok() -> None:
    labels = {"team": "checkout", "a": "", "app.kubernetes.io/name": "web", "x_y-z.0": "v" * 255, "9": "n"}
    assert collect(lambda v: v.labels("instance.labels", labels)) == []


def test_labels_at_most_64() -> None:
    assert collect(lambda v: v.labels("labels", {f"k{i}": "v" for i in range(64)})) == []
    assert collect(lambda v: v.labels("labels", {f"k{i}": "v" for i in range(65)})) == [
        FieldViolation("labels", "at most 64 labels")
    ]


@pytest.mark.parametrize("key", ["", "Team", "-team", "team-", "team.", "te am", "tëam", "a" * 64, "_x"])
def test_labels_bad_key(key: str) -> None:
    assert collect(lambda v: v.labels("instance.labels", {key: "v"})) == [
        FieldViolation(f"instance.labels[{key}]", "key must be 1-63 of a-z 0-9 . _ / -")
    ]


def test_labels_long_bad_key_is_cut_to_64_in_the_field_name() -> None:
    key = "A" * 100
    assert fields(lambda v: v.labels("labels", {key: "v"})) == ["labels[" + "A" * 64 + "]"]


@pytest.mark.parametrize("value", ["v" * 256, "a\x00b"])
def test_labels_bad_value(value: str) -> None:
    assert collect(lambda v: v.labels("labels", {"team": value})) == [
        FieldViolation("labels[team]", "value must be at most 255 characters, no NUL")
    ]


def test_labels_reports_each_bad_label() -> None:
    labels = {"ok": "v", "Bad": "v", "long": "v" * 300}
    assert fields(lambda v: v.labels("labels", labels)) == ["labels[Bad]", "labels[long]"]


# --- connections -------------------------------------------------------------------


def test_connections_ok() -> None:
    connections = {"db": UUID, "primary_db": UUID, "cache-1": UUID, "a" * 63: UUID}
    assert collect(lambda v: v.connections("instance.connections", connections)) == []


def test_connections_at_most_64() -> None:
    assert collect(lambda v: v.connections("connections", {f"c{i}": UUID for i in range(64)})) == []
    assert collect(lambda v: v.connections("connections", {f"c{i}": UUID for i in range(65)})) == [
        FieldViolation("connections", "at most 64 connections")
    ]


@pytest.mark.parametrize("name", ["", "1db", "_db", "-db", "DB", "d b", "db.x", "a" * 64, "dé"])
def test_connections_bad_name(name: str) -> None:
    assert collect(lambda v: v.connections("instance.connections", {name: UUID})) == [
        FieldViolation(f"instance.connections[{name}]", "name must be 1-63 of a-z 0-9 _ -, starting with a letter")
    ]


def test_connections_long_bad_name_is_cut_to_64_in_the_field_name() -> None:
    assert fields(lambda v: v.connections("c", {"X" * 70: UUID})) == ["c[" + "X" * 64 + "]"]


@pytest.mark.parametrize(
    ("target", "description"),
    [
        ("", "required"),
        ("db-1", "must be a UUID"),
        (UUID.replace("-", ""), "must be a UUID in canonical form"),
    ],
)
def test_connections_bad_target(target: str, description: str) -> None:
    assert collect(lambda v: v.connections("instance.connections", {"db": target})) == [
        FieldViolation("instance.connections[db]", description)
    ]


def test_connections_bad_name_skips_target_check() -> None:
    assert fields(lambda v: v.connections("c", {"Bad": "not-a-uuid"})) == ["c[Bad]"]


# --- newline at the end of pattern-checked fields -----------------------------------
# Python's `$` also matches just before a final "\n", so these patterns accept a trailing newline.


def test_organization_trailing_newline() -> None:
    assert fields(lambda v: v.organization("acme\n")) == ["organization_id"]


def test_slug_trailing_newline() -> None:
    assert fields(lambda v: v.slug("instance.name", "web\n")) == ["instance.name"]


def test_request_id_trailing_newline() -> None:
    assert fields(lambda v: v.request_id("abc\n")) == ["request_id"]


def test_label_key_trailing_newline() -> None:
    assert fields(lambda v: v.labels("labels", {"team\n": "v"})) == ["labels[team\n]"]


def test_connection_name_trailing_newline() -> None:
    assert fields(lambda v: v.connections("connections", {"db\n": UUID})) == ["connections[db\n]"]


# --- replicas, page_size, version_constraint --------------------------------------


@pytest.mark.parametrize(("value", "dynamic"), [(0, True), (1, True), (100, True), (0, False)])
def test_replicas_ok(value: int, dynamic: bool) -> None:
    assert collect(lambda v: v.replicas("instance.replicas", value, dynamic)) == []


@pytest.mark.parametrize(("value", "dynamic"), [(-1, True), (101, True), (-1, False), (101, False)])
def test_replicas_out_of_range(value: int, dynamic: bool) -> None:
    assert collect(lambda v: v.replicas("instance.replicas", value, dynamic)) == [
        FieldViolation("instance.replicas", "must be between 0 and 100")
    ]


@pytest.mark.parametrize("value", [1, 100])
def test_replicas_static_must_be_zero(value: int) -> None:
    assert collect(lambda v: v.replicas("instance.replicas", value, dynamic=False)) == [
        FieldViolation("instance.replicas", "must be 0 for a STATIC instance")
    ]


@pytest.mark.parametrize("value", [0, 1, 1000])
def test_page_size_ok(value: int) -> None:
    assert collect(lambda v: v.page_size(value)) == []


@pytest.mark.parametrize("value", [-1, 1001, 2**31 - 1])
def test_page_size_bad(value: int) -> None:
    assert collect(lambda v: v.page_size(value)) == [FieldViolation("page_size", "must be between 0 and 1000")]


@pytest.mark.parametrize("value", ["", "*", "^1.2", ">=1.0.0 <2 || 3.x", "~0.0.1", " || ".join(["^1"] * 40)])
def test_version_constraint_ok(value: str) -> None:
    assert collect(lambda v: v.version_constraint("instance.version_constraint", value)) == []


@pytest.mark.parametrize("value", ["latest", ">=", "1.2.3 ||", "1.2-rc.1"])
def test_version_constraint_invalid(value: str) -> None:
    assert fields(lambda v: v.version_constraint("instance.version_constraint", value)) == [
        "instance.version_constraint"
    ]


def test_version_constraint_invalid_describes_the_problem() -> None:
    assert collect(lambda v: v.version_constraint("vc", "^1.2-beta")) == [
        FieldViolation("vc", "'^1.2-beta': a pre-release needs a full version")
    ]


def test_version_constraint_too_long() -> None:
    assert collect(lambda v: v.version_constraint("vc", "1" * 257)) == [
        FieldViolation("vc", "must be at most 256 characters")
    ]
    # Within the limit no digit count reaches int()'s 4300-digit conversion limit.
    assert collect(lambda v: v.version_constraint("vc", " " * 256)) == []
