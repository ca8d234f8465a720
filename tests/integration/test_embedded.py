"""The embedded PostgreSQL and Valkey servers, the launcher's child-process handling, one stack per data folder."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from server.embedded.launcher import run_stack
from server.embedded.stack_lock import Started, is_running, read_state, started, stop_leftover
from tests.auth import as_principal
from tests.integration.helpers import create_instance, deploy, events, publish, sql, sql_value, wait_until
from tests.stack import Process, wait_serving


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    try:
        yield server
    finally:
        server.stop()
        # As root, a tmp_path that user nobody cannot reach is swapped for a folder under /tmp.
        if not server.data_dir.is_relative_to(tmp_path):
            shutil.rmtree(server.data_dir, ignore_errors=True)


def test_servers_answer_keep_their_data_and_stop(postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    valkey = EmbeddedValkey(tmp_path / "valkey")
    with postgres, valkey:
        assert postgres.pid is not None and valkey.pid is not None
        pids = [postgres.pid, valkey.pid]
        if os.geteuid() == 0:
            assert os.stat(f"/proc/{postgres.pid}").st_uid == pwd.getpwnam("nobody").pw_uid
        assert sql_value(postgres.url, "SELECT 1") == 1
        sql(postgres.url, "CREATE TABLE kept AS SELECT 1 AS n")
        with redis.Redis.from_url(valkey.url) as client:
            assert client.ping()
            client.set("kept", "1")
    assert not any(_alive(pid) for pid in pids)

    with postgres, valkey:
        assert sql_value(postgres.url, "SELECT n FROM kept") == 1
        with redis.Redis.from_url(valkey.url) as client:
            assert client.get("kept") == b"1"


def test_valkey_without_data_dir_leaves_nothing_behind() -> None:
    with EmbeddedValkey() as valkey:
        with redis.Redis.from_url(valkey.url) as client:
            assert client.ping()
        pid = valkey.pid
    assert pid is not None and not _alive(pid)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_stack_stops_children_on_signal(stop_signal: signal.Signals, tmp_path: Path) -> None:
    marker = str(tmp_path)
    stopper = f"import os, time; os.kill(os.getppid(), {int(stop_signal)}); time.sleep(60)"
    code = run_stack(
        {"sleeper": [sys.executable, "-c", "import time; time.sleep(60)", marker],
         "stopper": [sys.executable, "-c", stopper, marker]},
        stop_timeout=5,
    )
    assert code == 0
    assert _processes_with(marker) == []


def test_run_stack_fails_when_a_child_exits(tmp_path: Path) -> None:
    marker = str(tmp_path)
    code = run_stack(
        {"sleeper": [sys.executable, "-c", "import time; time.sleep(60)", marker],
         "crasher": [sys.executable, "-c", "raise SystemExit(3)", marker]},
        stop_timeout=5,
    )
    assert code == 1
    assert _processes_with(marker) == []



def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _processes_with(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass  # exited while we looked
    return found


# --- `make run`: one stack per data folder ---------------------------------------------------------


@dataclass
class Launcher:
    process: Process
    address: str
    data: Path

    @property
    def token(self) -> str:
        return (self.data / "admin.token").read_text().strip()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Launcher]]:
    """Start `python -m server.embedded` on a data folder and wait until its server is SERVING.

    Afterwards every launcher is stopped by pid, and whatever a launcher that could not stop
    cleanly left recorded is stopped by pid and start time.
    """
    started: list[Launcher] = []

    def start(data: Path, **env: str) -> Launcher:
        address = f"127.0.0.1:{free_port()}"
        log = tmp_path / f"launcher-{len(started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "server.embedded"], env={**_launcher_env(data, address), **env},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        launcher = Launcher(Process("launcher", popen, log), address, data)
        started.append(launcher)
        wait_serving(address, launcher.process, timeout=240)
        return launcher

    try:
        yield start
    finally:
        for launcher in reversed(started):
            launcher.process.stop()
            for leftover in reversed(read_state(launcher.data) or []):
                stop_leftover(leftover)
            _remove_moved_postgres_data(launcher, tmp_path)


def _launcher_env(data: Path, address: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
    env.update(
        ROLLOUT_DATA_DIR=str(data), ROLLOUT_LISTEN=address, ROLLOUT_GRACE_SECONDS="1",
        ROLLOUT_SERVER_PROCESSES="1", ROLLOUT_WORKER_PROCESSES="1", ROLLOUT_ROUTER_LISTEN="127.0.0.1:0",
    )
    return env


def _remove_moved_postgres_data(launcher: Launcher, tmp_path: Path) -> None:
    # As root, data that user nobody cannot reach under tmp_path lives under /tmp instead (postgres.py).
    for moved in re.findall(r"postgres .*\(data: (.+)\)", launcher.process.log.read_text(errors="replace")):
        if not Path(moved).is_relative_to(tmp_path):
            shutil.rmtree(moved, ignore_errors=True)


def _recorded(data: Path) -> list[Started]:
    recorded = read_state(data)
    assert recorded is not None
    return recorded


def _works(launcher: Launcher) -> None:
    """SERVING, and real RPCs through the launcher's server, its database and the secrets key it made."""
    with grpc.insecure_channel(launcher.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = as_principal(channel, launcher.token)
        instance = create_instance(stub, "acme", name=f"web-{uuid.uuid4().hex[:8]}")
        stub.SetInstanceSecrets(api.SetInstanceSecretsRequest(organization_id="acme", id=instance.id, secrets={"db": "pw"}))
        assert list(stub.GetInstance(api.GetInstanceRequest(organization_id="acme", id=instance.id)).secret_names) == ["db"]


def test_a_leftover_is_stopped_only_if_pid_and_start_time_still_match(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path)], start_new_session=True)
    try:
        recorded = started("sleeper", child.pid)
        assert recorded is not None and is_running(recorded)
        for impostor in (
            dataclasses.replace(recorded, start_ticks=recorded.start_ticks - 1),  # the pid was reused
            dataclasses.replace(recorded, boot_id="another boot"),
        ):
            assert not is_running(impostor)
            stop_leftover(impostor)
            assert child.poll() is None
        stop_leftover(recorded)
        assert child.wait(timeout=30) == -signal.SIGTERM
        assert not is_running(recorded)
    finally:
        child.kill()
        child.wait()


@pytest.mark.timeout(600)
def test_a_second_launcher_on_the_same_folder_is_refused_and_the_first_keeps_serving(
    launch: Callable[[Path], Launcher], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = launch(data)
    recorded = _recorded(data)
    assert [p.name for p in recorded] == ["postgres", "valkey", "server-1", "worker-1", "router"]
    state_before = (data / "stack.state").read_bytes()

    second = subprocess.run(
        [sys.executable, "-m", "server.embedded"], env=_launcher_env(data, f"127.0.0.1:{free_port()}"),
        capture_output=True, text=True, timeout=120,
    )

    assert second.returncode != 0
    assert f"already running on {data} (launcher pid {first.process.popen.pid})" in second.stderr
    assert (data / "stack.state").read_bytes() == state_before
    assert all(is_running(p) for p in recorded)
    _works(first)
    # The key reached the children as a file path: no process's arguments or environment hold a key.
    key_file = data / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keys = [line for line in key_file.read_text().splitlines() if line and not line.startswith("#")]
    for process in recorded:
        seen = Path(f"/proc/{process.pid}/cmdline").read_bytes() + Path(f"/proc/{process.pid}/environ").read_bytes()
        assert not any(k.encode() in seen for k in keys)
    assert f"ROLLOUT_SECRETS_KEY_FILE={key_file}".encode() in Path(f"/proc/{recorded[2].pid}/environ").read_bytes()

    first.process.stop()
    assert first.process.popen.returncode == 0
    assert not any(is_running(p) for p in recorded)
    assert read_state(data) is None


@pytest.mark.timeout(600)
def test_a_killed_launchers_folder_starts_again_and_leaves_no_orphans(
    launch: Callable[[Path], Launcher], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = launch(data)
    orphans = _recorded(data)
    first.process.kill(signal.SIGKILL)
    assert all(is_running(p) for p in orphans)  # what a killed launcher leaves behind

    again = launch(data)

    assert not any(is_running(p) for p in orphans)
    log = again.process.log.read_text(errors="replace")
    assert all(f"stopping {p.name} (pid {p.pid}), left running" in log for p in orphans)
    _works(again)
    replacements = _recorded(data)
    again.process.stop()
    assert again.process.popen.returncode == 0
    assert not any(is_running(p) for p in replacements)


@pytest.mark.timeout(600)
def test_several_servers_share_the_port_and_every_one_streams_what_any_worker_does(
    launch: Callable[..., Launcher], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    launcher = launch(data, ROLLOUT_SERVER_PROCESSES="2", ROLLOUT_WORKER_PROCESSES="2")
    recorded = _recorded(data)
    assert [p.name for p in recorded] == ["postgres", "valkey", "server-1", "server-2", "worker-1", "worker-2", "router"]
    servers = {p.pid for p in recorded if p.name.startswith("server-")}

    def logged_by_servers(event: str, method: str | None = None) -> set[int]:
        lines = launcher.process.log.read_text(errors="replace").splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{") and event in line]
        return {r["pid"] for r in records if r.get("event", "").startswith(event) and method in (None, r.get("method"))}

    # The launcher is ready once one server serves; connections made before the other listens all go to
    # the first (on a loaded machine it can start seconds later).
    wait_until(lambda: logged_by_servers("serving rollout.v1.RolloutService") == servers, "both servers listening")
    admin = as_principal(grpc.insecure_channel(launcher.address), launcher.token)
    instance = create_instance(admin, "acme", name="multi")
    publish(admin, "acme", "1.0.0")
    # One connection each (no shared subchannel): the kernel spreads them over both servers.
    channels = [grpc.insecure_channel(launcher.address, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(24)]
    try:
        for channel in channels:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="rollout.v1.RolloutService"), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        watches = [
            as_principal(channel, launcher.token).WatchInstance(
                api.WatchInstanceRequest(organization_id="acme", id=instance.id), timeout=120)
            for channel in channels
        ]
        done = deploy(admin, "acme", instance.id)
        assert done.status == pb.Deployment.STATUS_COMPLETED
        terminal = len(events(admin, "acme", done.id))
        for watch in watches:
            seen = [next(watch) for _ in range(terminal)]
            assert [e.instance_sequence for e in seen] == list(range(1, terminal + 1))
            assert seen[-1].status == pb.Deployment.STATUS_COMPLETED
            watch.cancel()
    finally:
        for channel in channels:
            channel.close()

    # Each server logs its streams as they end: both served some (24 connections all on one has odds 2^-23).
    wait_until(lambda: logged_by_servers("rpc", "WatchInstance") == servers, "streams logged by both servers")
