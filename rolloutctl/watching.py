"""Running a watch: follow the stream (resuming after drops) and show it — a live view on a
terminal, one line per step in a pipe, JSON lines for scripts."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import grpc
from rich.console import Console
from rich.live import Live
from rich.text import Text

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rolloutctl.client import Client
from rolloutctl.follow import Dropped, Follower, Resumed
from rolloutctl.outcome import TERMINAL
from rolloutctl.render import dump_json, to_dict
from rolloutctl.watch_view import Steps, WatchView, step_text

Item = pb.DeploymentEvent | Dropped | Resumed


@dataclass(frozen=True)
class Io:
    """Where output goes: stdout for results, stderr for notices and errors; JSON for scripts."""

    out: Console
    err: Console
    json: bool


def notice(item: Dropped | Resumed) -> str:
    if isinstance(item, Dropped):
        return f"stream dropped ({item.why}); reconnecting in {item.retry_in:.1f}s (attempt {item.attempt})"
    return f"reconnected; resuming after event {item.last}"


def show(items: Iterable[Item], io: Io, title: Text, grouped: bool) -> int:
    """Show every item; the status of the last event seen."""
    status = pb.Deployment.STATUS_UNSPECIFIED
    if io.json:
        for item in items:
            if isinstance(item, pb.DeploymentEvent):
                status = item.status
                dump_json(to_dict(item), io.out, lines=True)
            else:
                io.err.print(notice(item), style="yellow", highlight=False)
        return status
    if not io.out.is_terminal:
        io.out.print(title, highlight=False)
        folded: dict[str, Steps] = {}
        for item in items:
            if isinstance(item, pb.DeploymentEvent):
                status = item.status
                step = folded.setdefault(item.deployment_id, Steps(item.deployment_id)).add(item)
                prefix = f"{item.deployment_id[:8]}  " if grouped else ""
                io.out.print(Text(prefix).append_text(step_text(step)), highlight=False)
            else:
                io.err.print(notice(item), style="yellow", highlight=False)
        return status
    view = WatchView(title, grouped)
    with Live(view, console=io.out, refresh_per_second=8, transient=False) as live:
        for item in items:
            view.add(item)
            if isinstance(item, pb.DeploymentEvent):
                status = item.status
            live.refresh()
    return status


def _follower(client: Client, method: str, request: api.WatchDeploymentRequest | api.WatchInstanceRequest,
              after_field: str, ends_on_terminal: bool, deadline: float | None = None) -> Follower[pb.DeploymentEvent]:
    def open_stream(after: int) -> Iterator[pb.DeploymentEvent]:
        setattr(request, after_field, after)
        return client.stream(method, request, None if deadline is None else max(deadline - time.monotonic(), 0.0))

    position = (lambda e: e.sequence) if after_field == "after_sequence" else (lambda e: e.instance_sequence)
    return Follower(
        open_stream,
        position,
        lambda e: ends_on_terminal and e.status in TERMINAL,
        client.wait_ready,
        client.settings.reconnect_timeout,
    )


def _answered(items: Iterator[Item], client: Client) -> Iterator[Item]:
    """The follower's items; an answer from the server (NOT_FOUND, …) becomes a readable error."""
    try:
        yield from items
    except grpc.RpcError as exc:
        raise client.rpc_error(exc) from None


def deployment_events(client: Client, deployment_id: str, after: int = 0, deadline: float | None = None) -> Iterator[Item]:
    """The deployment's events until it ends (or, past a monotonic `deadline`, CliError DEADLINE_EXCEEDED)."""
    request = api.WatchDeploymentRequest(organization_id=client.organization, id=deployment_id)
    follower = _follower(client, "WatchDeployment", request, "after_sequence", True, deadline)
    return _answered(follower.events(after), client)


def instance_events(client: Client, instance_id: str, after: int = 0) -> Iterator[Item]:
    request = api.WatchInstanceRequest(organization_id=client.organization, id=instance_id)
    return _answered(_follower(client, "WatchInstance", request, "after_instance_sequence", False).events(after), client)


def watch_deployment(client: Client, io: Io, deployment_id: str, title: Text, after: int = 0) -> int:
    """Show the deployment's progress until it ends; its final status."""
    return show(deployment_events(client, deployment_id, after), io, title, grouped=False)


def watch_instance(client: Client, io: Io, instance_id: str, title: Text, after: int = 0) -> None:
    """Show the progress of every deployment of the instance, until interrupted."""
    show(instance_events(client, instance_id, after), io, title, grouped=True)
