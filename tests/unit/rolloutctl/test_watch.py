"""Watching: the follower resumes a dropped stream after the last event seen and gives up after a
bounded outage; the view folds events into one line per step and one progress bar."""

from __future__ import annotations

import io
from collections.abc import Iterator

import grpc
import pytest
from rich.console import Console
from rich.text import Text

from rollout.v1 import resources_pb2 as pb
from rolloutctl.follow import Dropped, Follower, Resumed
from rolloutctl.outcome import CliError, ExitCode
from rolloutctl.watch_view import Steps, WatchView, step_text

E, S = pb.DeploymentEvent, pb.Deployment


class Drop(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "server shutting down"


def event(sequence: int, type: int = E.TYPE_STARTED, status: int = S.STATUS_RUNNING, **fields: object) -> pb.DeploymentEvent:
    return pb.DeploymentEvent(deployment_id="d", sequence=sequence, type=type, status=status, **fields)  # type: ignore[arg-type]


class FakeServer:
    """Streams scripted per connection; records the `after` of each (re)connection."""

    def __init__(self, *connections: list[pb.DeploymentEvent | Drop]) -> None:
        self.connections = list(connections)
        self.afters: list[int] = []
        self.now = 0.0
        self.ready = True

    def open(self, after: int) -> Iterator[pb.DeploymentEvent]:
        self.afters.append(after)
        for item in self.connections.pop(0):
            if isinstance(item, Drop):
                raise item
            yield item

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def follower(self, bound: float = 10) -> Follower[pb.DeploymentEvent]:
        return Follower(self.open, lambda e: e.sequence, lambda e: e.status == S.STATUS_COMPLETED,
                        lambda timeout: self.ready, bound, clock=lambda: self.now, sleep=self.sleep)


def test_a_dropped_stream_resumes_after_the_last_event_seen_missing_nothing_repeating_nothing() -> None:
    server = FakeServer(
        [event(1), event(2), Drop()],
        [event(2), event(3), Drop()],  # a replay that overlaps is not shown twice
        [event(4, E.TYPE_COMPLETED, S.STATUS_COMPLETED), event(5)],
    )
    items = list(server.follower().events(0))
    assert server.afters == [0, 2, 3]
    assert [i.sequence for i in items if isinstance(i, pb.DeploymentEvent)] == [1, 2, 3, 4]
    notices = [i for i in items if not isinstance(i, pb.DeploymentEvent)]
    assert notices == [
        Dropped(1, "UNAVAILABLE: server shutting down", 0.25, 2), Resumed(2),
        Dropped(1, "UNAVAILABLE: server shutting down", 0.25, 3), Resumed(3),
    ]


def test_backoff_grows_while_the_outage_lasts_and_the_bound_ends_it_with_exit_3() -> None:
    server = FakeServer(*([Drop()] for _ in range(20)))
    items = []
    with pytest.raises(CliError) as lost:
        for item in server.follower(bound=3).events(7):
            items.append(item)
    assert [i.retry_in for i in items if isinstance(i, Dropped)] == [0.25, 0.5, 1.0, 1.25]
    assert lost.value.exit_code == ExitCode.CONNECTION_LOST
    assert "within 3s" in str(lost.value) and "last event seen: 7" in str(lost.value)
    assert set(server.afters) == {7}


def test_a_server_that_does_not_come_back_ends_the_follow() -> None:
    server = FakeServer([Drop()])
    server.ready = False
    with pytest.raises(CliError) as lost:
        list(server.follower().events(0))
    assert lost.value.exit_code == ExitCode.CONNECTION_LOST


def test_an_answer_is_not_a_drop() -> None:
    server = FakeServer([Drop(grpc.StatusCode.NOT_FOUND)])
    with pytest.raises(grpc.RpcError):
        list(server.follower().events(0))


def test_a_stream_that_ended_early_is_resumed() -> None:
    server = FakeServer([event(1)], [event(2, E.TYPE_COMPLETED, S.STATUS_COMPLETED)])
    items = list(server.follower().events(0))
    assert server.afters == [0, 1]
    assert isinstance(items[1], Dropped) and items[1].why == "the server ended the stream early"


def progress(sequence: int, done: int, message: str) -> pb.DeploymentEvent:
    return event(sequence, E.TYPE_RUNTIME_PROGRESS, progress=pb.Progress(done=done, total=3), message=message)


EVENTS = [
    event(1, E.TYPE_PROPOSED, S.STATUS_PROPOSED, message="Deploy v1.0.0 — proposed by admin"),
    event(2, E.TYPE_APPROVED, S.STATUS_PENDING, message="approved by admin"),
    event(3, E.TYPE_STARTED, message="started on worker vm/1"),
    event(4, E.TYPE_PROVISIONED, message="provisioned v1.0.0"),
    progress(5, 0, "runtime instances: 0 warm reused, 3 to spawn"),
    progress(6, 1, "1 of 3 healthy"),
    progress(7, 2, "2 of 3 healthy"),
]


def test_runtime_progress_is_one_line_with_its_first_message_beside_it() -> None:
    steps = Steps("d")
    for e in EVENTS:
        steps.add(e)
    assert [step_text(s).plain.split("  ", 1)[1].strip() for s in steps.lines] == [
        "proposed    Deploy v1.0.0 — proposed by admin",
        "approved    approved by admin",
        "started     started on worker vm/1",
        "provisioned provisioned v1.0.0",
        "runtime     2 of 3 healthy  (0 warm reused, 3 to spawn)",
    ]
    assert not steps.terminal


def screen(view: WatchView) -> str:
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=True, color_system=None).print(view)
    return out.getvalue()


def test_the_live_view_has_a_spinner_on_the_running_step_and_a_bar_then_the_outcome() -> None:
    view = WatchView(Text("Watching deployment d"), grouped=False)
    for e in EVENTS:
        view.add(e)
    running = screen(view).splitlines()
    assert running[0] == "Watching deployment d"
    assert running[-1].startswith("⠋") and "━" in running[-1] and "2 of 3 healthy (0 warm reused, 3 to spawn)" in running[-1]
    assert all(line.startswith("✓") for line in running[1:-1])
    view.add(Dropped(1, "UNAVAILABLE: gone", 0.25, 7))
    assert screen(view).splitlines()[-1] == "⚠ stream dropped (UNAVAILABLE: gone); reconnecting in 0.2s, attempt 1"
    view.add(Resumed(7))
    view.add(progress(8, 3, "3 of 3 healthy"))
    view.add(event(9, E.TYPE_COMPLETED, S.STATUS_COMPLETED, message="completed"))
    done = screen(view).splitlines()
    assert "3 of 3 healthy" in done[-3]
    assert done[-2].startswith("✓") and "COMPLETED" in done[-2] and "completed" in done[-2]
    assert done[-1] == "↻ reconnected; resuming after event 7"
    assert not any(line.startswith("⠋") for line in done)


def test_a_failure_is_marked_as_such() -> None:
    view = WatchView(Text("Watching"), grouped=True)
    view.add(EVENTS[2])
    view.add(event(4, E.TYPE_FAILED, S.STATUS_FAILED, message="simulated provision failure"))
    lines = screen(view).splitlines()
    assert lines[1] == "deployment d  FAILED"
    assert lines[-1].startswith("✗") and "FAILED" in lines[-1] and "simulated provision failure" in lines[-1]
