"""Filters (an AIP-160 subset), ordering and opaque page tokens (AIP-158) for List RPCs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from server.domain.errors import invalid

DEFAULT_PAGE_SIZE = 50

_TERM = re.compile(r'\s*([a-z_]+)\s*(!=|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s"=<>!][^\s"]*)\s*')
_AND = re.compile(r"AND\s+|AND$")


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class FieldRule:
    ops: frozenset[str]
    # Normalizes a raw value or raises ValueError with a message for the client.
    normalize: Callable[[str], str]


def enum_value(prefix: str, allowed: frozenset[str]) -> Callable[[str], str]:
    """Accepts `COMPLETED` or `STATUS_COMPLETED` (any case); returns `COMPLETED`."""

    def normalize(raw: str) -> str:
        value = raw.upper()
        if value.startswith(prefix + "_"):
            value = value[len(prefix) + 1 :]
        if value not in allowed:
            raise ValueError(f"unknown value {raw!r}; expected one of {', '.join(sorted(allowed))}")
        return value

    return normalize


def plain(raw: str) -> str:
    return raw


def uuid_value(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ValueError(f"{raw!r} is not a UUID") from None


def instant(raw: str) -> datetime:
    """A point in time the database driver can store; one without an offset is UTC.

    Python dates end at years 1 and 9999, so an offset can push a valid-looking time
    (`0001-01-01T00:00:00+14:00`) out of range once the driver converts it to UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{raw[:64]!r} is not an RFC 3339 timestamp") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{raw[:64]!r} is out of range: times must lie within years 1 to 9999 in UTC") from None
    return value


def timestamp(raw: str) -> str:
    return instant(raw).isoformat()


def parse_filter(text: str, rules: dict[str, FieldRule]) -> list[Term]:
    """Parses `a = X AND b = "Y"`; raises InvalidArgument on field `filter`."""
    if not text.strip():
        return []
    if len(text) > 1024:
        raise invalid("filter", "must be at most 1024 characters")
    parsed: list[tuple[str, str, str]] = []
    position = 0
    while True:
        match = _TERM.match(text, position)
        if not match:
            rest = text[position:].strip()[:64]
            raise invalid("filter", f"cannot parse {rest!r}; expected `field = value` terms joined by AND")
        field, op, raw = match.group(1, 2, 3)
        parsed.append((field, op, raw))
        position = match.end()
        if position == len(text):
            return [_term(field, op, raw, rules) for field, op, raw in parsed]
        joiner = _AND.match(text, position)
        if not joiner:
            raise invalid("filter", f"cannot parse {text[position:][:64]!r}; terms must be joined by AND")
        position = joiner.end()


def _term(field: str, op: str, raw: str, rules: dict[str, FieldRule]) -> Term:
    rule = rules.get(field)
    if rule is None:
        raise invalid("filter", f"unknown field {field!r}; filterable: {', '.join(sorted(rules))}")
    if op not in rule.ops:
        raise invalid("filter", f"operator {op!r} is not supported for {field!r}")
    try:
        value = json.loads(raw) if raw.startswith('"') else raw
        if "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return Term(field, op, rule.normalize(value))
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise invalid("filter", f"{field}: {exc}") from None


def parse_order(text: str, default_desc: bool) -> bool:
    """Only `create_time [asc|desc]` is orderable; returns True for descending."""
    words = text.lower().split()
    if not words:
        return default_desc
    if words[0] != "create_time" or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
        raise invalid("order_by", "must be `create_time asc` or `create_time desc`")
    return len(words) == 2 and words[1] == "desc"


def page_size(value: int) -> int:
    return value or DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: keyset (create_time, id)."""

    create_time: datetime
    id: str


class Keyed(Protocol):
    @property
    def create_time(self) -> datetime: ...
    @property
    def id(self) -> str: ...


K = TypeVar("K", bound=Keyed)


def page_of(rows: list[K], limit: int, fingerprint: str) -> tuple[list[K], str]:
    """Rows fetched with `limit + 1`: the page, and the token of the next one (empty on the last)."""
    if len(rows) <= limit:
        return rows, ""
    last = rows[limit - 1]
    return rows[:limit], encode_token(Cursor(last.create_time, last.id), fingerprint)


def query_fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def encode_token(cursor: Cursor, fingerprint: str) -> str:
    payload = {"t": cursor.create_time.isoformat(), "i": cursor.id, "q": fingerprint}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str, fingerprint: str) -> Cursor | None:
    """The cursor in `token`; InvalidArgument if it is malformed or from another query."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        cursor = Cursor(instant(payload["t"]), str(uuid.UUID(payload["i"])))
        same_query = payload["q"] == fingerprint
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise invalid("page_token", "is not a token returned by this list call") from None
    if not same_query:
        raise invalid("page_token", "belongs to a different filter, order or parent")
    return cursor


@dataclass(frozen=True)
class Query:
    """A List request, parsed: filter terms, order, where the page starts, how long it is."""

    terms: list[Term]
    desc: bool
    cursor: Cursor | None
    limit: int
    fingerprint: str

    def page(self, rows: list[K]) -> tuple[list[K], str]:
        """Rows fetched with `limit + 1`: the page and the next page's token."""
        return page_of(rows, self.limit, self.fingerprint)


def query(
    scope: tuple[object, ...],
    rules: dict[str, FieldRule],
    filter_text: str,
    order_by: str,
    size: int,
    token: str,
    default_desc: bool,
) -> Query:
    """Parse a List request (AIP-158/160); `scope` (resource kind, organization, parent) binds its tokens."""
    terms = parse_filter(filter_text, rules)
    desc = parse_order(order_by, default_desc)
    fingerprint = query_fingerprint(*scope, terms, desc)
    return Query(terms, desc, decode_token(token, fingerprint), page_size(size), fingerprint)
