"""Structured logs: JSON lines when stderr is not a terminal, readable lines when it is.

Every process configures logging once at start (`configure`); the standard
library's loggers (arq, asyncio, ours) go through the same renderer, so a
line is one JSON object a log pipeline can index. Tokens and secrets are
never logged: what reaches a log is ids, names, codes and durations.

structlog's loggers (`get`: the per-RPC line, a run's steps) write their
lines to stderr directly, rendered by orjson, instead of through the
standard library's handlers: 9 µs a line instead of 105 (README, Performance).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, TextIO

import orjson
import structlog

from server.telemetry import traces

# arq logs every job, and the sweeper runs every few seconds: an idle stack's sweeps are
# debug-level noise, other jobs stay at info.
_QUIET = ("cron:sweep",)


class _IdleSweeps(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not any(q in record.getMessage() for q in _QUIET)


def _trace_ids(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The current trace and span ids, when tracing is on (server/telemetry/traces.py)."""
    ids = traces.current_ids()
    if ids:
        event["trace_id"], event["span_id"] = ids
    return event


def configure(process: str, level: str | None = None) -> None:
    """Logging for one process (`server`, `worker`, `launcher`…), from ROLLOUT_LOG_LEVEL (default info)."""
    chosen = (level or os.environ.get("ROLLOUT_LOG_LEVEL") or "info").upper()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
    ]
    tty = sys.stderr.isatty()
    renderer: Any = structlog.dev.ConsoleRenderer(colors=True) if tty else structlog.processors.JSONRenderer(_json)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(_IdleSweeps())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(chosen)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=lambda name="": _Lines(name, sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(chosen)),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process, pid=os.getpid())


class _Lines:
    """Writes each line to a file in one write call, so lines of processes sharing a pipe or a file never
    interleave (print writes the newline apart, a write of its own when the stream is unbuffered, as
    PYTHONUNBUFFERED makes it); named, as add_logger_name asks a logger."""

    def __init__(self, name: str, file: TextIO) -> None:
        self.name = name
        self._file = file
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            self._file.write(message + "\n")
            self._file.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _json(event: dict[str, Any], **options: Any) -> str:
    return orjson.dumps(event, **options).decode()


def get(name: str) -> Any:
    """A structured logger: `log.info("rpc", method=…, code=…)` becomes one JSON line."""
    return structlog.get_logger(name)
