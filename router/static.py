"""STATIC instances: the active release's files, from the artifact store, unpacked once per release id.

Releases are immutable, so a release's folder never goes stale: a switch only
changes which folder answers (nothing is copied then). A release is fetched
the first time a route names it (router/proxy.py starts that when the route
arrives, so the switch is usually already warm) and kept under
`<cache dir>/<release id>/`. A `.tar.gz` artifact is unpacked (publish
already refused archives that escape their folder; `filter="data"` refuses
them again); any other artifact is one file, served at every path.
"""

from __future__ import annotations

import asyncio
import mimetypes
import shutil
import tarfile
import uuid
from pathlib import Path

from server.artifacts import ArtifactStore

SINGLE = "artifact"  # the file name a one-file artifact is kept under
INDEX = "index.html"


class StaticFiles:
    def __init__(self, store: ArtifactStore, cache_dir: Path) -> None:
        self.store, self.cache_dir = store, cache_dir
        self._fetching: dict[str, asyncio.Task[Path]] = {}

    def folder(self, release_id: str, artifact_uri: str) -> asyncio.Task[Path]:
        """The release's folder, fetched once (concurrent callers share the fetch)."""
        task = self._fetching.get(release_id)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.ensure_future(self._fetch(release_id, artifact_uri))
            self._fetching[release_id] = task
        return task

    async def _fetch(self, release_id: str, artifact_uri: str) -> Path:
        uuid.UUID(release_id)  # a path part: only ever a UUID
        final = self.cache_dir / release_id
        if final.is_dir():
            return final
        work = self.cache_dir / f".{release_id}.{uuid.uuid4().hex}"
        (work / "files").mkdir(parents=True)
        try:
            download = work / "download"
            with download.open("wb") as out:
                async for chunk in self.store.open(artifact_uri):
                    await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(_unpack, download, work / "files")
            try:
                (work / "files").rename(final)
            except OSError:
                if not final.is_dir():  # another router on this folder won the race: theirs is the same
                    raise
            return final
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    @staticmethod
    def file(folder: Path, path: str) -> Path | None:
        """The file that answers `path` in the release's folder, or None (404)."""
        single = folder / SINGLE
        if single.is_file() and len(list(folder.iterdir())) == 1:
            return single
        relative = path.lstrip("/")
        target = (folder / relative).resolve()
        root = folder.resolve()
        if target != root and root not in target.parents:
            return None
        if target.is_dir():
            target = target / INDEX
        return target if target.is_file() else None

    @staticmethod
    def content_type(path: Path) -> str:
        return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _unpack(download: Path, into: Path) -> None:
    if tarfile.is_tarfile(download):
        with tarfile.open(download, "r:*") as archive:
            archive.extractall(into, filter="data")
    else:
        download.rename(into / SINGLE)
