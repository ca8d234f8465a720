"""How resources look: tables and one-line summaries for people, JSON documents for scripts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rollout.v1 import resources_pb2 as pb
from rolloutctl.outcome import CliError

Status = pb.Deployment.Status
STATUS_STYLES = {
    Status.STATUS_PROPOSED: "magenta",
    Status.STATUS_PENDING: "blue",
    Status.STATUS_RUNNING: "cyan",
    Status.STATUS_COMPLETED: "green",
    Status.STATUS_FAILED: "bold red",
    Status.STATUS_REJECTED: "yellow",
}


def to_dict(message: Message) -> dict[str, Any]:
    """A message as scripts see it: proto field names, every field present, enums by name."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def dump_json(document: Any, console: Console, lines: bool = False) -> None:
    """One JSON document (or, with `lines`, one line of JSON lines) on stdout, uncoloured."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":") if lines else None, indent=None if lines else 2)
    console.file.write(text + "\n")
    console.file.flush()


def short(identifier: str) -> str:
    return identifier[:8]


def when(ts: Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    return datetime.fromtimestamp(ts.seconds).strftime("%Y-%m-%d %H:%M:%S")


def status_name(status: int) -> str:
    return Status.Name(status).removeprefix("STATUS_")


def status_text(status: int) -> Text:
    return Text(status_name(status), style=STATUS_STYLES.get(status, ""))  # type: ignore[call-overload]


def action_name(action: int) -> str:
    return pb.Deployment.Action.Name(action).removeprefix("ACTION_")


_UUID = re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
Cell = str | Text


def shorten_ids(text: str) -> str:
    """Full UUIDs in a message cut to the 8 characters tables show (and prefixes resolve)."""
    return _UUID.sub(r"\1", text)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Cell]], flexible: Sequence[str] = ()) -> Table:
    """One line per row. Only the `flexible` columns give way on a narrow screen (cut with an
    ellipsis); the JSON output has every field whole."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for index, column in enumerate(columns):
        width = max([len(column), *(Text(c).cell_len if isinstance(c, str) else c.cell_len for c in
                                    (row[index] for row in rows))])
        table.add_column(column, no_wrap=True, overflow="ellipsis", min_width=None if column in flexible else width)
    for row in rows:
        table.add_row(*row)
    return table


def resource_name(resource: str) -> str:
    """`deployments/<uuid>` as `deployments/1a2b3c4d`, like ids elsewhere in tables."""
    collection, _, identifier = resource.partition("/")
    return f"{collection}/{short(identifier)}" if len(identifier) == 36 else resource


def instances_table(instances: Iterable[pb.Instance]) -> Table:
    rows: list[list[Cell]] = []
    for i in instances:
        kind = pb.Instance.Kind.Name(i.kind).removeprefix("KIND_").lower()
        if i.kind == pb.Instance.KIND_DYNAMIC:
            kind += f" ×{i.replicas}"
        pinned = f"v{i.version}" if i.pinned else ""
        rows.append([short(i.id), i.name, i.project, i.environment, kind, i.version_constraint or "*", pinned,
                     short(i.active_deployment_id)])
    return _table(("ID", "NAME", "PROJECT", "ENVIRONMENT", "KIND", "CONSTRAINT", "PINNED", "ACTIVE"), rows)


def releases_table(releases: Iterable[pb.Release]) -> Table:
    rows: list[list[Cell]] = []
    for r in releases:
        state = pb.Release.State.Name(r.state).removeprefix("STATE_")
        artifact = Text("present") if r.artifact_present else Text("gone", style="red")
        rows.append([short(r.id), r.bundle, r.version, r.release_channel, state, artifact,
                     str(r.schema_version or ""), when(r.create_time)])
    return _table(("ID", "BUNDLE", "VERSION", "CHANNEL", "STATE", "ARTIFACT", "SCHEMA", "CREATED"), rows)


def history_marks(d: pb.Deployment, instance: pb.Instance) -> list[Text]:
    """What the history says of a deployment: ACTIVE, a rollback and what to, a quarantined release."""
    marks = []
    if d.id == instance.active_deployment_id:
        marks.append(Text("ACTIVE", style="bold green"))
    if d.HasField("rollback_of"):
        marks.append(Text(f"rollback to {short(d.rollback_of.id)} (v{d.rollback_of.version})", style="cyan"))
    if d.bundle_release_id and d.bundle_release_id in instance.quarantined_release_ids:
        marks.append(Text("quarantined", style="yellow"))
    return marks


def history_table(instance: pb.Instance, deployments: Sequence[pb.Deployment]) -> Table:
    rows: list[list[Cell]] = []
    for d in deployments:
        marks = Text(", ").join(history_marks(d, instance))
        note = shorten_ids(d.error or d.reject_reason or d.message)
        rows.append([short(d.id), status_text(d.status), f"v{d.version}" if d.version else "", marks,
                     when(d.create_time), action_name(d.action), d.decided_by or d.proposed_by, note])
    columns = ("ID", "STATUS", "VERSION", "MARKS", "CREATED", "ACTION", "BY", "MESSAGE")
    return _table(columns, rows, flexible=("MESSAGE",))


def history_json(instance: pb.Instance, deployments: Sequence[pb.Deployment]) -> dict[str, Any]:
    rows = []
    for d in deployments:
        row = to_dict(d)
        row["active"] = d.id == instance.active_deployment_id
        row["quarantined"] = bool(d.bundle_release_id) and d.bundle_release_id in instance.quarantined_release_ids
        rows.append(row)
    return {"instance": to_dict(instance), "deployments": rows}


def audit_table(events: Iterable[pb.AuditEvent]) -> Table:
    rows: list[list[Cell]] = []
    for e in events:
        outcome = Text(e.outcome, style="green" if e.outcome == "ok" else "red")
        rows.append([when(e.create_time), shorten_ids(e.actor), e.action, resource_name(e.resource), outcome, e.reason])
    return _table(("TIME", "ACTOR", "ACTION", "RESOURCE", "OUTCOME", "REASON"), rows, flexible=("ACTOR", "REASON"))


def deployment_line(verb: str, d: pb.Deployment, instance: pb.Instance | None = None, status: bool = True) -> Text:
    """E.g. `Proposed deployment 1a2b3c4d of shop/production/web: provision v1.1.0, PROPOSED`."""
    text = Text(f"{verb} deployment ")
    text.append(short(d.id), style="bold")
    if instance is not None:
        text.append(f" of {instance.project}/{instance.environment}/{instance.name}")
    text.append(f": {action_name(d.action).lower()} v{d.version}")
    if status:
        text.append(", ").append_text(status_text(d.status))
    if d.HasField("rollback_of"):
        text.append(f" (rollback to {short(d.rollback_of.id)}, v{d.rollback_of.version})")
    return text


def error(exc: CliError, console: Console) -> None:
    """An error on stderr, for a person: what the server said, then how to go on."""
    head = Text("error: ", style="bold red")
    if exc.reason or exc.code:
        label = exc.reason if exc.reason in ("", exc.code) else f"{exc.reason} ({exc.code})"
        head.append(label or exc.code, style="bold")
        head.append(": ")
    joined = "; ".join(f"{field}: {description}" for field, description in exc.violations)
    # An INVALID_ARGUMENT's message is its violations joined; they are listed below instead.
    head.append("invalid request" if exc.violations and joined.startswith(exc.message.rstrip("…")) else exc.message)
    console.print(head, highlight=False)
    for field, description in exc.violations:
        console.print(Text("  • ").append(field, style="bold").append(f": {description}"), highlight=False)
    if exc.hint:
        console.print(Text(f"  {exc.hint}", style="dim"), highlight=False)
