"""Where release artifacts live (docs/product.md §2): a small async store interface and its local-folder default.

`store://<org>/<release id>` artifacts are held by the store itself; an
external `file:///absolute/path` is only checked for presence, never deleted.
"Gone" means the store says the object does not exist; a store that cannot be
reached raises, and callers treat that as a backend fault (UNAVAILABLE,
retried), never as gone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

STORE_SCHEME = "store"
CHUNK = 1024 * 1024


class ArtifactStore(Protocol):
    async def put(self, organization_id: str, release_id: str, chunks: AsyncIterator[bytes]) -> str:
        """Keep the artifact, streamed in; the `store://` URI it is held under."""

    async def exists(self, uri: str) -> bool:
        """Whether the object is there (False means gone; an unreachable store raises)."""

    def open(self, uri: str) -> AsyncIterator[bytes]:
        """The artifact's bytes, in chunks of at most CHUNK (FileNotFoundError if it is gone)."""

    def manages(self, uri: str) -> bool:
        """Whether the store holds (and may delete) the object, rather than only checking an external one."""

    async def delete(self, uri: str) -> None: ...


def supported(uri: str) -> str | None:
    """None if the store can check `uri`; otherwise why not."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            return "a file:// URI must be absolute, like file:///srv/artifacts/app-1.2.0.tgz"
        return None
    if parsed.scheme == STORE_SCHEME:
        return "store:// URIs are assigned by the server; upload with artifact_content instead"
    return f"unsupported scheme {parsed.scheme!r}; use file:///… or upload artifact_content"


async def download(store: ArtifactStore, uri: str, path: Path) -> None:
    """Stream the artifact into a local file."""
    with path.open("wb") as out:
        async for chunk in store.open(uri):
            await asyncio.to_thread(out.write, chunk)


class LocalArtifactStore:
    """Artifacts in a folder on this machine (servers and workers elsewhere need shared storage)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme == STORE_SCHEME:
            return self.root / parsed.netloc / parsed.path.lstrip("/")
        return Path(parsed.path)

    async def put(self, organization_id: str, release_id: str, chunks: AsyncIterator[bytes]) -> str:
        path = self.root / organization_id / release_id
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        try:
            with tmp.open("wb") as out:
                async for chunk in chunks:
                    await asyncio.to_thread(out.write, chunk)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return f"{STORE_SCHEME}://{organization_id}/{release_id}"

    async def exists(self, uri: str) -> bool:
        return await asyncio.to_thread(self._path(uri).is_file)

    async def open(self, uri: str) -> AsyncIterator[bytes]:
        with self._path(uri).open("rb") as artifact:
            while chunk := await asyncio.to_thread(artifact.read, CHUNK):
                yield chunk

    def manages(self, uri: str) -> bool:
        return urlparse(uri).scheme == STORE_SCHEME

    async def delete(self, uri: str) -> None:
        await asyncio.to_thread(self._path(uri).unlink, True)
