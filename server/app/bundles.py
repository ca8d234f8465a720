"""What an artifact is: a bundle (a `.tar.gz` with a `rollout.toml` manifest, docs/bundles.md) or a plain file.

PublishRelease and UploadRelease call `inspect` before anything is recorded;
drivers call `unpack` to get a bundle's files into a fresh folder. Both apply
the member rules of server/domain/bundles.py, so an archive that was accepted
is one that unpacks safely.
"""

from __future__ import annotations

import asyncio
import tarfile
import tempfile
import zlib
from pathlib import Path

from server.artifacts import ArtifactStore, download
from server.domain import bundles as rules
from server.domain.errors import invalid
from server.domain.models import JSON

GZIP_MAGIC = b"\x1f\x8b"


async def inspect(artifacts: ArtifactStore, uri: str) -> JSON | None:
    """The bundle's checked manifest, or None for a plain artifact; InvalidArgument for a bad bundle.

    Every `.tar.gz` is checked member by member, with or without a manifest: a
    STATIC release's archive is unpacked too (by the edge router).
    """
    with tempfile.TemporaryDirectory(prefix="rollout-inspect-") as folder:
        path = Path(folder) / "artifact"
        try:
            await download(artifacts, uri, path)
        except FileNotFoundError:
            return None  # an external artifact that is not there (yet): its presence is judged apart
        return await asyncio.to_thread(_inspect_file, path)


async def unpack(artifacts: ArtifactStore, uri: str, folder: Path) -> bool:
    """Download the artifact and unpack a bundle into `folder` (created; it must not exist); False if the
    artifact is not a .tar.gz."""
    folder.mkdir(mode=0o700, parents=True)
    archive = folder.parent / f".{folder.name}.artifact"
    try:
        await download(artifacts, uri, archive)
        return await asyncio.to_thread(_unpack_file, archive, folder)
    finally:
        archive.unlink(missing_ok=True)


def _member(info: tarfile.TarInfo) -> rules.Member:
    if info.isreg():
        kind = rules.MemberKind.FILE
    elif info.isdir():
        kind = rules.MemberKind.DIRECTORY
    elif info.issym():
        kind = rules.MemberKind.SYMLINK
    elif info.islnk():
        kind = rules.MemberKind.HARDLINK
    else:
        kind = rules.MemberKind.OTHER
    return rules.Member(info.name, kind, info.size, info.linkname)


def _open(path: Path) -> tarfile.TarFile | None:
    """The archive, or None when the artifact is not a .tar.gz (a plain file, even a gzip of one)."""
    with path.open("rb") as artifact:
        if artifact.read(2) != GZIP_MAGIC:
            return None
    try:
        return tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        return None


def _checked(archive: tarfile.TarFile) -> tarfile.TarInfo | None:
    """Check every member (stopping at the first bad one, before reading further); the manifest's entry."""
    check = rules.ArchiveCheck()
    manifest: tarfile.TarInfo | None = None
    try:
        for info in archive:
            member = _member(info)
            check.add(member)
            if rules.is_manifest(member):
                manifest = info
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise invalid(rules.ARTIFACT_FIELD, "is a .tar.gz that cannot be read to its end (truncated or corrupt)") from None
    return manifest


def _manifest(archive: tarfile.TarFile, entry: tarfile.TarInfo | None) -> rules.Manifest | None:
    if entry is None:
        return None
    extracted = archive.extractfile(entry)
    assert extracted is not None, "a regular file"
    with extracted:
        return rules.parse(extracted.read(rules.MAX_MANIFEST_BYTES + 1))


def _inspect_file(path: Path) -> JSON | None:
    archive = _open(path)
    if archive is None:
        return None
    with archive:
        manifest = _manifest(archive, _checked(archive))
    return manifest.to_json() if manifest else None


def _unpack_file(path: Path, folder: Path) -> bool:
    archive = _open(path)
    if archive is None:
        return False
    with archive:
        _checked(archive)
        # The data filter refuses again what the member rules refuse, and drops setuid bits and the like.
        archive.extractall(folder, filter="data")
    return True
