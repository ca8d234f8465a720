"""Artifact URIs: what each one names, and which objects a release may name by reference.

- `store://<org>/<key>` — an object of the configured artifact store, under its root or prefix at
  `<org>/<key>`. Uploads are held at `<org>/<release id>`. This form is the wire contract: it does
  not change when the store moves.
- `s3://<bucket>/<prefix>/<org>/<key>` and `file:///<root>/<org>/<key>` — the same object, named
  where it lives; a release records it in the `store://` form.
- `file:///absolute/path` outside the store — an external artifact: checked for presence, never
  held or deleted by the store.

An organization names only objects under its own `<org>/`, and never the `<org>/<uuid>` keys the
store holds for uploads: a caller can neither read nor delete another organization's artifacts, nor
share one release's upload with another release.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote, urlsplit

STORE_SCHEME = "store"
# Objects of the installation itself (its marker, server/app/installation.py) live under a name no
# organization can have: organization ids start with a lowercase letter or digit.
META_PREFIX = "_rollout"
MAX_KEY = 1024
_SEGMENT = re.compile(r"[A-Za-z0-9._+=@-]+")


def supported(uri: str) -> str | None:
    """None if `uri` has a form an artifact may be named by; otherwise why not. Whether it names an
    object of the configured store is decided by `referenced`."""
    parsed = urlsplit(uri)
    if parsed.query or parsed.fragment:
        return "an artifact URI has no query or fragment"
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            return "a file:// URI must be absolute, like file:///srv/artifacts/app-1.2.0.tgz"
        if any(part in (".", "..") for part in unquote(parsed.path).split("/")):
            return "a file:// URI must not contain . or .. segments"
        return None
    if parsed.scheme in (STORE_SCHEME, "s3"):
        if not parsed.netloc or parsed.path.strip("/") == "":
            return f"a {parsed.scheme}:// URI names an object, like {parsed.scheme}://<org>/builds/app-1.2.0.tgz"
        return None
    return f"unsupported scheme {parsed.scheme!r}; use store://, s3://, file:///… or upload the content"


def store_uri(key: str) -> str:
    return f"{STORE_SCHEME}://{key}"


def store_key(uri: str) -> str | None:
    """The key of a `store://` URI under the store's root or prefix; None for any other URI."""
    parsed = urlsplit(uri)
    if parsed.scheme != STORE_SCHEME:
        return None
    return f"{parsed.netloc}{parsed.path}"


def referenced(location: str, organization_id: str, uri: str) -> str:
    """The URI a release records for an artifact named by reference, given the store at `location`:
    the `store://` form for an object of the store, the URI itself for an external file. ValueError
    says why the caller may not name `uri`."""
    key = store_key(uri)
    if key is None:
        key = _inside(location, uri)
        if key is None:
            if urlsplit(uri).scheme == "file":
                return uri
            raise ValueError(f"names no object of the artifact store {location}")
    org, _, rest = key.partition("/")
    if org != organization_id or not rest:
        raise ValueError(f"must name an object under {organization_id}/ in the artifact store")
    if _is_uuid(rest):
        raise ValueError(f"{organization_id}/<uuid> keys hold uploaded releases; name another key")
    problem = _key_problem(key)
    if problem:
        raise ValueError(problem)
    return store_uri(key)


def _inside(location: str, uri: str) -> str | None:
    """The key of `uri` if it names an object under the store at `location` (file:// or s3://)."""
    here, there = urlsplit(location), urlsplit(uri)
    if here.scheme != there.scheme:
        return None
    if here.scheme == "s3":
        if there.netloc != here.netloc:
            return None
        root, path = here.path.strip("/"), there.path.lstrip("/")
    else:
        root, path = unquote(here.path).strip("/"), unquote(there.path).lstrip("/")
    if not root:
        return path
    return path[len(root) + 1 :] if path.startswith(root + "/") else None


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _key_problem(key: str) -> str | None:
    if len(key) > MAX_KEY:
        return f"an object key is at most {MAX_KEY} characters"
    for segment in key.split("/"):
        if segment in (".", "..") or not _SEGMENT.fullmatch(segment):
            return "each part of an object key is letters, digits and . _ + = @ - (no empty parts, . or ..)"
    return None
