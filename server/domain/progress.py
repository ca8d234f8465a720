"""What a step's output may show: lines cut to size, secret values never shown, and a bounded count."""

from __future__ import annotations

from collections.abc import Iterable

MAX_LINE = 512
MAX_LINES = 1000
REDACTED = "[redacted]"


def redact(line: str, secrets: Iterable[str]) -> str:
    """`line` with every secret value in it replaced (longest first, so no part of one survives)."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        line = line.replace(value, REDACTED)
    return line


def clip(line: str, limit: int = MAX_LINE) -> str:
    line = line.rstrip("\r\n")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def shown(line: str, secrets: Iterable[str]) -> str:
    """A line of output as an event may carry it: redacted first, then cut (a cut never reveals)."""
    return clip(redact(line, secrets))


def elided(count: int) -> str:
    """The last line shown when a step's output goes past MAX_LINES."""
    return f"… {count} more lines not shown"
