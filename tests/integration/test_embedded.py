"""The embedded PostgreSQL and Valkey servers, and the launcher's child-process handling."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from server.embedded import EmbeddedPostgres, EmbeddedValkey
from server.embedded.launcher import run_stack


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
        assert asyncio.run(_sql(postgres.url, "SELECT 1")) == 1
        asyncio.run(_sql(postgres.url, "CREATE TABLE kept AS SELECT 1 AS n"))
        with redis.Redis.from_url(valkey.url) as client:
            assert client.ping()
            client.set("kept", "1")
    assert not any(_alive(pid) for pid in pids)

    with postgres, valkey:
        assert asyncio.run(_sql(postgres.url, "SELECT n FROM kept")) == 1
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


async def _sql(url: str, query: str) -> object:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


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
