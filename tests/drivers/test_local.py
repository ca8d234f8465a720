"""The local driver beyond the contract: timeouts, what a command is given, secrets, adoption by another worker."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
from pathlib import Path

import pytest

from server.domain.models import Kind
from tests.drivers.contract import Lines, Scenario, located, runtime_of
from tests.drivers.local_kit import HOST, LocalKit, manifest
from tests.unit import factories as make
from workers.drivers import DriverError, local_commands
from workers.drivers import local_processes as processes
from workers.drivers.local import LocalDriver

SECRET = "hunter2-s3cret-value"


@pytest.fixture()
def kit(tmp_path: Path) -> LocalKit:
    return LocalKit(tmp_path, grace_seconds=1.0)


def test_a_step_past_its_timeout_is_stopped_with_its_whole_process_group(kit: LocalKit) -> None:
    release = kit.publish(manifest("hang", "ok", step_timeout=1))
    with pytest.raises(DriverError, match="did not finish within 1s"):
        asyncio.run(kit.driver.provision(kit.step(Scenario.HANGS, Lines(), release=release)))
    assert len(kit.recorded()) == 2, "the step and the child it started ran"
    assert kit.leftovers() == []


def test_a_failing_command_fails_with_the_tail_of_its_stderr(kit: LocalKit) -> None:
    with pytest.raises(DriverError) as failed:
        asyncio.run(kit.driver.provision(kit.step(Scenario.FAILS, Lines())))
    assert str(failed.value) == "provision exited with code 3: it broke"


def test_a_command_gets_the_snapshot_on_stdin_and_in_a_file(kit: LocalKit) -> None:
    lines = Lines()
    step = kit.step(Scenario.SUCCEEDS, lines, {"db-password": SECRET}, release=kit.publish(manifest("snapshot", "ok")))
    asyncio.run(kit.driver.provision(step))
    given = json.loads(lines.seen[-1])
    assert given["params"] == step.deployment.params
    assert (given["deployment_id"], given["version"], given["bundle_release_id"]) == ("d-proposal", "1.0.0", "rel-1.0.0")
    assert given["connection_params"] == step.deployment.connection_params
    assert given["instance"]["name"] == "web" and given["step"] == "provision"
    assert given["secrets"] == {"db-password": "DB_PASSWORD"}, "names only"
    assert SECRET not in lines.seen[-1]


def test_secrets_are_in_the_environment_only(kit: LocalKit) -> None:
    lines = Lines()
    release = kit.publish(manifest("secret", "ok"))
    asyncio.run(kit.driver.provision(kit.step(Scenario.SUCCEEDS, lines, {"db-password": SECRET}, release=release)))
    assert "sha256 " + hashlib.sha256(SECRET.encode()).hexdigest() in lines.seen
    # The driver hands lines on as they are; the worker's progress log redacts them (workers/progress.py).
    assert "the password is " + SECRET in lines.seen

    async def serve() -> None:
        step = kit.step(Scenario.SUCCEEDS, Lines(), {"db-password": SECRET})
        runtime = runtime_of(step)
        started = await kit.driver.start_runtime_instance(runtime, step)
        try:
            assert SECRET not in kit.files(), "nothing on disk holds it"
            assert SECRET.encode() not in Path(f"/proc/{started.pid}/cmdline").read_bytes()
            assert f"DB_PASSWORD={SECRET}".encode() in Path(f"/proc/{started.pid}/environ").read_bytes()
        finally:
            await kit.driver.stop_runtime_instance(located(runtime, started))

    asyncio.run(serve())


def test_a_failure_message_never_shows_a_secret(kit: LocalKit) -> None:
    release = kit.publish(manifest("fail-secret", "ok"))
    with pytest.raises(DriverError) as failed:
        asyncio.run(kit.driver.provision(kit.step(Scenario.SUCCEEDS, Lines(), {"db-password": SECRET}, release=release)))
    assert str(failed.value) == "provision exited with code 1: cannot log in with [redacted]"


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"db-password": "a", "db_password": "b"}, "would both be $DB_PASSWORD"),
        ({"port": "1"}, "would be $PORT"),
        ({"rollout-key": "1"}, "would be $ROLLOUT_KEY"),
    ],
)
def test_secrets_whose_variables_clash_fail_the_step(kit: LocalKit, secrets: dict[str, str], message: str) -> None:
    with pytest.raises(DriverError, match=message.replace("$", r"\$")):
        asyncio.run(kit.driver.provision(kit.step(Scenario.SUCCEEDS, Lines(), secrets)))


def test_a_command_that_cannot_start_fails_the_step(kit: LocalKit) -> None:
    release = kit.publish(b'[provision]\ncommand = ["./no-such-program"]\n')
    with pytest.raises(DriverError, match="could not start './no-such-program'"):
        asyncio.run(kit.driver.provision(kit.step(Scenario.SUCCEEDS, Lines(), release=release)))


def test_a_plain_artifact_has_nothing_to_run(kit: LocalKit) -> None:
    lines = Lines()
    step = kit.step(Scenario.SUCCEEDS, lines, release=make.release(manifest=None))
    asyncio.run(kit.driver.provision(step))
    assert lines.seen == []


def test_a_serve_command_that_exits_fails_with_its_output(kit: LocalKit) -> None:
    release = kit.publish(manifest("ok", "exit"))
    step = kit.step(Scenario.SUCCEEDS, Lines(), release=release)
    with pytest.raises(DriverError, match="serve exited before its health check passed: serve gave up: no database"):
        asyncio.run(kit.driver.start_runtime_instance(runtime_of(step), step))
    assert kit.leftovers() == []


def test_a_release_without_serve_cannot_start_a_runtime_instance(kit: LocalKit) -> None:
    step = kit.step(Scenario.SUCCEEDS, Lines(), release=kit.publish(b'[provision]\ncommand = ["true"]\n'))
    with pytest.raises(DriverError, match="RELEASE_NOT_SERVABLE"):
        asyncio.run(kit.driver.start_runtime_instance(runtime_of(step), step))


def test_another_worker_on_the_host_finds_checks_and_stops_a_runtime_instance(kit: LocalKit, tmp_path: Path) -> None:
    step = kit.step(Scenario.SUCCEEDS, Lines())
    runtime = runtime_of(step)
    started = asyncio.run(kit.driver.start_runtime_instance(runtime, step))
    serving = located(runtime, started)
    other = LocalDriver(tmp_path / "data", HOST, 1.0)  # a worker started later, with the same data dir
    assert other.reaches(serving) and asyncio.run(other.healthy(serving))
    assert asyncio.run(other.inventory()) == [runtime.id]
    elsewhere = LocalDriver(tmp_path / "data", "another-host", 1.0)
    assert not elsewhere.reaches(serving)

    asyncio.run(other.stop_runtime_instance(serving))
    assert not processes.alive(started.pid, started.pid_start)
    assert not asyncio.run(kit.driver.healthy(serving))
    assert kit.leftovers() == []


def test_a_runtime_instance_that_dies_is_no_longer_healthy(kit: LocalKit) -> None:
    step = kit.step(Scenario.SUCCEEDS, Lines())
    runtime = runtime_of(step)
    started = asyncio.run(kit.driver.start_runtime_instance(runtime, step))
    os.kill(started.pid, signal.SIGKILL)
    asyncio.run(_gone(started.pid, started.pid_start))
    assert not asyncio.run(kit.driver.healthy(located(runtime, started)))
    asyncio.run(kit.driver.stop_runtime_instance(located(runtime, started)))  # what is left of it: its folder
    assert kit.leftovers() == []


async def _gone(pid: int, started: int) -> None:
    async with asyncio.timeout(10):
        while processes.alive(pid, started):
            await asyncio.sleep(0.05)


def test_a_static_instance_provisions_from_a_bundle_too(kit: LocalKit) -> None:
    lines = Lines()
    step = kit.step(Scenario.SUCCEEDS, lines)
    static = type(step)(step.deployment, make.instance(kind=Kind.STATIC), step.release, {}, step.artifacts, lines)
    asyncio.run(kit.driver.provision(static))
    assert lines.seen[-3:] == ["line 1", "line 2", "line 3"]


def _lines_of(data: bytes) -> list[str]:
    async def read() -> list[str]:
        stream = asyncio.StreamReader()
        stream.feed_data(data)
        stream.feed_eof()
        return [line async for line in local_commands.lines(stream)]

    return asyncio.run(read())


def test_output_is_split_into_lines_each_cut_to_a_bound() -> None:
    assert _lines_of(b"one\ntwo\r\n\nlast without newline") == ["one", "two\r", "", "last without newline"]
    long = _lines_of(b"x" * (local_commands.MAX_RAW_LINE * 3) + b"\nnext\n")
    assert [len(line) for line in long] == [local_commands.MAX_RAW_LINE, 4]
    assert _lines_of("caf\u00e9 \xff".encode("latin-1")) == ["caf\ufffd \ufffd"]
