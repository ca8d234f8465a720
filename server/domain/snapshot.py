"""What a proposal captures of the instance (docs/product.md §3, seed 000's snapshot table)."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.models import JSON, Instance, Release

# `md_metadata` is platform context, never user config: it is regenerated from the
# instance's current identity rather than carried over from a past deployment.
MD_METADATA = "md_metadata"


@dataclass(frozen=True)
class Snapshot:
    params: JSON
    md_metadata: JSON
    connection_params: dict[str, str]
    bundle_release_id: str
    version: str
    release_channel: str


def md_metadata(instance: Instance) -> JSON:
    """Platform context of the instance as it is now: organization, project, environment, identity."""
    return {
        "organization_id": instance.organization_id,
        "project": instance.project,
        "environment": instance.environment,
        "instance_id": instance.id,
        "instance_name": instance.name,
    }


def user_params(params: JSON) -> JSON:
    return {k: v for k, v in params.items() if k != MD_METADATA}


def from_instance(instance: Instance, release: Release) -> Snapshot:
    """A proposal of the instance's current params and connections on `release`."""
    return Snapshot(
        params=user_params(instance.params),
        md_metadata=md_metadata(instance),
        connection_params=dict(instance.connections),
        bundle_release_id=release.id,
        version=release.version,
        release_channel=release.release_channel,
    )
