"""`make run`: PostgreSQL, Valkey, migrations, the gRPC server, the worker and the edge router in one command.

Services already given through ROLLOUT_DATABASE_URL or ROLLOUT_REDIS_URL are
used as they are; the missing ones are started from the wheels with their
data under ROLLOUT_DATA_DIR (default ./.rollout). One launcher per data folder
(server/embedded/stack_lock.py). Without ROLLOUT_SECRETS_KEY(_FILE), the key
of instance secrets is `<data>/secrets.key`, made on first start; without
ROLLOUT_ARTIFACT_STORE, artifacts live in `<data>/artifacts`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from server.config import default_store
from server.keyring import KEY_FILE_NAME, create_key_file
from server.telemetry import logs

from .postgres import EmbeddedPostgres, free_port
from .stack_lock import AlreadyRunning, StackLock
from .valkey import EmbeddedValkey

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_METRICS = "127.0.0.1:9464"
DEFAULT_ROUTER = "127.0.0.1:8080"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main() -> int:
    """Run the dev stack until Ctrl-C or SIGTERM; return the process exit code."""
    logs.configure("launcher")
    data_root = Path(os.environ.get("ROLLOUT_DATA_DIR") or ".rollout").absolute()
    env = dict(os.environ)
    env["ROLLOUT_DATA_DIR"] = str(data_root)
    lock = StackLock(data_root)
    services = ExitStack()
    try:
        with _interrupt_on(signal.SIGTERM, signal.SIGHUP):
            try:
                stale = lock.acquire()
            except AlreadyRunning as exc:
                log.error("%s; stop it first, or set ROLLOUT_DATA_DIR to another folder", exc)
                return 1
            _use_secrets_key(env, data_root)
            _use_artifact_store(env, data_root)
            _use_addresses(env, data_root)
            _start_services(services, data_root, env, lock, stale)
            if _migrate(env) != 0 or _first_admin(env) != 0:
                return 1
            commands = _processes(env)
            _print_banner(env, commands)
            return run_stack(commands, env, on_spawn=lock.record)
    except KeyboardInterrupt:
        log.info("interrupted; stopping")
        return 0
    finally:
        # The rest is bounded by timeouts; a second Ctrl-C must not leave a server behind.
        with _ignoring(*_STOP_SIGNALS):
            services.close()
            if lock.held:
                lock.release()
                log.info("stopped")


def run_stack(commands: Mapping[str, Sequence[str]], env: Mapping[str, str] | None = None,
              *, stop_timeout: float = 10.0, on_spawn: Callable[[str, int], None] | None = None) -> int:
    """Run `commands` (name -> argv) until SIGINT/SIGTERM/SIGHUP arrives or one of them exits.

    Then SIGTERM every child's process group, SIGKILL what is still there after
    `stop_timeout` seconds, and return 0 for a requested stop, 1 if a child
    exited on its own. `on_spawn(name, pid)` is called as each one starts.
    Must be called from the main thread.
    """
    # Signal numbers land in a pipe, so one blocking read waits for both a
    # stop request and a child's exit (SIGCHLD) without polling.
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = {sig: signal.signal(sig, _record) for sig in (*_STOP_SIGNALS, signal.SIGCHLD)}
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in commands.items():
            # Own session each: the terminal's Ctrl-C goes to us alone, and we stop them in order.
            children[name] = subprocess.Popen(list(argv), env=env, start_new_session=True)
            if on_spawn is not None:
                on_spawn(name, children[name].pid)
            log.info("started %s (pid %d)", name, children[name].pid)
        return _wait_for_stop(read_fd, children)
    finally:
        _terminate(children, stop_timeout)
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(read_fd)
        os.close(write_fd)


def _use_secrets_key(env: dict[str, str], data_root: Path) -> None:
    """The key file under the data folder unless keys are configured; its path, never a key, goes to the children."""
    if env.get("ROLLOUT_SECRETS_KEY") or env.get("ROLLOUT_SECRETS_KEY_FILE"):
        log.info("secrets   using the configured key")
        return
    path = data_root / KEY_FILE_NAME
    if create_key_file(path):
        log.info("secrets   created %s (mode 0600): back it up, instance secrets cannot be read without it", path)
    env["ROLLOUT_SECRETS_KEY_FILE"] = str(path)


def _use_artifact_store(env: dict[str, str], data_root: Path) -> None:
    """The folder under the data folder unless a store is configured; migration, server and worker get the same."""
    env["ROLLOUT_ARTIFACT_STORE"] = env.get("ROLLOUT_ARTIFACT_STORE") or default_store(data_root)
    log.info("artifacts %s", env["ROLLOUT_ARTIFACT_STORE"])


def _start_services(services: ExitStack, data_root: Path, env: dict[str, str], lock: StackLock, stale: bool) -> None:
    """Start whatever `env` doesn't already point at, and put its URL into `env`."""
    if env.get("ROLLOUT_DATABASE_URL"):
        log.info("postgres  using ROLLOUT_DATABASE_URL")
    else:
        postgres = services.enter_context(EmbeddedPostgres(
            data_root / "postgres", stop_leftover=stale,
            on_spawn=lambda pid: lock.record("postgres", pid, signal.SIGINT),  # its fast shutdown
        ))
        env["ROLLOUT_DATABASE_URL"] = postgres.url
        log.info("postgres  %s  (data: %s)", postgres.url, postgres.data_dir)
    if env.get("ROLLOUT_REDIS_URL"):
        log.info("valkey    using ROLLOUT_REDIS_URL")
    else:
        valkey = services.enter_context(EmbeddedValkey(data_root / "valkey", on_spawn=lambda pid: lock.record("valkey", pid)))
        env["ROLLOUT_REDIS_URL"] = valkey.url
        log.info("valkey    %s  (data: %s)", valkey.url, valkey.data_dir)


def _migrate(env: Mapping[str, str]) -> int:
    started = time.monotonic()
    code = subprocess.run([sys.executable, "-m", "server.migrate"], env=env, check=False).returncode
    if code != 0:
        log.error("migrations failed with code %d; stopping", code)
    else:
        log.info("migrations applied in %.1fs", time.monotonic() - started)
    return code


def _first_admin(env: Mapping[str, str]) -> int:
    """The first organization admin and its token in <data dir>/admin.token (server/first_admin.py)."""
    code = subprocess.run([sys.executable, "-m", "server.first_admin"], env=env, check=False).returncode
    if code != 0:
        log.error("creating the first admin failed with code %d; stopping", code)
    return code


def _use_addresses(env: dict[str, str], data_root: Path) -> None:
    """Fix the ports before anything starts (a `:0` is chosen here, so the banner can say it), and
    give the processes one metrics folder (prometheus-client's multiprocess mode) and endpoint."""
    listen = env.get("ROLLOUT_LISTEN") or DEFAULT_LISTEN
    host, _, port = listen.rpartition(":")
    env["ROLLOUT_LISTEN"] = f"{host}:{free_port(host.strip('[]') or '127.0.0.1')}" if port == "0" else listen
    env.setdefault("ROLLOUT_METRICS_LISTEN", DEFAULT_METRICS)
    router = env.get("ROLLOUT_ROUTER_LISTEN") or DEFAULT_ROUTER
    router_host, _, router_port = router.rpartition(":")
    env["ROLLOUT_ROUTER_LISTEN"] = f"{router_host}:{free_port(router_host.strip('[]') or '127.0.0.1')}" if router_port == "0" else router
    # public_url names the router's real port.
    env.setdefault("ROLLOUT_PUBLIC_DOMAIN", f"localhost:{env['ROLLOUT_ROUTER_LISTEN'].rpartition(':')[2]}")
    metrics_dir = data_root / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # one stack per folder: the last run's values are dead
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)


def process_counts(env: Mapping[str, str], cpus: int) -> tuple[int, int]:
    """(servers, workers): ROLLOUT_SERVER_PROCESSES and ROLLOUT_WORKER_PROCESSES, by default one of each
    per core, up to 4 (past that, PostgreSQL is what limits the hot path). SystemExit for a bad value."""
    default = max(1, min(cpus, 4))
    counts = []
    for name in ("ROLLOUT_SERVER_PROCESSES", "ROLLOUT_WORKER_PROCESSES"):
        raw = env.get(name) or str(default)
        if not raw.isdigit() or not 1 <= int(raw) <= 64:
            raise SystemExit(f"rollout: {name}={raw!r} must be a whole number from 1 to 64")
        counts.append(int(raw))
    return counts[0], counts[1]


def _processes(env: dict[str, str]) -> dict[str, list[str]]:
    """The server, worker and router processes to run; several servers share the gRPC port (SO_REUSEPORT)."""
    servers, workers = process_counts(env, len(os.sched_getaffinity(0)))
    if servers > 1:
        env["ROLLOUT_SHARE_PORT"] = "1"
    commands = {f"server-{n}": [sys.executable, "-m", "server"] for n in range(1, servers + 1)}
    commands.update({f"worker-{n}": [sys.executable, "-m", "workers"] for n in range(1, workers + 1)})
    commands["router"] = [sys.executable, "-m", "router"]  # the edge router (docs/router.md)
    return commands


def _print_banner(env: Mapping[str, str], commands: Mapping[str, object]) -> None:
    listen = env["ROLLOUT_LISTEN"]
    host, _, port = listen.rpartition(":")
    target = f"127.0.0.1:{port}" if host in ("", "0.0.0.0", "[::]") else listen
    token = _shown(Path(env["ROLLOUT_DATA_DIR"]) / "admin.token")
    organization = env.get("ROLLOUT_ORGANIZATION") or "acme"
    servers = sum(name.startswith("server-") for name in commands)
    workers = sum(name.startswith("worker-") for name in commands)
    log.info("gRPC      %s (%d server processes, %d workers)", target, servers, workers)
    log.info("metrics   http://%s/metrics", env["ROLLOUT_METRICS_LISTEN"])
    log.info("router    http://%s  (each instance's public_url, e.g. http://<name>.<project>.<env>.%s.localhost:%s)",
             env["ROLLOUT_ROUTER_LISTEN"], organization, env["ROLLOUT_ROUTER_LISTEN"].rpartition(":")[2])
    log.info(
        "try       %s -plaintext -H \"authorization: Bearer $(cat %s)\" -d '{\"organization_id\":\"%s\"}' %s "
        "rollout.v1.RolloutService/ListInstances",
        _shown(Path(sys.executable).parent / "grpcurl"), token, organization, target,
    )
    log.info("or        %s instances", _shown(Path(sys.executable).parent / "rolloutctl"))
    log.info("Ctrl-C stops everything")


def _shown(path: Path) -> str:
    """`path` as a command line in the current folder would spell it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _wait_for_stop(read_fd: int, children: Mapping[str, subprocess.Popen[bytes]]) -> int:
    while True:
        for name, proc in children.items():
            if proc.poll() is not None:
                log.error("%s exited unexpectedly with code %d; stopping everything", name, proc.returncode)
                return 1
        received = set(os.read(read_fd, 64))
        stops = [sig for sig in _STOP_SIGNALS if sig in received]
        if stops:
            log.info("got %s; stopping", stops[0].name)
            return 0


def _terminate(children: Mapping[str, subprocess.Popen[bytes]], timeout: float) -> None:
    for proc in children.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for name, proc in children.items():
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", name, timeout)
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The whole group, so helpers the child spawned stop with it.
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _record(signum: int, frame: FrameType | None) -> None:
    """Does nothing: the wakeup fd has already recorded the signal."""


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _interrupt_on(*signals: signal.Signals) -> Iterator[None]:
    """Turn `signals` into KeyboardInterrupt, so they unwind like Ctrl-C."""
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _ignoring(*signals: signal.Signals) -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
