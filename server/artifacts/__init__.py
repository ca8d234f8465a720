"""Where release artifacts live (docs/product.md §2, docs/adr/010-artifact-store.md): a small async store
interface, a folder or an S3 bucket behind it.

`store://<org>/<key>` artifacts are held by the store itself (server/artifacts/uris.py says which
URIs name what); an external `file:///absolute/path` is only checked for presence, never deleted.
"Gone" means the store says the object does not exist; a store that cannot be reached raises, and
callers treat that as a backend fault (server/store/faults.py: UNAVAILABLE, retried), never as gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from server.artifacts.objects import CHUNK, ObjectArtifacts, open_store
from server.artifacts.uris import STORE_SCHEME, supported

__all__ = ["CHUNK", "STORE_SCHEME", "ArtifactStore", "ObjectArtifacts", "download", "open_store", "supported"]


class ArtifactStore(Protocol):
    # Where the store is: `file:///…` or `s3://bucket/prefix` (as configured).
    location: str

    async def put(self, organization_id: str, release_id: str, chunks: AsyncIterator[bytes]) -> str:
        """Keep the artifact, streamed in; the `store://` URI it is held under."""

    async def exists(self, uri: str) -> bool:
        """Whether the object is there (False means gone; an unreachable store raises)."""

    def open(self, uri: str) -> AsyncIterator[bytes]:
        """The artifact's bytes, in chunks of at most CHUNK (FileNotFoundError if it is gone)."""

    def manages(self, uri: str) -> bool:
        """Whether the store holds (and may delete) the object, rather than only checking an external one."""

    async def delete(self, uri: str) -> None:
        """Remove an object the store holds; nothing happens if it is already gone."""

    def referenced(self, organization_id: str, uri: str) -> str:
        """The URI a release of the organization records for an artifact it names by reference
        (`store://` for an object of the store); ValueError says why it may not name `uri`."""

    async def read_meta(self, name: str) -> bytes | None:
        """An object of the installation itself (its marker), never an organization's; None if absent."""

    async def write_meta(self, name: str, content: bytes) -> None: ...


async def download(store: ArtifactStore, uri: str, path: Path) -> None:
    """Stream the artifact into a local file."""
    with path.open("wb") as out:
        async for chunk in store.open(uri):
            await asyncio.to_thread(out.write, chunk)
