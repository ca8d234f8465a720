"""What a person sees while watching: one line per step, a spinner on the step that is running,
a progress bar for `n of m healthy`, and the outcome.

`Steps` is the pure model of one deployment's events; `WatchView` renders one
or several of them (a watched instance shows its latest deployments) for rich's
Live display, which redraws it several times a second from its own thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from rollout.v1 import resources_pb2 as pb
from rolloutctl.follow import Dropped, Resumed
from rolloutctl.outcome import TERMINAL
from rolloutctl.render import short, shorten_ids, status_name

E = pb.DeploymentEvent
LABELS = {
    E.TYPE_PROPOSED: "proposed",
    E.TYPE_APPROVED: "approved",
    E.TYPE_REJECTED: "REJECTED",
    E.TYPE_STARTED: "started",
    E.TYPE_ARTIFACT_VERIFIED: "artifact",
    E.TYPE_PROVISIONED: "provisioned",
    E.TYPE_RUNTIME_PROGRESS: "runtime",
    E.TYPE_SWITCHED: "switched",
    E.TYPE_COMPLETED: "COMPLETED",
    E.TYPE_FAILED: "FAILED",
    E.TYPE_PLAN_STARTED: "planning",
    E.TYPE_PLANNED: "planned",
    E.TYPE_RESUMED: "resumed",
}
OUTCOME_STYLES = {E.TYPE_COMPLETED: "bold green", E.TYPE_FAILED: "bold red", E.TYPE_REJECTED: "bold yellow"}
OUTCOME_ICONS = {E.TYPE_COMPLETED: "✓", E.TYPE_FAILED: "✗", E.TYPE_REJECTED: "⊘"}
BAR_WIDTH = 30
MAX_DEPLOYMENTS_SHOWN = 3


@dataclass
class Step:
    type: int
    message: str
    time: str
    done: int = 0
    total: int = 0
    # The first message of a runtime step ("0 warm reused, 3 to spawn") stays beside its bar.
    note: str = ""


def clock(event: pb.DeploymentEvent) -> str:
    seconds = event.create_time.seconds
    return datetime.fromtimestamp(seconds).strftime("%H:%M:%S") if seconds else ""


def healthy(done: int, total: int) -> str:
    return f"{done} of {total} healthy"


@dataclass
class Steps:
    """One deployment's events folded into the lines a person reads."""

    deployment_id: str
    lines: list[Step] = field(default_factory=list)
    status: int = pb.Deployment.STATUS_UNSPECIFIED
    approved_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def add(self, event: pb.DeploymentEvent) -> Step:
        self.status = event.status
        last = self.lines[-1] if self.lines else None
        if event.type == E.TYPE_RUNTIME_PROGRESS and last is not None and last.type == E.TYPE_RUNTIME_PROGRESS:
            last.done, last.total, last.time = event.progress.done, event.progress.total, clock(event)
            return last
        step = Step(event.type, shorten_ids(event.message), clock(event), event.progress.done, event.progress.total)
        at = event.create_time.seconds + event.create_time.nanos / 1e9
        if event.type == E.TYPE_APPROVED and event.status == pb.Deployment.STATUS_PENDING:
            self.approved_at = at
        if event.type == E.TYPE_RUNTIME_PROGRESS:
            step.note = event.message.removeprefix("runtime instances: ")
        if event.type in (E.TYPE_COMPLETED, E.TYPE_FAILED) and self.approved_at is not None:
            step.message += f" · {at - self.approved_at:.1f}s after approval"
        self.lines.append(step)
        return step


def step_text(step: Step) -> Text:
    """A step as one line of plain output (for logs and pipes)."""
    label = LABELS.get(step.type, "event")  # type: ignore[call-overload]
    text = Text(f"{step.time}  {label:<12}", style=OUTCOME_STYLES.get(step.type, ""))  # type: ignore[call-overload]
    if step.type == E.TYPE_RUNTIME_PROGRESS:
        text.append(healthy(step.done, step.total))
        return text.append(f"  ({step.note})" if step.note else "", style="dim")
    return text.append(step.message)


class WatchView:
    """The live screen: a title, the steps of the latest deployments, and the connection's state."""

    def __init__(self, title: Text, grouped: bool) -> None:
        self.title = title
        # Several deployments (a watched instance): each under its own heading.
        self.grouped = grouped
        self.deployments: OrderedDict[str, Steps] = OrderedDict()
        self.notice: Text | None = None
        self.spinner = Spinner("dots", style="cyan")
        self._lock = threading.Lock()

    def add(self, item: pb.DeploymentEvent | Dropped | Resumed) -> None:
        with self._lock:
            if isinstance(item, Dropped):
                self.notice = Text(
                    f"⚠ stream dropped ({item.why}); reconnecting in {item.retry_in:.1f}s, attempt {item.attempt}",
                    style="yellow",
                )
            elif isinstance(item, Resumed):
                self.notice = Text(f"↻ reconnected; resuming after event {item.last}", style="cyan")
            else:
                steps = self.deployments.setdefault(item.deployment_id, Steps(item.deployment_id))
                steps.add(item)
                self.deployments.move_to_end(item.deployment_id)
                while len(self.deployments) > MAX_DEPLOYMENTS_SHOWN:
                    self.deployments.popitem(last=False)

    def _rows(self, steps: Steps, table: Table) -> None:
        for index, step in enumerate(steps.lines):
            running = index == len(steps.lines) - 1 and not steps.terminal
            icon: RenderableType = self.spinner if running else Text(
                OUTCOME_ICONS.get(step.type, "✓"),  # type: ignore[call-overload]
                style=OUTCOME_STYLES.get(step.type, "green"),  # type: ignore[call-overload]
            )
            label = Text(LABELS.get(step.type, "event"), style=OUTCOME_STYLES.get(step.type, "bold"))  # type: ignore[call-overload]
            detail: RenderableType
            if step.type == E.TYPE_RUNTIME_PROGRESS:
                detail = Table.grid(padding=(0, 1))
                detail.add_row(
                    ProgressBar(total=max(step.total, 1), completed=step.done, width=BAR_WIDTH),
                    Text(healthy(step.done, step.total), style="bold"),
                    Text(f"({step.note})" if step.note else "", style="dim"),
                )
            else:
                detail = Text(step.message, style="red" if step.type == E.TYPE_FAILED else "")
            table.add_row(icon, Text(step.time, style="dim"), label, detail)

    def __rich__(self) -> Group:
        with self._lock:
            parts: list[RenderableType] = [self.title]
            for steps in self.deployments.values():
                if self.grouped:
                    parts.append(Text(f"deployment {short(steps.deployment_id)}  {status_name(steps.status)}",
                                      style="bold"))
                table = Table.grid(padding=(0, 1))
                table.add_column(width=1)
                table.add_column()
                table.add_column(min_width=12)
                table.add_column()
                self._rows(steps, table)
                parts.append(table)
            if self.notice is not None:
                parts.append(self.notice)
            return Group(*parts)
