"""Commands that only look: instances, releases, history, audit."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from rollout.v1 import rollout_service_pb2 as api
from rolloutctl import render
from rolloutctl.app import Session, command
from rolloutctl.client import paged
from rolloutctl.names import qualified

Filter = Annotated[str, typer.Option("--filter", help="Server-side filter, e.g. 'environment = production'.")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=10000, help="At most this many rows.")]


@command()
def instances(s: Session, filter: Filter = "", limit: Limit = 200) -> int:
    """List instances (filter on project, environment, name, bundle)."""
    request = api.ListInstancesRequest(organization_id=s.client.organization, filter=filter)
    rows = paged(s.client, "ListInstances", request, "instances", limit)
    if s.io.json:
        render.dump_json({"instances": [render.to_dict(i) for i in rows]}, s.io.out)
    elif rows:
        s.io.out.print(render.instances_table(rows))
    else:
        s.io.err.print(f"no instances in organization {s.client.organization}")
    return 0


@command()
def releases(
    s: Session,
    bundle: Annotated[str, typer.Option("--bundle", help="Only this bundle's releases.")] = "",
    filter: Filter = "",
    limit: Limit = 50,
) -> int:
    """List releases, newest first (filter on bundle, state, release_channel)."""
    terms = [t for t in (f"bundle = {bundle}" if bundle else "", filter) if t]
    request = api.ListReleasesRequest(organization_id=s.client.organization, filter=" AND ".join(terms))
    rows = paged(s.client, "ListReleases", request, "releases", limit)
    if s.io.json:
        render.dump_json({"releases": [render.to_dict(r) for r in rows]}, s.io.out)
    elif rows:
        s.io.out.print(render.releases_table(rows))
    else:
        s.io.err.print("no releases")
    return 0


@command()
def history(
    s: Session,
    instance: Annotated[str, typer.Argument(help="Name, project/environment/name, or id prefix.")],
    limit: Limit = 20,
) -> int:
    """An instance's deployments, newest first: which is ACTIVE, which are rollbacks (and to what), and which run a release quarantined for the instance."""
    target = s.names.instance(instance)
    rows = s.names.deployments(target, limit)
    if s.io.json:
        render.dump_json(render.history_json(target, rows), s.io.out)
        return 0
    title = Text(qualified(target), style="bold").append(f"  {target.id}", style="dim")
    if target.pinned:
        title.append(f"  pinned to v{target.version}", style="cyan")
    s.io.out.print(title, highlight=False)
    if rows:
        s.io.out.print(render.history_table(target, rows))
    else:
        s.io.out.print("no deployments yet", style="dim")
    return 0


@command()
def audit(
    s: Session,
    filter: Annotated[str, typer.Option(
        "--filter", help="e.g. 'action = deployment.rollback AND create_time >= \"2026-01-01T00:00:00Z\"' "
        "(resource, actor, action, outcome, create_time).")] = "",
    limit: Limit = 20,
) -> int:
    """Audit records, newest first: who did what, when, and with what outcome."""
    request = api.ListAuditEventsRequest(organization_id=s.client.organization, filter=filter)
    rows = paged(s.client, "ListAuditEvents", request, "audit_events", limit)
    if s.io.json:
        render.dump_json({"audit_events": [render.to_dict(e) for e in rows]}, s.io.out)
    elif rows:
        s.io.out.print(render.audit_table(rows))
    else:
        s.io.err.print("no audit records")
    return 0
