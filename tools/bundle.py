"""Pack a bundle folder into a release artifact (docs/bundles.md).

    python -m tools.bundle pack examples/bundles/hello --version 2.0.0 -o hello-2.0.0.tar.gz

The folder must hold a `rollout.toml`; it is checked with the server's own
rules first. The version is stamped into the bundle as a `VERSION` file at its
root, so one folder packs into every version. The archive is reproducible:
members sorted, times, owners and permissions normalized (only the
executable bit is kept). `build()` does the same in memory, for tests.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path

from server.domain import bundles
from server.domain.errors import InvalidArgument
from server.domain.semver import InvalidVersion, Version

VERSION_FILE = "VERSION"
SKIPPED = {"__pycache__", ".git", ".DS_Store"}
MTIME = 0


def build(files: Mapping[str, bytes], version: str | None = None, executable: frozenset[str] = frozenset()) -> bytes:
    """A .tar.gz of `files` (path → content) with `VERSION` stamped if given; `executable` paths get mode 0755."""
    members = dict(files)
    if version is not None:
        members[VERSION_FILE] = f"{version}\n".encode()
    out = io.BytesIO()
    # mtime=0 in the gzip header too: the same files give the same bytes (and sha256).
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=MTIME) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name in sorted(members):
            content = members[name]
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), MTIME
            info.mode = 0o755 if name in executable else 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


# The smallest servable bundle: stdlib's HTTP server on $PORT, health-checked on "/".
MINIMAL_MANIFEST = b"""[serve]
command = ["python3", "-c", "import http.server, os; http.server.test(port=int(os.environ['PORT']), bind='127.0.0.1')"]
"""


def minimal(version: str) -> bytes:
    """A servable bundle with nothing else in it: what tests and the fault campaign deploy on DYNAMIC instances."""
    return build({bundles.MANIFEST: MINIMAL_MANIFEST}, version)


def read_folder(folder: Path) -> tuple[dict[str, bytes], frozenset[str]]:
    """Every file under `folder` (relative path → content) and which of them are executable."""
    files: dict[str, bytes] = {}
    executable = set()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in SKIPPED for part in relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        name = relative.as_posix()
        files[name] = path.read_bytes()
        if path.stat().st_mode & 0o100:
            executable.add(name)
    return files, frozenset(executable)


def pack(folder: Path, version: str) -> bytes:
    """The folder as a release artifact at `version`; ValueError saying what is wrong with it."""
    try:
        Version.parse(version)
    except InvalidVersion as exc:
        raise ValueError(f"--version {version!r}: {exc}") from None
    files, executable = read_folder(folder)
    if bundles.MANIFEST not in files:
        raise ValueError(f"{folder} has no {bundles.MANIFEST}")
    try:
        bundles.parse(files[bundles.MANIFEST])
    except InvalidArgument as exc:
        raise ValueError("; ".join(f"{v.field}: {v.description}" for v in exc.violations)) from None
    return build(files, version, executable)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bundle", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="pack a bundle folder into a .tar.gz release artifact")
    packing.add_argument("folder", type=Path)
    packing.add_argument("--version", required=True, help="the release's version (semver), stamped as VERSION")
    packing.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        artifact = pack(args.folder, args.version)
    except (ValueError, OSError) as exc:
        print(f"tools.bundle: {exc}", file=sys.stderr)
        return 1
    args.output.write_bytes(artifact)
    print(f"{args.output}: {len(artifact)} bytes, version {args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
