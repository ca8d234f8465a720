"""Commands that change things, and watching them: deploy, rollback, plan, approve, reject, watch."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from google.protobuf import json_format
from rich.text import Text

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rolloutctl import render
from rolloutctl.app import Session, command
from rolloutctl.follow import Dropped, Resumed
from rolloutctl.names import qualified
from rolloutctl.outcome import CliError, ExitCode, for_status
from rolloutctl.plan_view import plan_view
from rolloutctl.watching import deployment_events, notice, watch_deployment, watch_instance

InstanceArg = Annotated[str, typer.Argument(help="Instance: name, project/environment/name, or id prefix.")]
DeploymentArg = Annotated[str, typer.Argument(help="Deployment: id or unique id prefix.")]
InInstance = Annotated[str, typer.Option(
    "--instance", "-i", help="Look for the deployment's id prefix in this instance only.")]
Approve = Annotated[bool, typer.Option("--approve", help="Also approve the proposal.")]
# During an incident the one who rolls back usually approves too: the approval is still its own call,
# checked and audited, and an approval rule that wants someone else is waited for.
ApproveRollback = Annotated[bool, typer.Option(
    "--approve/--propose-only", help="Approve the rollback too (the default), or only propose it.")]
# Reasons an approval by the proposer is refused or not enough: the proposal then waits for others.
NEEDS_ANOTHER = {"SELF_APPROVAL_FORBIDDEN"}
Wait = Annotated[bool, typer.Option(
    "--wait", help="Watch until the deployment ends; exit 0 COMPLETED, 1 FAILED, 2 REJECTED.")]
PLANNED = pb.DeploymentEvent.TYPE_PLANNED


def _instance_of(s: Session, deployment: pb.Deployment) -> pb.Instance:
    got: pb.Instance = s.client.call(
        "GetInstance", api.GetInstanceRequest(organization_id=s.client.organization, id=deployment.instance_id))
    return got


def _deployment(s: Session, text: str, instance: str) -> pb.Deployment:
    return s.names.deployment(text, s.names.instance(instance) if instance else None)


def _wait(s: Session, deployment: pb.Deployment, instance: pb.Instance) -> int:
    """Watch until the deployment ends; its exit code. In JSON, one document: the deployment as it ended."""
    if not s.io.json:
        title = render.deployment_line("Watching", deployment, instance, status=False)
        return for_status(watch_deployment(s.client, s.io, deployment.id, title))
    for item in deployment_events(s.client, deployment.id):
        if isinstance(item, (Dropped, Resumed)):
            s.io.err.print(notice(item), style="yellow", highlight=False)
    ended: pb.Deployment = s.client.call(
        "GetDeployment", api.GetDeploymentRequest(organization_id=s.client.organization, id=deployment.id))
    render.dump_json(render.to_dict(ended), s.io.out)
    return for_status(ended.status)


def _proposed(s: Session, deployment: pb.Deployment, instance: pb.Instance, approve: bool, wait: bool,
              verb: str = "Proposed") -> int:
    """What every proposing command does next: say so, approve if asked, wait if asked."""
    if not s.io.json:
        s.io.out.print(render.deployment_line(verb, deployment, instance), highlight=False)
    if approve:
        try:
            deployment = s.client.call(
                "ApproveDeployment", api.ApproveDeploymentRequest(organization_id=s.client.organization, id=deployment.id))
        except CliError as refused:
            if refused.reason not in NEEDS_ANOTHER:
                raise
            s.io.err.print(f"{refused.message}: another approver is needed", style="yellow", highlight=False)
        else:
            if not s.io.json:
                s.io.out.print(render.deployment_line("Approved", deployment, instance), highlight=False)
    if wait:
        if deployment.status == pb.Deployment.STATUS_PROPOSED:
            s.io.err.print(f"waiting for an approver: rolloutctl approve {deployment.id[:8]}", style="dim",
                           highlight=False)
        return _wait(s, deployment, instance)
    if s.io.json:
        render.dump_json(render.to_dict(deployment), s.io.out)
    return ExitCode.OK


@command()
def deploy(
    s: Session,
    instance: InstanceArg,
    release: Annotated[str, typer.Option(
        "--release", help="Deploy this release once (version or id) instead of the instance's effective release.")] = "",
    message: Annotated[str, typer.Option("--message", "-m", help="Why, for the history.")] = "",
    approve: Approve = False,
    wait: Wait = False,
) -> int:
    """Propose a deployment of the instance's current params and connections (ProposeDeployment)."""
    target = s.names.instance(instance)
    release_id = s.names.release(release, target.bundle).id if release else ""
    request = api.ProposeDeploymentRequest(
        organization_id=s.client.organization, instance_id=target.id, bundle_release_id=release_id, message=message)
    return _proposed(s, s.client.call("ProposeDeployment", request), target, approve, wait)


@command()
def rollback(
    s: Session,
    instance: InstanceArg,
    to: Annotated[str, typer.Option(
        "--to", help="Return to this past deployment (id prefix) instead of the previous good run.")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded in the message, events and audit.")] = "",
    approve: ApproveRollback = True,
    wait: Wait = False,
) -> int:
    """Roll back: by default to the previous good run (the newest COMPLETED run that is not active, whose
    release is usable and not quarantined), proposed and approved (`--propose-only` stops at the proposal)."""
    target = s.names.instance(instance)
    org = s.client.organization
    if to:
        source = s.names.deployment(to, target)
        request = api.RollbackDeploymentRequest(organization_id=org, id=source.id, reason=reason)
    else:
        request = api.RollbackDeploymentRequest(
            organization_id=org, instance_id=target.id, target=api.RollbackDeploymentRequest.TARGET_PREVIOUS_GOOD,
            reason=reason)
    return _proposed(s, s.client.call("RollbackDeployment", request), target, approve, wait)


@command()
def approve(s: Session, deployment: DeploymentArg, instance: InInstance = "", wait: Wait = False) -> int:
    """Approve a PROPOSED deployment; it runs when a worker takes it."""
    found = _deployment(s, deployment, instance)
    approved: pb.Deployment = s.client.call(
        "ApproveDeployment", api.ApproveDeploymentRequest(organization_id=s.client.organization, id=found.id))
    owner = _instance_of(s, approved)
    if not s.io.json:
        s.io.out.print(render.deployment_line("Approved", approved, owner), highlight=False)
    if wait:
        return _wait(s, approved, owner)
    if s.io.json:
        render.dump_json(render.to_dict(approved), s.io.out)
    return ExitCode.OK


@command()
def reject(
    s: Session,
    deployment: DeploymentArg,
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded on the deployment and in the audit.")] = "",
    instance: InInstance = "",
) -> int:
    """Reject a PROPOSED deployment; nothing runs."""
    found = _deployment(s, deployment, instance)
    rejected: pb.Deployment = s.client.call(
        "RejectDeployment",
        api.RejectDeploymentRequest(organization_id=s.client.organization, id=found.id, reason=reason))
    if s.io.json:
        render.dump_json(render.to_dict(rejected), s.io.out)
    else:
        s.io.out.print(render.deployment_line("Rejected", rejected, _instance_of(s, rejected)), highlight=False)
    return ExitCode.OK


def _planned(s: Session, asked: pb.Deployment, timeout: float) -> pb.Deployment:
    """The deployment once a plan made after `asked` was stored (its update time is later)."""
    deadline = time.monotonic() + timeout
    request = api.GetDeploymentRequest(organization_id=s.client.organization, id=asked.id)
    try:
        for item in deployment_events(s.client, asked.id, deadline=deadline):
            if not isinstance(item, pb.DeploymentEvent):
                continue
            if item.status != pb.Deployment.STATUS_PROPOSED:
                status = render.status_name(item.status)
                raise CliError(f"deployment {asked.id[:8]} became {status} before it was planned")
            if item.type == PLANNED:
                got: pb.Deployment = s.client.call("GetDeployment", request)
                if got.HasField("plan") and got.update_time.ToNanoseconds() > asked.update_time.ToNanoseconds():
                    return got
    except CliError as exc:
        if exc.code != "DEADLINE_EXCEEDED":
            raise
    raise CliError(f"no plan within {timeout:g}s", ExitCode.CONNECTION_LOST, hint="are workers running?")


@command()
def plan(
    s: Session,
    deployment: DeploymentArg,
    instance: InInstance = "",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for a worker's plan (exit 3).")] = 120,
) -> int:
    """Plan a PROPOSED deployment and show what it would change: release, params, connections, runtime instances, and warnings."""
    found = _deployment(s, deployment, instance)
    asked: pb.Deployment = s.client.call(
        "PlanDeployment", api.PlanDeploymentRequest(organization_id=s.client.organization, id=found.id))
    if s.io.json:
        planned = _planned(s, asked, timeout)
        render.dump_json({"deployment_id": planned.id, "plan": json_format.MessageToDict(planned.plan)}, s.io.out)
        return ExitCode.OK
    with s.io.err.status("waiting for a worker to plan it…"):
        planned = _planned(s, asked, timeout)
    owner = _instance_of(s, planned)
    title = render.deployment_line("Plan of", planned, owner)
    s.io.out.print(plan_view(json_format.MessageToDict(planned.plan), title), highlight=False)
    return ExitCode.OK


@command()
def watch(
    s: Session,
    target: Annotated[str, typer.Argument(
        help="A deployment (id or id prefix) — until it ends — or an instance (name or id prefix) — until Ctrl-C.")],
    after: Annotated[int, typer.Option(
        "--after", min=0, help="Start after this event (a deployment's sequence, an instance's instance_sequence).")] = 0,
) -> int:
    """Follow progress live: one line per step, a spinner on the running step, a bar for `n of m healthy`. Resumes by itself after a dropped stream. In JSON: one line per event."""
    found = s.names.deployment_or_instance(target)
    if isinstance(found, pb.Deployment):
        title = render.deployment_line("Watching", found, _instance_of(s, found), status=False)
        return for_status(watch_deployment(s.client, s.io, found.id, title, after))
    title = Text("Watching ").append(qualified(found), style="bold").append(" (Ctrl-C to stop)", style="dim")
    watch_instance(s.client, s.io, found.id, title, after)
    return ExitCode.OK
