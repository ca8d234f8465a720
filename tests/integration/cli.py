"""Running the real `rolloutctl` executable against the test stack, as a person or a script would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent / "rolloutctl"


def executable() -> list[str]:
    """The console script `pip install -e .` put beside python; `python -m rolloutctl` without one."""
    return [str(BIN)] if BIN.exists() else [sys.executable, "-m", "rolloutctl"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """rolloutctl configured for one organization of the test stack through the environment."""

    address: str
    org: str
    token_file: Path
    home: Path

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_") and k != "COLUMNS"}
        env.update(
            ROLLOUT_ADDRESS=self.address,
            ROLLOUT_ORGANIZATION=self.org,
            ROLLOUT_TOKEN_FILE=str(self.token_file),
            XDG_CONFIG_HOME=str(self.home / "config"),  # no config file of the machine's user
            ROLLOUT_RECONNECT_TIMEOUT="30",
        )
        env.update(overrides)
        return env

    def run(self, *args: str, timeout: float = 90, **env: str) -> Result:
        # cwd has no .rollout/: nothing but the environment configures it.
        done = subprocess.run([*executable(), *args], cwd=self.home, env=self.env(**env), capture_output=True,
                              text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, **env: str) -> Result:
        result = self.run(*args, **env)
        assert result.code == 0, result
        return result

    def start(self, *args: str, **env: str) -> Started:
        """rolloutctl in the background, in its own process group, output to files."""
        out, err = self.home / f"out-{time.monotonic_ns()}", self.home / f"err-{time.monotonic_ns()}"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen([*executable(), *args], cwd=self.home, env=self.env(**env), stdout=stdout,
                                     stderr=stderr, start_new_session=True)
        return Started(popen, out, err)


@dataclass
class Started:
    popen: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path

    @property
    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for(self, seen: Callable[[Started], bool], what: str, timeout: float = 60) -> None:
        """Poll the output (bounded) until `seen` holds; fail saying what was awaited."""
        deadline = time.monotonic() + timeout
        while not seen(self):
            if time.monotonic() > deadline or self.popen.poll() is not None and not seen(self):
                raise AssertionError(f"never saw {what}; exit {self.popen.poll()}\nstdout:\n{self.out}\nstderr:\n{self.err}")
            time.sleep(0.05)

    def finish(self, timeout: float = 90) -> Result:
        code = self.popen.wait(timeout=timeout)
        return Result(code, self.out, self.err)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=15)
