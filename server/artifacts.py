"""Where release artifacts live (docs/product.md §2): a small store interface and its local-folder default.

`store://<org>/<release id>` artifacts are held by the store itself; an
external `file:///absolute/path` is only checked for presence, never deleted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

STORE_SCHEME = "store"


class ArtifactStore(Protocol):
    def put(self, organization_id: str, release_id: str, content: bytes) -> str: ...
    def exists(self, uri: str) -> bool: ...
    def manages(self, uri: str) -> bool: ...
    def delete(self, uri: str) -> None: ...


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


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme == STORE_SCHEME:
            return self.root / parsed.netloc / parsed.path.lstrip("/")
        return Path(parsed.path)

    def put(self, organization_id: str, release_id: str, content: bytes) -> str:
        path = self.root / organization_id / release_id
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        return f"{STORE_SCHEME}://{organization_id}/{release_id}"

    def exists(self, uri: str) -> bool:
        return self._path(uri).is_file()

    def manages(self, uri: str) -> bool:
        return urlparse(uri).scheme == STORE_SCHEME

    def delete(self, uri: str) -> None:
        self._path(uri).unlink(missing_ok=True)
