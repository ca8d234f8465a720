"""Reading route tables (server/domain/routes.py): instances, their active release, and its serving runtime instances."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.models import Kind, RuntimeState
from server.domain.routes import ROUTED_STATES, Backend, Route, host
from server.store.tables import deployments, instances, releases, runtime_instances

# Local runtime instances listen on the loopback of their host (workers/drivers/local.py): the router
# runs there too. A driver for a cluster would record a routable address instead.
LOOPBACK = "127.0.0.1"

_ROUTES = (
    sa.select(
        instances.c.id,
        instances.c.name,
        instances.c.project,
        instances.c.environment,
        instances.c.organization_id,
        instances.c.kind,
        instances.c.route_generation,
        instances.c.active_deployment_id,
        deployments.c.bundle_release_id,
        deployments.c.version,
        releases.c.artifact_uri,
    )
    .select_from(
        instances.outerjoin(deployments, deployments.c.id == instances.c.active_deployment_id).outerjoin(
            releases, releases.c.id == deployments.c.bundle_release_id
        )
    )
    .order_by(instances.c.id)
)


async def routes(conn: AsyncConnection, organization_id: str, domain: str, instance_ids: list[str] | None = None) -> list[Route]:
    """The routes of the organization's instances (of `instance_ids` only, when given)."""
    query = _ROUTES.where(instances.c.organization_id == organization_id)
    if instance_ids is not None:
        query = query.where(instances.c.id.in_(instance_ids))
    rows = [r._mapping for r in await conn.execute(query)]
    serving = await _backends(conn, [(r["id"], r["bundle_release_id"]) for r in rows if r["bundle_release_id"]])
    return [_route(r, domain, serving.get((r["id"], r["bundle_release_id"]), ())) for r in rows]


async def _backends(conn: AsyncConnection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[Backend, ...]]:
    if not pairs:
        return {}
    rows = await conn.execute(
        sa.select(
            runtime_instances.c.id,
            runtime_instances.c.instance_id,
            runtime_instances.c.release_id,
            runtime_instances.c.port,
            runtime_instances.c.state,
        )
        .where(
            sa.tuple_(runtime_instances.c.instance_id, runtime_instances.c.release_id).in_(pairs),
            runtime_instances.c.state.in_([s.value for s in ROUTED_STATES]),
            runtime_instances.c.port > 0,
        )
        .order_by(runtime_instances.c.create_time, runtime_instances.c.id)
    )
    found: dict[tuple[str, str], list[Backend]] = defaultdict(list)
    for r in rows:
        found[(r.instance_id, r.release_id)].append(Backend(r.id, f"{LOOPBACK}:{r.port}", RuntimeState(r.state)))
    return {key: tuple(value) for key, value in found.items()}


def _route(m: Any, domain: str, backends: tuple[Backend, ...]) -> Route:
    kind = Kind(m["kind"])
    return Route(
        instance_id=m["id"],
        host=host(m["name"], m["project"], m["environment"], m["organization_id"], domain),
        kind=kind,
        route_generation=m["route_generation"],
        active_deployment_id=m["active_deployment_id"] or "",
        release_id=m["bundle_release_id"] or "",
        version=m["version"] or "",
        artifact_uri=(m["artifact_uri"] or "") if kind is Kind.STATIC else "",
        backends=backends if kind is Kind.DYNAMIC else (),
    )
