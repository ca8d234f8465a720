"""Filters, ordering and page tokens for List RPCs: server/domain/listing.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.listing import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    FieldRule,
    Term,
    decode_token,
    encode_token,
    enum_value,
    page_size,
    parse_filter,
    parse_order,
    plain,
    query_fingerprint,
    timestamp,
)

RULES: dict[str, FieldRule] = {
    "action": FieldRule(frozenset({"="}), enum_value("ACTION", frozenset({"PROVISION", "DECOMMISSION"}))),
    "status": FieldRule(
        frozenset({"=", "!="}),
        enum_value("STATUS", frozenset({"PROPOSED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "REJECTED"})),
    ),
    "name": FieldRule(frozenset({"="}), plain),
    "create_time": FieldRule(frozenset({">", ">=", "<", "<="}), timestamp),
}


def violation_fields(exc: InvalidArgument) -> list[str]:
    return [v.field for v in exc.violations]


def filter_error(text: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as exc_info:
        parse_filter(text, RULES)
    assert violation_fields(exc_info.value) == ["filter"]
    assert exc_info.value.reason == "INVALID_ARGUMENT"
    return exc_info.value


# --- parse_filter ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_filter(text: str) -> None:
    assert parse_filter(text, RULES) == []


def test_spec_example() -> None:
    assert parse_filter("action = PROVISION AND status = COMPLETED", RULES) == [
        Term("action", "=", "PROVISION"),
        Term("status", "=", "COMPLETED"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status=COMPLETED", [Term("status", "=", "COMPLETED")]),
        ("  status   =   COMPLETED  ", [Term("status", "=", "COMPLETED")]),
        ("status != FAILED", [Term("status", "!=", "FAILED")]),
        ("status = completed", [Term("status", "=", "COMPLETED")]),
        ("status = STATUS_COMPLETED", [Term("status", "=", "COMPLETED")]),
        ("status = status_Completed", [Term("status", "=", "COMPLETED")]),
        ("action = ACTION_DECOMMISSION", [Term("action", "=", "DECOMMISSION")]),
        ('status = "COMPLETED"', [Term("status", "=", "COMPLETED")]),
        ('name = "two words"', [Term("name", "=", "two words")]),
        ('name = "say \\"hi\\""', [Term("name", "=", 'say "hi"')]),
        ('name = ""', [Term("name", "=", "")]),
        ("name = Mixed-Case", [Term("name", "=", "Mixed-Case")]),
        (
            "status = PENDING AND status = RUNNING",
            [Term("status", "=", "PENDING"), Term("status", "=", "RUNNING")],
        ),
        (
            "action = PROVISION   AND\tstatus = FAILED",
            [Term("action", "=", "PROVISION"), Term("status", "=", "FAILED")],
        ),
        (
            "create_time >= 2025-01-02T03:04:05Z",
            [Term("create_time", ">=", "2025-01-02T03:04:05+00:00")],
        ),
        (
            'create_time < "2025-01-02T03:04:05.5+02:00"',
            [Term("create_time", "<", "2025-01-02T03:04:05.500000+02:00")],
        ),
        (
            "create_time>2025-01-02T03:04:05Z AND create_time<=2025-02-01T00:00:00Z",
            [
                Term("create_time", ">", "2025-01-02T03:04:05+00:00"),
                Term("create_time", "<=", "2025-02-01T00:00:00+00:00"),
            ],
        ),
    ],
)
def test_parse_filter(text: str, expected: list[Term]) -> None:
    assert parse_filter(text, RULES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "status",
        "status =",
        "= COMPLETED",
        "Status = COMPLETED",
        "status ~ COMPLETED",
        "status == COMPLETED",
        "status = COMPLETED extra",
        "status = COMPLETED and action = PROVISION",
        "status = COMPLETED OR status = FAILED",
        "AND status = COMPLETED",
        "status = COMPLETED AND",
        "status = COMPLETED AND AND action = PROVISION",
        'name = "unterminated',
        "NOT status = COMPLETED",
        "status.value = COMPLETED",
        "status = (COMPLETED)x y",
    ],
)
def test_unparseable_filter(text: str) -> None:
    assert filter_error(text).violations[0].description.startswith("cannot parse ")


def test_unparseable_filter_names_the_bad_term() -> None:
    exc = filter_error("action = PROVISION AND status")
    assert exc.violations == [
        FieldViolation("filter", "cannot parse 'status'; expected `field = value` terms joined by AND")
    ]


def test_unknown_field() -> None:
    exc = filter_error("action = PROVISION AND owner = bob")
    assert exc.violations == [
        FieldViolation("filter", "unknown field 'owner'; filterable: action, create_time, name, status")
    ]


@pytest.mark.parametrize(
    ("text", "op", "field"),
    [
        ("action != PROVISION", "!=", "action"),
        ("status > COMPLETED", ">", "status"),
        ("create_time = 2025-01-01T00:00:00Z", "=", "create_time"),
        ("name <= x", "<=", "name"),
    ],
)
def test_unsupported_operator(text: str, op: str, field: str) -> None:
    exc = filter_error(text)
    assert exc.violations == [FieldViolation("filter", f"operator {op!r} is not supported for {field!r}")]


@pytest.mark.parametrize(
    "text",
    [
        "status = DONE",
        "status = STATUS_",
        "status = STATUSCOMPLETED",
        "status = ACTION_PROVISION",
        "status = STATUS_STATUS_COMPLETED",
        "action = STATUS_PROVISION",
        "status = UNSPECIFIED",
        "status = STATUS_UNSPECIFIED",
        'status = ""',
    ],
)
def test_unknown_enum_value(text: str) -> None:
    description = filter_error(text).violations[0].description
    assert description.startswith(text.split()[0] + ": unknown value ")


def test_unknown_enum_value_lists_allowed_values() -> None:
    exc = filter_error("action = BUILD")
    assert exc.violations == [
        FieldViolation("filter", "action: unknown value 'BUILD'; expected one of DECOMMISSION, PROVISION")
    ]


@pytest.mark.parametrize("text", ["create_time > yesterday", "create_time > 2025-13-01T00:00:00Z", 'create_time > ""'])
def test_bad_timestamp(text: str) -> None:
    assert filter_error(text).violations[0].description.endswith("is not an RFC 3339 timestamp")


def test_filter_longer_than_1024_characters() -> None:
    text = "name = " + "x" * 1018
    assert len(text) == 1025
    exc = filter_error(text)
    assert exc.violations == [FieldViolation("filter", "must be at most 1024 characters")]


def test_filter_of_exactly_1024_characters() -> None:
    text = "name = " + "x" * 1017
    assert parse_filter(text, RULES) == [Term("name", "=", "x" * 1017)]


@pytest.mark.parametrize("text", ['name = "\\q"', 'name = "a\tb"', 'status = "\\u12"'])
def test_bad_escape_in_quoted_value_is_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument) as exc_info:
        parse_filter(text, RULES)
    assert violation_fields(exc_info.value) == ["filter"]


def test_and_inside_quoted_value() -> None:
    assert parse_filter('name = "salt AND pepper"', RULES) == [Term("name", "=", "salt AND pepper")]


# --- enum_value, plain, timestamp -------------------------------------------------


def test_enum_value_normalizer() -> None:
    normalize = enum_value("KIND", frozenset({"STATIC", "DYNAMIC"}))
    assert normalize("static") == "STATIC"
    assert normalize("KIND_DYNAMIC") == "DYNAMIC"
    assert normalize("kind_static") == "STATIC"
    with pytest.raises(ValueError, match="unknown value 'KIND'; expected one of DYNAMIC, STATIC"):
        normalize("KIND")


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00.5+00:01", "9999-12-31T23:59:59-14:00", "9999-12-31T23:00-01:00"]
)
def test_timestamp_that_leaves_the_representable_range_in_utc(text: str) -> None:
    with pytest.raises(ValueError, match="is out of range: times must lie within years 1 to 9999 in UTC"):
        timestamp(text)
    assert "out of range" in filter_error(f'create_time >= "{text}"').violations[0].description


def test_timestamp_at_the_edges_of_the_range_and_without_an_offset() -> None:
    assert timestamp("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00+00:00"
    assert timestamp("0001-01-01T10:00:00+10:00") == "0001-01-01T10:00:00+10:00"
    assert timestamp("9999-12-31T23:59:59.999999Z") == "9999-12-31T23:59:59.999999+00:00"
    assert timestamp("2025-01-02T03:04:05") == "2025-01-02T03:04:05+00:00"


@pytest.mark.parametrize("time", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_token_with_a_time_out_of_range(time: str) -> None:
    assert token_error(raw_token({"t": time, "i": ID, "q": FP})).violations == [FieldViolation("page_token", MALFORMED)]


def test_plain_and_timestamp() -> None:
    assert plain(" As Is ") == " As Is "
    assert timestamp("2025-01-02T03:04:05Z") == "2025-01-02T03:04:05+00:00"
    with pytest.raises(ValueError, match="'nope' is not an RFC 3339 timestamp"):
        timestamp("nope")


# --- parse_order, page_size ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "default_desc", "expected"),
    [
        ("", True, True),
        ("", False, False),
        ("   ", True, True),
        ("create_time", True, False),
        ("create_time", False, False),
        ("create_time asc", True, False),
        ("create_time desc", False, True),
        ("CREATE_TIME DESC", False, True),
        ("  create_time   desc ", False, True),
        ("create_time Asc", True, False),
    ],
)
def test_parse_order(text: str, default_desc: bool, expected: bool) -> None:
    assert parse_order(text, default_desc) is expected


@pytest.mark.parametrize(
    "text",
    ["name", "name desc", "create_time up", "create_time desc asc", "create_time,desc", "create_time desc, id", "desc"],
)
def test_parse_order_invalid(text: str) -> None:
    with pytest.raises(InvalidArgument) as exc_info:
        parse_order(text, True)
    assert exc_info.value.violations == [
        FieldViolation("order_by", "must be `create_time asc` or `create_time desc`")
    ]


@pytest.mark.parametrize(("value", "expected"), [(0, DEFAULT_PAGE_SIZE), (1, 1), (1000, 1000)])
def test_page_size(value: int, expected: int) -> None:
    assert DEFAULT_PAGE_SIZE == 50
    assert page_size(value) == expected


# --- page tokens -------------------------------------------------------------------

T = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ID = "0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10"
FP = query_fingerprint("deployments", "acme", ID, [Term("status", "=", "COMPLETED")], True)


def raw_token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def token_error(token: str, fingerprint: str = FP) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as exc_info:
        decode_token(token, fingerprint)
    assert violation_fields(exc_info.value) == ["page_token"]
    return exc_info.value


def test_fingerprint_is_deterministic_and_short() -> None:
    again = query_fingerprint("deployments", "acme", ID, [Term("status", "=", "COMPLETED")], True)
    assert FP == again
    assert len(FP) == 16
    assert int(FP, 16) >= 0


@pytest.mark.parametrize(
    "parts",
    [
        ("deployments", "acme", ID, [Term("status", "=", "COMPLETED")], False),
        ("deployments", "other", ID, [Term("status", "=", "COMPLETED")], True),
        ("deployments", "acme", ID, [Term("status", "=", "FAILED")], True),
        ("deployments", "acme", ID, [], True),
        ("releases", "acme", ID, [Term("status", "=", "COMPLETED")], True),
    ],
)
def test_fingerprint_differs_per_query(parts: tuple[object, ...]) -> None:
    assert query_fingerprint(*parts) != FP


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(T, ID),
        Cursor(T.replace(microsecond=0), "00000000-0000-4000-8000-000000000001"),
        Cursor(T.astimezone(timezone(timedelta(hours=-7))), ID),
        Cursor(datetime(1970, 1, 1, tzinfo=UTC), "ffffffff-ffff-4fff-bfff-ffffffffffff"),
    ],
)
def test_token_round_trip(cursor: Cursor) -> None:
    token = encode_token(cursor, FP)
    decoded = decode_token(token, FP)
    assert decoded == cursor
    assert decoded is not None
    assert decoded.create_time.utcoffset() == cursor.create_time.utcoffset()


def test_token_is_url_safe_without_padding() -> None:
    for n in range(5):
        token = encode_token(Cursor(T, "i" * n), FP)
        assert "=" not in token
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_empty_token_is_first_page() -> None:
    assert decode_token("", FP) is None


def test_token_from_another_query() -> None:
    token = encode_token(Cursor(T, ID), FP)
    other = query_fingerprint("deployments", "acme", ID, [], True)
    exc = token_error(token, other)
    assert exc.violations == [FieldViolation("page_token", "belongs to a different filter, order or parent")]


def test_token_with_edited_fingerprint() -> None:
    token = raw_token({"t": T.isoformat(), "i": ID, "q": "0" * 16})
    exc = token_error(token)
    assert exc.violations == [FieldViolation("page_token", "belongs to a different filter, order or parent")]


MALFORMED = "is not a token returned by this list call"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "é",
        "A",
        "AAAA",
        raw_token([1, 2, 3]),
        raw_token("a string"),
        raw_token(7),
        raw_token(None),
        raw_token({"i": ID, "q": FP}),
        raw_token({"t": T.isoformat(), "q": FP}),
        raw_token({"t": T.isoformat(), "i": ID}),
        raw_token({"t": "yesterday", "i": ID, "q": FP}),
        raw_token({"t": 12345, "i": ID, "q": FP}),
        raw_token({"t": None, "i": ID, "q": FP}),
        base64.urlsafe_b64encode(b"\xff\xfe\x00{").decode(),
        base64.urlsafe_b64encode(b"[" * 700).decode(),
    ],
)
def test_malformed_token(token: str) -> None:
    assert token_error(token).violations == [FieldViolation("page_token", MALFORMED)]


def test_truncated_token() -> None:
    token = encode_token(Cursor(T, ID), FP)
    assert token_error(token[: len(token) // 2]).violations == [FieldViolation("page_token", MALFORMED)]


def test_token_with_flipped_character() -> None:
    token = encode_token(Cursor(T, ID), FP)
    # The first character encodes the opening '{' of the JSON payload.
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    assert token_error(tampered).violations == [FieldViolation("page_token", MALFORMED)]


def test_deeply_nested_token_is_invalid_argument() -> None:
    token_error(base64.urlsafe_b64encode(b"[" * 100_000).decode())
