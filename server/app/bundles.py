"""What an artifact is: a bundle (a `.tar.gz` with a `rollout.toml` manifest, docs/bundles.md) or a plain file."""

from __future__ import annotations

from server.artifacts import ArtifactStore
from server.domain.models import JSON


async def inspect(artifacts: ArtifactStore, uri: str) -> JSON | None:
    """The bundle's checked manifest, or None for a plain artifact; InvalidArgument for a bad bundle."""
    return None
