"""The artifact store on obstore (docs/adr/010-artifact-store.md): a folder or an S3 bucket, one code path.

Memory stays bounded whatever the artifact's size: an upload is sent in
parts of PART bytes with at most PARALLEL_PARTS in flight, a download is read
in chunks of at most CHUNK. External `file://` artifacts are read with the
standard library: they are outside any store root, and only checked, never
held.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote, urlsplit

import obstore
from obstore.store import LocalStore, S3Store

from server.artifacts import uris
from server.config import ArtifactSettings

if TYPE_CHECKING:
    from obstore.store import ClientConfig, ObjectStore, RetryConfig, S3Config

CHUNK = 1024 * 1024
# S3's smallest multipart part; smaller artifacts go up in one request.
PART = 5 * 1024 * 1024
PARALLEL_PARTS = 2
# A download of a large artifact may take long: stalls are caught by the read timeout instead.
WHOLE_REQUEST = timedelta(hours=24)


class ObjectArtifacts:
    """An ArtifactStore (server/artifacts/__init__.py) over an obstore ObjectStore rooted at `location`."""

    def __init__(self, location: str, objects: ObjectStore, folder: Path | None = None) -> None:
        self.location = location
        self._objects = objects
        self._folder = folder  # the root of a folder store (`file://`), which `exists` asks directly

    async def put(self, organization_id: str, release_id: str, chunks: AsyncIterator[bytes]) -> str:
        key = f"{organization_id}/{release_id}"
        await self._write(key, chunks)
        return uris.store_uri(key)

    async def exists(self, uri: str) -> bool:
        key = uris.store_key(uri)
        if key is None:
            return await asyncio.to_thread(_external(uri).is_file)
        if self._folder is not None:
            # A folder's HEAD is one stat (a few µs): asked directly, it skips the hop to obstore's threads
            # and back, 0.3–0.8 ms of every rollback and approval, or of a blocked loop (README, Performance).
            return (self._folder / key).is_file()
        try:
            await obstore.head_async(self._objects, key)
        except FileNotFoundError:
            return False
        return True

    async def open(self, uri: str) -> AsyncIterator[bytes]:
        key = uris.store_key(uri)
        if key is None:
            with _external(uri).open("rb") as artifact:
                while chunk := await asyncio.to_thread(artifact.read, CHUNK):
                    yield chunk
            return
        result = await obstore.get_async(self._objects, key)
        async for buffer in result.stream(min_chunk_size=CHUNK):
            # The stream hands out at least CHUNK bytes at a time, sometimes a little more.
            for start in range(0, len(buffer), CHUNK):
                yield buffer[start : start + CHUNK]

    def manages(self, uri: str) -> bool:
        return uris.store_key(uri) is not None

    async def delete(self, uri: str) -> None:
        key = uris.store_key(uri)
        if key is None:
            raise ValueError(f"{uri} is external: the artifact store never deletes it")
        try:
            await obstore.delete_async(self._objects, key)
        except FileNotFoundError:
            pass  # already gone: deleting is idempotent (S3 says nothing either)

    def referenced(self, organization_id: str, uri: str) -> str:
        return uris.referenced(self.location, organization_id, uri)

    async def read_meta(self, name: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._objects, f"{uris.META_PREFIX}/{name}")
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            return None

    async def write_meta(self, name: str, content: bytes) -> None:
        await obstore.put_async(self._objects, f"{uris.META_PREFIX}/{name}", content, use_multipart=False)

    async def _write(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        """One request for a small artifact; a multipart upload, streamed, for a larger one. Nothing is
        visible under `key` unless every chunk arrived (an error from `chunks` aborts the upload)."""
        head = bytearray()
        async for chunk in chunks:
            head += chunk
            if len(head) >= PART:
                break
        else:
            await obstore.put_async(self._objects, key, bytes(head), use_multipart=False)
            return

        async def rest() -> AsyncIterator[bytes]:
            yield bytes(head)
            head.clear()
            async for chunk in chunks:
                yield chunk

        await obstore.put_async(
            self._objects, key, rest(), use_multipart=True, chunk_size=PART, max_concurrency=PARALLEL_PARTS
        )


def _external(uri: str) -> Path:
    return Path(unquote(urlsplit(uri).path))


def open_store(settings: ArtifactSettings) -> ObjectArtifacts:
    """The configured store; nothing is contacted yet (server/app/installation.py proves it is the right one)."""
    parsed = urlsplit(settings.store)
    if parsed.scheme == "file":
        folder = Path(unquote(parsed.path))
        return ObjectArtifacts(settings.store, LocalStore(folder, mkdir=True), folder)
    timeout = timedelta(seconds=settings.timeout_seconds)
    client: ClientConfig = {
        "connect_timeout": timeout,
        "read_timeout": timeout,
        "timeout": WHOLE_REQUEST,
        # config.py allows plain http only for a loopback endpoint.
        "allow_http": settings.endpoint.startswith("http://"),
    }
    retry: RetryConfig = {"max_retries": 3, "retry_timeout": timeout, "backoff": {"max_backoff": timedelta(seconds=1)}}
    given: S3Config = {
        "endpoint": settings.endpoint,
        "region": settings.region,
        "access_key_id": settings.access_key_id,
        "secret_access_key": settings.secret_access_key,
        "session_token": settings.session_token,
    }
    # Unset ones are left to obstore's own defaults (region us-east-1, the AWS endpoint).
    config = cast("S3Config", {name: value for name, value in given.items() if value})
    prefix = parsed.path.strip("/") or None
    store = S3Store(parsed.netloc, prefix=prefix, config=config, client_options=client, retry_config=retry)
    return ObjectArtifacts(settings.store, store)
