"""`rolloutctl watch` as a person sees it: in a real terminal (tmux) during a DYNAMIC rollout, and
across a restart of the server it watches through."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from rollout.v1 import resources_pb2 as pb
from tests.auth import as_principal
from tests.integration.cli import Cli, executable
from tests.integration.helpers import Stub, approve, create_instance, propose, publish, publish_servable, set_params
from tests.stack import Stack

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Tmux:
    """A tmux server of our own (its own socket, no user config), 120×40, killed by its socket."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"rolloutctl-test-{uuid.uuid4().hex[:10]}"
        self.env = env

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], env=self.env,
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout

    def start(self, command: list[str], cwd: Path) -> None:
        # The pane outlives the command, so its last screen and exit code can be read.
        line = f"cd {shlex.quote(str(cwd))} && {shlex.join(command)}; echo \"[exit $?]\"; sleep 600"
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", "sh", "-c", line)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, seen: Callable[[str], bool], what: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if seen(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what}:\n{screen}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=30)


@pytest.fixture()
def terminal(cli: Cli) -> Iterator[Tmux]:
    tmux = Tmux(cli.env())
    try:
        yield tmux
    finally:
        tmux.kill()


def test_watch_in_a_terminal_during_a_dynamic_rollout(cli: Cli, terminal: Tmux, stub: Stub, org: str) -> None:
    api_instance = create_instance(stub, org, name="api", bundle="api", kind=pb.Instance.KIND_DYNAMIC, replicas=3)
    set_params(stub, org, api_instance.id, {"rollout.simulate": {"spawn_delay_ms": 1500}})
    publish_servable(stub, org, "2.0.0", bundle="api")
    proposal = propose(stub, org, api_instance.id)

    terminal.start([*executable(), "watch", proposal.id[:8]], cli.home)
    # Nothing moves until it is approved: the proposal is the running step, with its spinner.
    waiting = terminal.wait_for(lambda s: "proposed" in s, "the proposal")
    assert waiting.splitlines()[0] == f"Watching deployment {proposal.id[:8]} of shop/production/api: provision v2.0.0"
    assert waiting.splitlines()[1][0] in SPINNER, waiting

    approve(stub, org, proposal.id)
    spawning = terminal.wait_for(lambda s: re.search(r"\d of 3 healthy", s) is not None, "n of 3 healthy")
    bar = [line for line in spawning.splitlines() if "of 3 healthy" in line][0]
    assert "runtime" in bar and "━" in bar, spawning

    final = terminal.wait_for(lambda s: "[exit " in s, "the end of the watch")
    lines = final.splitlines()
    steps = [line.split()[2] for line in lines[1:] if line and line[0] in "✓✗"]
    assert steps == ["proposed", "approved", "started", "artifact", "provisioned", "runtime", "switched", "COMPLETED"]
    assert re.search(r"━{30} 3 of 3 healthy \(0 warm reused, 3 to spawn\)", final), final
    assert re.search(r"✓ \S+ COMPLETED\s+completed · [\d.]+s after approval", final), final
    assert "[exit 0]" in final
    assert not any(c in final for c in SPINNER)
    print(final)  # what a person saw, kept in the test's output


def test_watch_resumes_by_itself_after_the_server_restarts(cli: Cli, stack: Stack, org: str, org_token: str) -> None:
    server, address = stack.start_server()
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        web = create_instance(stub, org, name="web")
        publish(stub, org, "1.0.0")
        proposal = propose(stub, org, web.id)
    watching = cli.start("watch", proposal.id, "-o", "json", ROLLOUT_ADDRESS=address)
    try:
        watching.wait_for(lambda p: '"sequence":"1"' in p.out, "the first event")
        server.kill()
        watching.wait_for(lambda p: "stream dropped" in p.err, "the drop")
        server, _ = stack.start_server(address=address)
        watching.wait_for(lambda p: "reconnected; resuming after event 1" in p.err, "the reconnection")
        with grpc.insecure_channel(address) as channel:
            approve(as_principal(channel, org_token), org, proposal.id)
        ended = watching.finish()
    finally:
        watching.stop()
        server.stop()
    assert ended.code == 0, ended
    events = [json.loads(line) for line in ended.out.splitlines()]
    # Nothing missed, nothing twice, to the end.
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "TYPE_COMPLETED"


def test_a_watch_whose_server_does_not_come_back_exits_3(cli: Cli, stack: Stack, org: str, org_token: str) -> None:
    server, address = stack.start_server()
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        web = create_instance(stub, org, name="web")
        publish(stub, org, "1.0.0")
        proposal = propose(stub, org, web.id)
    watching = cli.start("watch", proposal.id, "--reconnect-timeout", "2", ROLLOUT_ADDRESS=address)
    try:
        watching.wait_for(lambda p: "proposed" in p.out, "the first event")
        server.kill()
        ended = watching.finish()
    finally:
        watching.stop()
    assert ended.code == 3, ended
    assert "could not resume it within 2s" in ended.err and "last event seen: 1" in ended.err
