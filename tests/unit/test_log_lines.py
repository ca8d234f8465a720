"""A structured log line reaches stderr in one write (server/telemetry/logs.py): lines of processes that
share a pipe or a file (the launcher's children) never interleave, even unbuffered (PYTHONUNBUFFERED)."""

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from server.telemetry import logs


class Recorder(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def isatty(self) -> bool:
        return False


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_each_line_is_one_write_of_one_json_object(monkeypatch: pytest.MonkeyPatch, restored: None) -> None:
    stderr = Recorder()
    monkeypatch.setattr(sys, "stderr", stderr)  # in the test itself: pytest sets its own before each phase
    logs.configure("server", "info")
    log = logs.get("rollout.rpc")
    log.info("rpc", method="RollbackDeployment", code="OK")
    log.debug("not at info level")
    [written] = stderr.writes
    assert written.endswith("\n") and written.count("\n") == 1
    line = json.loads(written)
    assert (line["event"], line["logger"], line["level"], line["method"]) == ("rpc", "rollout.rpc", "info", "RollbackDeployment")
    assert line["process"] == "server" and "timestamp" in line
