"""Statuses stay small whatever they echo: server/api/errors.py (bounded_status, clip)."""

from __future__ import annotations

import base64

import grpc
from google.rpc import error_details_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from server.api.errors import MAX_VIOLATIONS, bounded_status, clip
from server.domain.errors import FieldViolation, InvalidArgument, NotFound

BUDGET = 7 * 1024  # under grpcio's 8 KiB, with room for grpc-status and the header names


def wire_bytes(status: object) -> int:
    """grpc-message percent-encodes every byte outside printable ASCII; binary trailers are base64."""
    message = status.message.encode()  # type: ignore[attr-defined]
    encoded_message = sum(1 if 0x20 <= b < 0x7F and b != ord("%") else 3 for b in message)
    return encoded_message + len(base64.b64encode(status.SerializeToString()))  # type: ignore[attr-defined]


def violations_of(status: object) -> list[tuple[str, str]]:
    bad = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad)  # type: ignore[attr-defined]
    return [(v.field, v.description) for v in bad.field_violations]


def test_clip_cuts_on_a_character_boundary_and_marks_the_cut() -> None:
    assert clip("short", 10) == "short"
    assert clip("x" * 11, 10) == "x" * 7 + "…"
    assert clip("é" * 10, 10) == "é" * 3 + "…"  # 6 bytes + 3 for the mark
    assert len(clip("😀" * 100, 50).encode()) <= 50


def test_few_violations_are_echoed_whole() -> None:
    status = bounded_status(grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument([FieldViolation("id", "must be a UUID")]))
    assert violations_of(status) == [("id", "must be a UUID")]
    assert status.message == "id: must be a UUID"


def test_many_violations_end_with_how_many_more() -> None:
    exc = InvalidArgument([FieldViolation(f"f{i}", "bad") for i in range(30)])
    shown = violations_of(bounded_status(grpc.StatusCode.INVALID_ARGUMENT, exc))
    assert shown == [(f"f{i}", "bad") for i in range(MAX_VIOLATIONS)] + [("request", f"and {30 - MAX_VIOLATIONS} more")]


# Hypothesis draws short text; long echoes come from repeating a character.
texts = st.text(max_size=50) | st.builds(lambda c, n: c * n, st.characters(), st.integers(0, 20_000))


@settings(max_examples=60)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=40))
def test_any_violations_fit_in_the_trailers(items: list[tuple[str, str]]) -> None:
    exc = InvalidArgument([FieldViolation(f, d) for f, d in items])
    status = bounded_status(grpc.StatusCode.INVALID_ARGUMENT, exc)

    assert wire_bytes(status) < BUDGET
    shown = violations_of(status)
    assert len(shown) == min(len(items), MAX_VIOLATIONS) + (len(items) > MAX_VIOLATIONS)
    for (field, description), (cut_field, cut_description) in zip(items[:MAX_VIOLATIONS], shown, strict=False):
        assert field.startswith(cut_field.removesuffix("…")) and description.startswith(cut_description.removesuffix("…"))


@settings(max_examples=30)
@given(texts)
def test_any_message_fits_in_the_trailers(text: str) -> None:
    assert wire_bytes(bounded_status(grpc.StatusCode.NOT_FOUND, NotFound(text * 50))) < BUDGET


def test_worst_case_fits() -> None:
    wide = "😀" * 5000
    exc = InvalidArgument([FieldViolation(wide, wide) for _ in range(500)])
    assert wire_bytes(bounded_status(grpc.StatusCode.INVALID_ARGUMENT, exc)) < BUDGET
