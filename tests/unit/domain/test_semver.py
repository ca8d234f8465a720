"""Semantic versions (semver 2.0.0) and version-constraint ranges: server/domain/semver.py."""

from __future__ import annotations

import random

import pytest

from server.domain.semver import Constraint, InvalidVersion, Version, newest_allowed


def v(text: str) -> Version:
    return Version.parse(text)


# --- Version.parse -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0", Version(0, 0, 0)),
        ("1.2.3", Version(1, 2, 3)),
        ("10.20.30", Version(10, 20, 30)),
        ("1.2.3-alpha", Version(1, 2, 3, ("alpha",))),
        ("1.2.3-alpha.1", Version(1, 2, 3, ("alpha", "1"))),
        ("1.0.0-0", Version(1, 0, 0, ("0",))),
        ("1.0.0-0A.is.legal", Version(1, 0, 0, ("0A", "is", "legal"))),
        ("1.0.0-x-y-z.--", Version(1, 0, 0, ("x-y-z", "--"))),
        ("1.2.3-rc.1+build.5", Version(1, 2, 3, ("rc", "1"))),
        ("1.2.3+build", Version(1, 2, 3)),
        ("1.0.0+0.build.1-rc.10000aaa-kk-0.1", Version(1, 0, 0)),
        ("999999999999999999.0.0", Version(999999999999999999, 0, 0)),
        (
            "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
            Version(1, 2, 3, ("---RC-SNAPSHOT", "12", "9", "1--", "12")),
        ),
    ],
)
def test_parse_valid(text: str, expected: Version) -> None:
    assert Version.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "v1.2.3",
        "=1.2.3",
        "-1.2.3",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3-alpha..1",
        "1.2.3-alpha_1",
        "1.2.3+",
        "1.2.3+build..1",
        "1.2.3-α",
        "a.b.c",
        "1.x.0",
        "*",
    ],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidVersion, match="is not a semantic version"):
        Version.parse(text)


def test_invalid_version_is_a_value_error() -> None:
    assert issubclass(InvalidVersion, ValueError)


def test_parse_rejects_trailing_newline() -> None:
    with pytest.raises(InvalidVersion):
        Version.parse("1.2.3\n")


def test_parse_rejects_non_ascii_digits() -> None:
    with pytest.raises(InvalidVersion):
        Version.parse("1\u0661.0.0")  # ARABIC-INDIC DIGIT ONE; parses as 11.0.0 today


def test_parse_huge_number_raises_invalid_version() -> None:
    with pytest.raises(InvalidVersion):
        Version.parse("1" * 5000 + ".0.0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2.3", "1.2.3"), ("1.2.3-rc.1", "1.2.3-rc.1"), ("1.2.3-rc.1+build.7", "1.2.3-rc.1"), ("0.0.0+x", "0.0.0")],
)
def test_str_drops_build_metadata(text: str, expected: str) -> None:
    assert str(Version.parse(text)) == expected


def test_core() -> None:
    assert v("4.5.6-rc.1").core == (4, 5, 6)


# --- precedence (semver 2.0.0 §11) -------------------------------------------------

# Each is strictly lower than the next.
ORDERED = [
    "0.0.0-0",
    "0.0.0",
    "0.0.1",
    "0.1.0",
    "0.9.9",
    "1.0.0-0",
    "1.0.0-1",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-A",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
    "10.0.0",
]


@pytest.mark.parametrize(("lower", "higher"), list(zip(ORDERED, ORDERED[1:], strict=False)))
def test_precedence_adjacent(lower: str, higher: str) -> None:
    a, b = v(lower), v(higher)
    assert a < b
    assert b > a
    assert a <= b
    assert b >= a
    assert not b < a
    assert not a > b
    assert a != b


def test_sorting_a_shuffled_list_gives_semver_order() -> None:
    shuffled = [v(t) for t in ORDERED]
    random.Random(7).shuffle(shuffled)
    assert [str(x) for x in sorted(shuffled)] == ORDERED


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0-alpha", "1.0.0-alpha.0"),  # a larger set of fields has higher precedence
        ("1.0.0-9", "1.0.0-10"),  # numeric identifiers compare numerically
        ("1.0.0-999", "1.0.0-a"),  # numeric identifiers sort before alphanumeric ones
        ("1.0.0-1a", "1.0.0-1b"),  # digits followed by letters are alphanumeric, compared in ASCII
        ("1.0.0-Zeta", "1.0.0-alpha"),  # ASCII: upper case sorts before lower case
        ("1.0.0--", "1.0.0-0a"),  # '-' (0x2d) sorts before '0' (0x30)
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0", "1.0.1-alpha"),  # the core is compared first
        ("1.9.9", "1.10.0-0"),
    ],
)
def test_precedence_rules(lower: str, higher: str) -> None:
    assert v(lower) < v(higher)
    assert not v(higher) < v(lower)


@pytest.mark.parametrize(("a", "b"), [("1.2.3+a", "1.2.3+b"), ("1.2.3-rc.1+x", "1.2.3-rc.1"), ("1.2.3", "1.2.3")])
def test_build_metadata_does_not_count(a: str, b: str) -> None:
    assert v(a) == v(b)
    assert not v(a) < v(b)
    assert not v(b) < v(a)
    assert v(a) <= v(b) <= v(a)


def test_comparison_with_a_non_version_is_not_implemented() -> None:
    assert Version(1, 0, 0).__lt__("1.0.0") is NotImplemented
    with pytest.raises(TypeError):
        _ = Version(1, 0, 0) < "1.0.0"


# --- Constraint.parse / allows -----------------------------------------------------

ALLOWS: list[tuple[str, str, bool]] = [
    # any
    ("*", "0.0.0", True),
    ("*", "99.1.2", True),
    ("*", "1.0.0-rc.1", False),
    ("", "1.2.3", True),
    ("  ", "1.2.3", True),
    ("", "1.2.3-alpha", False),
    ("x", "3.4.5", True),
    ("X", "0.0.1", True),
    # exact
    ("1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False),
    ("1.2.3", "1.2.2", False),
    ("1.2.3", "1.2.3-rc.1", False),
    ("=1.2.3", "1.2.3", True),
    ("=1.2.3", "1.2.4", False),
    ("= 1.2.3", "1.2.3", True),
    ("v1.2.3", "1.2.3", True),
    ("1.2.3+build.9", "1.2.3", True),
    # = with partial versions is a range
    ("1.2", "1.2.0", True),
    ("1.2", "1.2.99", True),
    ("1.2", "1.3.0", False),
    ("1.2", "1.1.9", False),
    ("1.2", "1.2.5-rc.1", False),
    ("=1", "1.0.0", True),
    ("=1", "1.99.0", True),
    ("=1", "2.0.0", False),
    ("=1", "0.9.9", False),
    # >
    (">1.2.3", "1.2.3", False),
    (">1.2.3", "1.2.4", True),
    (">1.2.3", "2.0.0", True),
    (">1.2.3", "1.2.4-rc.1", False),
    (">1.2", "1.2.9", False),
    (">1.2", "1.3.0", True),
    (">1", "1.9.9", False),
    (">1", "2.0.0", True),
    ("> 1", "2.0.0", True),
    # >=
    (">=1.2.3", "1.2.2", False),
    (">=1.2.3", "1.2.3", True),
    (">=1.2.3", "7.0.0", True),
    (">=1.2.3", "1.2.3-rc.1", False),
    (">=1.2", "1.1.9", False),
    (">=1.2", "1.2.0", True),
    (">=1", "0.9.9", False),
    (">=1", "1.0.0", True),
    # <
    ("<1.2.3", "1.2.2", True),
    ("<1.2.3", "1.2.3", False),
    ("<1.2.3", "1.2.3-rc.1", False),
    ("<1.2.3", "1.2.2-rc.1", False),
    ("<1.2", "1.1.99", True),
    ("<1.2", "1.2.0", False),
    ("<1", "0.99.99", True),
    ("<1", "1.0.0", False),
    # <=
    ("<=1.2.3", "1.2.3", True),
    ("<=1.2.3", "1.2.4", False),
    ("<=1.2", "1.2.99", True),
    ("<=1.2", "1.3.0", False),
    ("<=1.2", "1.3.0-0", False),
    ("<=1", "1.99.99", True),
    ("<=1", "2.0.0", False),
    # ^
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "1.2.2", False),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "2.0.0-rc.1", False),
    ("^1.2.3", "1.5.0-rc.1", False),
    ("^1.2", "1.2.0", True),
    ("^1.2", "1.1.0", False),
    ("^1.2", "2.0.0", False),
    ("^1", "1.99.0", True),
    ("^1", "2.0.0", False),
    ("^0.2.3", "0.2.3", True),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.2.3", "0.2.2", False),
    ("^0.2", "0.2.0", True),
    ("^0.2", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0.3", "0.0.2", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^0", "0.9.9", True),
    ("^0", "1.0.0", False),
    ("^0.0.0", "0.0.0", True),
    ("^0.0.0", "0.0.1", False),
    ("^ 1.2.3", "1.4.0", True),
    # ~
    ("~1.2.3", "1.2.3", True),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2.3", "1.2.2", False),
    ("~1.2", "1.2.0", True),
    ("~1.2", "1.3.0", False),
    ("~1", "1.9.0", True),
    ("~1", "2.0.0", False),
    ("~0.0.1", "0.0.5", True),
    ("~0.0.1", "0.1.0", False),
    # wildcards
    ("1.x", "1.0.0", True),
    ("1.x", "1.9.9", True),
    ("1.x", "2.0.0", False),
    ("1.x", "0.9.0", False),
    ("1.X", "1.4.0", True),
    ("1.*", "1.4.0", True),
    ("1.2.*", "1.2.0", True),
    ("1.2.*", "1.2.7", True),
    ("1.2.*", "1.3.0", False),
    ("1.2.x", "1.1.0", False),
    ("^1.x", "1.5.0", True),
    ("^1.x", "2.0.0", False),
    (">=*", "0.0.0", True),
    (">*", "1.0.0", False),
    ("<x", "0.0.0", False),
    # conjunctions: spaces, commas, both, operator separated from its version
    (">=1.2.3 <2", "1.2.3", True),
    (">=1.2.3 <2", "1.9.9", True),
    (">=1.2.3 <2", "2.0.0", False),
    (">=1.2.3 <2", "1.2.2", False),
    (">=1.2.3,<2", "1.9.9", True),
    (">=1.2.3,<2", "2.0.0", False),
    (">=1.2.3, <2", "1.5.0", True),
    (">= 1.2.3 , < 2", "1.5.0", True),
    (">= 1.2.3 , < 2", "2.0.0", False),
    (">1.0.0 <1.0.0", "1.0.0", False),
    # alternatives
    ("1.2.3 || 2.x", "1.2.3", True),
    ("1.2.3 || 2.x", "2.5.0", True),
    ("1.2.3 || 2.x", "1.2.4", False),
    ("<1 || >=3", "0.5.0", True),
    ("<1 || >=3", "2.0.0", False),
    ("<1 || >=3", "3.0.0", True),
    ("1.2.3||1.2.5", "1.2.5", True),
    ("1.2.3||1.2.5", "1.2.4", False),
    # pre-releases only when named by a comparator with the same major.minor.patch
    (">=1.2.3-rc.1", "1.2.3-rc.1", True),
    (">=1.2.3-rc.1", "1.2.3-rc.2", True),
    (">=1.2.3-rc.1", "1.2.3-rc.0", False),
    (">=1.2.3-rc.1", "1.2.3", True),
    (">=1.2.3-rc.1", "1.3.0", True),
    (">=1.2.3-rc.1", "1.2.4-rc.1", False),
    (">=1.2.3-rc.1", "2.0.0-alpha", False),
    ("1.2.3-rc.1", "1.2.3-rc.1", True),
    ("1.2.3-rc.1", "1.2.3-rc.2", False),
    ("1.2.3-rc.1", "1.2.3", False),
    ("=1.2.3-rc.1+b", "1.2.3-rc.1", True),
    ("^1.2.3-beta.2", "1.2.3-beta.3", True),
    ("^1.2.3-beta.2", "1.2.3-beta.1", False),
    ("^1.2.3-beta.2", "1.5.0", True),
    ("^1.2.3-beta.2", "1.5.0-beta.3", False),
    ("~1.2.3-beta", "1.2.3-beta.1", True),
    ("~1.2.3-beta", "1.2.4-beta.1", False),
    ("<1.2.3-rc.1", "1.2.3-alpha", True),
    ("<1.2.3-rc.1", "1.2.2", True),
    ("<1.2.3-rc.1", "1.2.2-rc.1", False),
    (">1.2.3-rc.1", "1.2.3-rc.1", False),
    (">1.2.3-rc.1", "1.2.3-rc.1.1", True),
    ("<=1.2.3-rc.1", "1.2.3-rc.1", True),
    (">=1.0.0-0 <2", "1.5.0-rc.1", False),
    (">=1.2.3-rc.1 || 2.x", "1.2.3-rc.2", True),
    (">=1.2.3-rc.1 || 2.x", "2.0.0-rc.1", False),
    # the pre-release has to be named in the same alternative that accepts the version
    ("1.9.x || >=1.2.3-rc.1 <1.2.3", "1.2.3-rc.5", True),
    ("1.2.3-rc.1 || >=1.0.0", "1.2.3-rc.5", False),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), ALLOWS)
def test_allows(constraint: str, version: str, expected: bool) -> None:
    assert Constraint.parse(constraint).allows(v(version)) is expected


@pytest.mark.parametrize(("constraint", "version"), [(">1", "2.0.0-alpha"), (">1.2", "1.3.0-rc.1")])
def test_greater_than_partial_excludes_unnamed_prerelease(constraint: str, version: str) -> None:
    assert Constraint.parse(constraint).allows(v(version)) is False


def test_parse_keeps_the_original_text() -> None:
    assert Constraint.parse(" ^1.2 ").text == " ^1.2 "


@pytest.mark.parametrize("text", ["", "*", "  *  "])
def test_any_is_one_empty_alternative(text: str) -> None:
    assert Constraint.parse(text).alternatives == ((),)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "latest",
        ">=",
        "^",
        "~",
        "1.2.3 >=",
        "||",
        "1.2.3 ||",
        "|| 1.2.3",
        "1.2.3 || || 2.0.0",
        ">=>=1",
        "=>1.2.3",
        "~>1.2",
        "!1.2.3",
        "!=1.2.3",
        "1.2.3 - 2.0.0",
        "1.2.3.4",
        "1..2",
        "=v",
        "1.2-rc.1",
        "^1-beta",
        "1.x-rc.1",
        "1.2.3-",
    ],
)
def test_parse_invalid_constraint(text: str) -> None:
    with pytest.raises(InvalidVersion):
        Constraint.parse(text)


def test_prerelease_on_a_partial_version_says_why() -> None:
    with pytest.raises(InvalidVersion, match="a pre-release needs a full version"):
        Constraint.parse("~1.2-beta")


def test_empty_alternative_says_why() -> None:
    with pytest.raises(InvalidVersion, match="empty range between '\\|\\|'"):
        Constraint.parse("1.2.3 || ")


def test_constraint_huge_number_raises_invalid_version() -> None:
    with pytest.raises(InvalidVersion):
        Constraint.parse("1" * 5000)


# --- newest_allowed ----------------------------------------------------------------


def test_newest_allowed_picks_the_highest_match() -> None:
    versions = [v("1.0.0"), v("2.0.0"), v("1.5.0"), v("1.6.0-rc.1"), v("1.4.9")]
    assert newest_allowed(versions, Constraint.parse("^1")) == v("1.5.0")


def test_newest_allowed_any() -> None:
    versions = [v("0.1.0"), v("3.0.0-rc.1"), v("2.9.9")]
    assert newest_allowed(versions, Constraint.parse("*")) == v("2.9.9")


def test_newest_allowed_named_prerelease() -> None:
    versions = [v("1.2.3-rc.1"), v("1.2.3-rc.2"), v("1.2.2")]
    assert newest_allowed(versions, Constraint.parse(">=1.2.3-rc.1 <1.2.3")) == v("1.2.3-rc.2")


def test_newest_allowed_none_match() -> None:
    assert newest_allowed([v("1.0.0"), v("3.0.0")], Constraint.parse("2.x")) is None


def test_newest_allowed_empty_list() -> None:
    assert newest_allowed([], Constraint.parse("*")) is None
