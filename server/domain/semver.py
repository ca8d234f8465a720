"""Semantic versions (semver 2.0.0) and the version-constraint ranges instances use.

Constraint grammar (npm-like, the subset operators expect):
  ``*`` or empty      any version
  ``1.2.3``           exactly that version (``=1.2.3`` too)
  ``>=1.2 <2``        comparators (``>``, ``>=``, ``<``, ``<=``, ``=``) joined by spaces or commas: all must hold
  ``^1.2.3``          same major (same minor below 1.0.0)
  ``~1.2.3``          same minor
  ``1.x`` / ``1.2.*`` wildcards
  ``a || b``          either range
Pre-releases satisfy a range only when named explicitly by a comparator with the same major.minor.patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_PARTIAL = re.compile(
    r"v?([0-9]+|[xX*])(?:\.([0-9]+|[xX*]))?(?:\.([0-9]+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)
_COMPARATOR = re.compile(r"(>=|<=|>|<|=|\^|~)?\s*(.+)")
# Longer numbers are refused before int() sees them.
MAX_NUMBER_DIGITS = 18


class InvalidVersion(ValueError):
    pass


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.fullmatch(text)
        if not match or any(len(n) > MAX_NUMBER_DIGITS for n in match.group(1, 2, 3)):
            raise InvalidVersion(f"{text!r} is not a semantic version like 1.2.3")
        pre = tuple(match.group(4).split(".")) if match.group(4) else ()
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        if self.core != other.core:
            return self.core < other.core
        if not self.prerelease or not other.prerelease:
            # A pre-release sorts before its release.
            return bool(self.prerelease) and not other.prerelease
        return _prerelease_key(self.prerelease) < _prerelease_key(other.prerelease)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{'.'.join(self.prerelease)}" if self.prerelease else text


def _prerelease_key(parts: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    # Numeric identifiers sort numerically and before alphanumeric ones.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


@dataclass(frozen=True)
class _Bound:
    op: str  # one of > >= < <= =
    version: Version
    # False for bounds this module derives (1.x → <2.0.0-0): their "-0" is
    # not a pre-release the user named, so it must not admit pre-releases.
    named: bool = True

    def holds(self, v: Version) -> bool:
        if self.op == "=":
            return v == self.version
        if self.op == ">":
            return v > self.version
        if self.op == ">=":
            return v >= self.version
        if self.op == "<":
            return v < self.version
        return v <= self.version


@dataclass(frozen=True)
class Constraint:
    """A parsed range: any of `alternatives` (each a conjunction of bounds) must hold."""

    text: str
    alternatives: tuple[tuple[_Bound, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Constraint:
        stripped = text.strip()
        if stripped in ("", "*"):
            return cls(text, ((),))
        alternatives = []
        for part in stripped.split("||"):
            tokens = _tokens(part)
            if not tokens:
                raise InvalidVersion(f"{text!r}: empty range between '||'")
            bounds: list[_Bound] = []
            for token in tokens:
                bounds.extend(_expand(token))
            alternatives.append(tuple(bounds))
        return cls(text, tuple(alternatives))

    def allows(self, version: Version) -> bool:
        for bounds in self.alternatives:
            if all(b.holds(version) for b in bounds) and _prerelease_allowed(version, bounds):
                return True
        return False


def _prerelease_allowed(version: Version, bounds: tuple[_Bound, ...]) -> bool:
    if not version.prerelease:
        return True
    return any(b.named and b.version.prerelease and b.version.core == version.core for b in bounds)


def _tokens(part: str) -> list[str]:
    # Join an operator separated from its version by spaces: ">= 1.2" → ">=1.2".
    raw = [t for t in re.split(r"[\s,]+", part.strip()) if t]
    tokens: list[str] = []
    for token in raw:
        if tokens and tokens[-1] in (">=", "<=", ">", "<", "=", "^", "~"):
            tokens[-1] += token
        else:
            tokens.append(token)
    return tokens


def _expand(token: str) -> list[_Bound]:
    match = _COMPARATOR.fullmatch(token)
    if not match:
        raise InvalidVersion(f"{token!r} is not a version comparator")
    op, rest = match.group(1) or "=", match.group(2)
    partial = _PARTIAL.fullmatch(rest)
    if not partial or any(n and len(n) > MAX_NUMBER_DIGITS for n in partial.group(1, 2, 3)):
        raise InvalidVersion(f"{token!r} is not a version comparator")
    nums = [g for g in partial.group(1, 2, 3)]
    pre = tuple(partial.group(4).split(".")) if partial.group(4) else ()
    given = [int(n) for n in _while_numeric(nums)]
    if pre and len(given) < 3:
        raise InvalidVersion(f"{token!r}: a pre-release needs a full version")
    if not given:
        if op in ("<", ">"):
            return [_Bound("<", Version(0, 0, 0, ("0",)), named=False)]  # matches nothing
        return []
    padded = given + [0] * (3 - len(given))
    low = Version(padded[0], padded[1], padded[2], pre)
    if op == "=":
        if len(given) == 3:
            return [_Bound("=", low)]
        return [_Bound(">=", low), _upper(given, len(given) - 1)]
    if op == "^":
        first_nonzero = next((i for i, n in enumerate(given) if n != 0), len(given) - 1)
        return [_Bound(">=", low), _upper(given, min(first_nonzero, len(given) - 1))]
    if op == "~":
        return [_Bound(">=", low), _upper(given, 1 if len(given) >= 2 else 0)]
    if op == ">" and len(given) < 3:
        return [_Bound(">=", _bump(given, len(given) - 1), named=False)]
    if op == "<=" and len(given) < 3:
        return [_upper(given, len(given) - 1)]
    return [_Bound(op, low)]


def _while_numeric(parts: list[str | None]) -> list[str]:
    out: list[str] = []
    for p in parts:
        if p is None or not p.isdigit():
            break
        out.append(p)
    return out


def _bump(given: list[int], index: int) -> Version:
    """The first version past `given` at position `index` (1.2 bumped at 0 → 2.0.0-0)."""
    nums = given[: index + 1] + [0] * (2 - index)
    nums[index] += 1
    # The "-0" pre-release makes the upper bound exclude 2.0.0-rc.1 and the like.
    return Version(nums[0], nums[1], nums[2], ("0",))


def _upper(given: list[int], index: int) -> _Bound:
    return _Bound("<", _bump(given, index), named=False)


def newest_allowed(versions: list[Version], constraint: Constraint) -> Version | None:
    allowed = [v for v in versions if constraint.allows(v)]
    return max(allowed) if allowed else None
