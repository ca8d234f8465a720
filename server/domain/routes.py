"""What the edge router serves for an instance (docs/router.md): its host, and the release or backends behind it.

The host is built from the instance's location, so it follows renames and
moves: `<name>.<project>.<environment>.<organization>.<public domain>`. Every
part is a DNS label already (server/domain/validation.py), so no escaping
is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.models import Kind, RuntimeState

# The runtime instance states a route lists: HEALTHY ones get requests, DRAINING ones only finish theirs.
ROUTED_STATES = (RuntimeState.HEALTHY, RuntimeState.DRAINING)


def host(name: str, project: str, environment: str, organization_id: str, domain: str) -> str:
    """The host name (without port) the instance is served under."""
    return f"{name}.{project}.{environment}.{organization_id}.{domain.rpartition(':')[0] or domain}"


def public_url(name: str, project: str, environment: str, organization_id: str, domain: str) -> str:
    """`http://<host>[:port]`: `domain` may carry the router's port, e.g. `localhost:8080`."""
    return f"http://{name}.{project}.{environment}.{organization_id}.{domain}"


@dataclass(frozen=True)
class Backend:
    runtime_instance_id: str
    address: str  # host:port
    state: RuntimeState


@dataclass(frozen=True)
class Route:
    instance_id: str
    host: str
    kind: Kind
    route_generation: int
    active_deployment_id: str
    release_id: str
    version: str
    artifact_uri: str  # STATIC only
    backends: tuple[Backend, ...]
