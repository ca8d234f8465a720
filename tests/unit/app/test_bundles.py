"""Inspecting and unpacking real archives: server/app/bundles.py (a real local artifact store, real tar files)."""

from __future__ import annotations

import asyncio
import gzip
import io
import stat
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from server.app import bundles
from server.artifacts import open_store
from server.config import ArtifactSettings
from server.domain.errors import InvalidArgument
from server.domain.models import JSON
from tools.bundle import build

MANIFEST = b'[serve]\ncommand = ["./serve"]\n'


def tar_gz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, content in members:
            info.size = len(content) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return out.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def manifest_entry() -> tuple[tarfile.TarInfo, bytes]:
    return entry("rollout.toml"), MANIFEST


def inspect(tmp_path: Path, content: bytes) -> JSON | None:
    store = open_store(ArtifactSettings(store=(tmp_path / "store").absolute().as_uri()))

    async def run() -> JSON | None:
        async def chunks() -> AsyncIterator[bytes]:
            yield content

        return await bundles.inspect(store, await store.put("acme", "r1", chunks()))

    return asyncio.run(run())


def refused(tmp_path: Path, content: bytes) -> str:
    with pytest.raises(InvalidArgument) as bad:
        inspect(tmp_path, content)
    [violation] = bad.value.violations
    assert violation.field == "artifact"
    return violation.description


def test_a_bundle_gives_its_checked_manifest(tmp_path: Path) -> None:
    manifest = inspect(tmp_path, build({"rollout.toml": MANIFEST, "serve": b"#!/bin/sh\n"}, "1.0.0"))
    assert manifest is not None and manifest["serve"]["command"] == ["./serve"]


def test_a_bundle_packed_from_a_folder_with_dot_slash_names(tmp_path: Path) -> None:
    assert inspect(tmp_path, tar_gz((entry(".", tarfile.DIRTYPE), b""), (entry("./rollout.toml"), MANIFEST))) is not None


@pytest.mark.parametrize(
    "content",
    [
        b"plain bytes",
        b"",
        gzip.compress(b"a gzip of something that is not a tar"),
        tar_gz((entry("index.html"), b"<h1>hi</h1>")),  # a STATIC site without a manifest
        tar_gz((entry("sub/rollout.toml"), MANIFEST)),  # a manifest not at the root does not count
    ],
    ids=["plain", "empty", "gzip", "tar.gz without manifest", "manifest below the root"],
)
def test_a_plain_artifact_has_no_manifest(tmp_path: Path, content: bytes) -> None:
    assert inspect(tmp_path, content) is None


def test_a_bad_manifest_is_refused_with_its_fields(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as bad:
        inspect(tmp_path, build({"rollout.toml": b"[serve]\ncommand = []\n[health]\nstatus = 1\n"}))
    assert {v.field for v in bad.value.violations} == {"manifest.serve.command", "manifest.health.status"}


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ((entry("../evil.sh"), b"x"), "escapes"),
        ((entry("/etc/cron.d/evil"), b"x"), "absolute"),
        ((entry("out", tarfile.SYMTYPE, "/etc"), b""), "symlink pointing out"),
        ((entry("out", tarfile.SYMTYPE, "../../.."), b""), "symlink pointing out"),
        ((entry("hard", tarfile.LNKTYPE, "../../etc/passwd"), b""), "hard link pointing out"),
        ((entry("tty", tarfile.CHRTYPE), b""), "device"),
        ((entry("pipe", tarfile.FIFOTYPE), b""), "device"),
    ],
)
def test_a_malicious_archive_is_refused(tmp_path: Path, member: tuple[tarfile.TarInfo, bytes], problem: str) -> None:
    for members in ((manifest_entry(), member), (member,)):  # with or without a manifest: both get unpacked
        assert problem in refused(tmp_path, tar_gz(*members))


def test_a_truncated_archive_is_refused(tmp_path: Path) -> None:
    whole = build({"rollout.toml": MANIFEST, "big": bytes(range(256)) * 4000})
    assert "cannot be read" in refused(tmp_path, whole[: len(whole) // 2])


def unpack(tmp_path: Path, content: bytes) -> tuple[bool, Path]:
    store = open_store(ArtifactSettings(store=(tmp_path / "store").absolute().as_uri()))
    into = tmp_path / "work" / "bundle"

    async def run() -> bool:
        async def chunks() -> AsyncIterator[bytes]:
            yield content

        return await bundles.unpack(store, await store.put("acme", "r1", chunks()), into)

    return asyncio.run(run()), into


def test_unpack_keeps_files_and_their_executable_bit(tmp_path: Path) -> None:
    unpacked, into = unpack(tmp_path, build({"rollout.toml": MANIFEST, "bin/serve": b"#!/bin/sh\n"}, "2.0.0", frozenset({"bin/serve"})))
    assert unpacked
    assert (into / "VERSION").read_text() == "2.0.0\n"
    assert (into / "bin" / "serve").stat().st_mode & stat.S_IXUSR
    assert not (into.parent / ".bundle.artifact").exists(), "the downloaded archive is not kept"


def test_unpack_refuses_what_inspect_refuses(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        unpack(tmp_path, tar_gz(manifest_entry(), (entry("../escape"), b"x")))
    assert not (tmp_path / "escape").exists() and not (tmp_path / "work" / "escape").exists()


@pytest.mark.parametrize("make", [lambda: b"plain", lambda: gzip.compress(b"not a tar")])
def test_unpack_of_a_plain_artifact_says_so(tmp_path: Path, make: Callable[[], bytes]) -> None:
    assert unpack(tmp_path, make())[0] is False
