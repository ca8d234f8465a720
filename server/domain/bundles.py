"""Bundles (docs/bundles.md): the `rollout.toml` manifest's rules, and which archive members are safe to unpack.

Pure: the caller reads the archive and hands over its members and the
manifest's bytes. Every problem is an InvalidArgument with field violations
(`manifest.serve.command`, or `artifact` naming the member), all of them at once.
"""

from __future__ import annotations

import enum
import posixpath
import tomllib
from dataclasses import dataclass
from typing import Any

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.models import JSON

MANIFEST = "rollout.toml"
MAX_MANIFEST_BYTES = 64 * 1024
MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 1 << 30
MAX_ARGS = 64
MAX_ARG = 4096
MAX_TIMEOUT_SECONDS = 24 * 3600.0
MAX_SCHEMA_VERSION = 2**31 - 1
STEPS = ("provision", "decommission", "serve")
# A step without timeout_seconds: provisioning may take a while; a server boots quickly or not at all.
DEFAULT_TIMEOUTS = {"provision": 600.0, "decommission": 600.0, "serve": 60.0}
ARTIFACT_FIELD = "artifact"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    timeout_seconds: float


@dataclass(frozen=True)
class Health:
    """An HTTP GET of `path` on the runtime instance's port must answer `status` within `timeout_seconds`."""

    path: str = "/"
    status: int = 200
    interval_seconds: float = 1.0
    timeout_seconds: float = 2.0


@dataclass(frozen=True)
class Manifest:
    schema_version: int = 0
    provision: Command | None = None
    decommission: Command | None = None
    serve: Command | None = None
    health: Health | None = None  # set exactly when `serve` is

    def step(self, name: str) -> Command | None:
        found: Command | None = getattr(self, name)
        return found

    def to_json(self) -> JSON:
        """As stored on the release (`releases.manifest`); `serve` is there only for a servable bundle."""
        out: JSON = {"schema_version": self.schema_version}
        for name in STEPS:
            command = self.step(name)
            if command is not None:
                out[name] = {"command": list(command.argv), "timeout_seconds": command.timeout_seconds}
        if self.health is not None:
            h = self.health
            out["health"] = {
                "path": h.path,
                "status": h.status,
                "interval_seconds": h.interval_seconds,
                "timeout_seconds": h.timeout_seconds,
            }
        return out

    @classmethod
    def from_json(cls, value: JSON) -> Manifest:
        """The stored form back (it was checked when the release was published)."""
        steps = {
            name: Command(tuple(value[name]["command"]), float(value[name]["timeout_seconds"]))
            for name in STEPS
            if value.get(name)
        }
        health = value.get("health")
        return cls(
            schema_version=int(value.get("schema_version", 0)),
            health=Health(health["path"], int(health["status"]), health["interval_seconds"], health["timeout_seconds"])
            if health
            else None,
            **steps,
        )


class _Fields:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(f"manifest.{field}" if field else "manifest", description))

    def seconds(self, field: str, value: object, limit: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= limit:
            self.add(field, f"must be a number of seconds above 0 and at most {limit:g}")
            return None
        return float(value)

    def unknown(self, prefix: str, table: dict[str, Any], known: set[str]) -> None:
        for key in sorted(set(table) - known):
            self.add(f"{prefix}{key[:64]}", "unknown key")


def parse(data: bytes) -> Manifest:
    """The manifest, checked; InvalidArgument naming every bad field."""
    fields = _Fields()
    if len(data) > MAX_MANIFEST_BYTES:
        fields.add("", f"must be at most {MAX_MANIFEST_BYTES} bytes")
        raise InvalidArgument(fields.violations)
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        fields.add("", "must be UTF-8 text")
        raise InvalidArgument(fields.violations) from None
    except tomllib.TOMLDecodeError as exc:
        fields.add("", f"is not valid TOML: {str(exc)[:120]}")
        raise InvalidArgument(fields.violations) from None
    fields.unknown("", table, {"schema_version", "health", *STEPS})
    schema = _schema_version(fields, table.get("schema_version", 0))
    steps = {name: _command(fields, name, table[name]) for name in STEPS if name in table}
    health = _health(fields, table.get("health"), serving="serve" in table)
    if fields.violations:
        raise InvalidArgument(fields.violations)
    return Manifest(schema_version=schema, health=health, **steps)


def _schema_version(fields: _Fields, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SCHEMA_VERSION:
        fields.add("schema_version", f"must be a whole number from 0 to {MAX_SCHEMA_VERSION}")
        return 0
    return value


def _command(fields: _Fields, name: str, table: object) -> Command | None:
    if not isinstance(table, dict):
        fields.add(name, "must be a table, like [" + name + "] command = [\"./run\"]")
        return None
    fields.unknown(f"{name}.", table, {"command", "timeout_seconds"})
    argv = table.get("command")
    ok = (
        isinstance(argv, list)
        and 0 < len(argv) <= MAX_ARGS
        and all(isinstance(a, str) and 0 < len(a) <= MAX_ARG and "\x00" not in a for a in argv)
    )
    if not ok:
        fields.add(
            f"{name}.command",
            f"must be a list of 1 to {MAX_ARGS} non-empty strings (an argv, run without a shell), "
            f"each at most {MAX_ARG} characters",
        )
    timeout = fields.seconds(
        f"{name}.timeout_seconds", table.get("timeout_seconds", DEFAULT_TIMEOUTS[name]), MAX_TIMEOUT_SECONDS
    )
    if not ok or timeout is None:
        return None
    assert isinstance(argv, list)
    return Command(tuple(argv), timeout)


def _health(fields: _Fields, table: object, serving: bool) -> Health | None:
    if table is None:
        return Health() if serving else None
    if not isinstance(table, dict):
        fields.add("health", "must be a table")
        return None
    if not serving:
        fields.add("health", "only a bundle with a [serve] step is health-checked")
    fields.unknown("health.", table, {"path", "status", "interval_seconds", "timeout_seconds"})
    default = Health()
    path = table.get("path", default.path)
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 1024 or not path.isprintable() or " " in path:
        fields.add("health.path", "must be a URL path starting with '/', without spaces, at most 1024 characters")
    status = table.get("status", default.status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        fields.add("health.status", "must be an HTTP status code (100-599)")
    interval = fields.seconds("health.interval_seconds", table.get("interval_seconds", default.interval_seconds), 3600)
    timeout = fields.seconds("health.timeout_seconds", table.get("timeout_seconds", default.timeout_seconds), 600)
    if fields.violations or interval is None or timeout is None:
        return None
    return Health(str(path), int(status), interval, timeout)


def release_schema_version(declared: int, manifest: JSON | None) -> int:
    """A release's schema version: the manifest's when it declares one; a different explicit one is refused."""
    if manifest is None or not manifest.get("schema_version"):
        return declared
    from_manifest = int(manifest["schema_version"])
    if declared and declared != from_manifest:
        raise InvalidArgument(
            [
                FieldViolation(
                    "release.schema_version",
                    f"is {declared} but the bundle's manifest declares {from_manifest}; leave it 0 or make them agree",
                )
            ]
        )
    return from_manifest


class MemberKind(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # devices, FIFOs, anything else: never unpacked


@dataclass(frozen=True)
class Member:
    """One entry of an archive, as its header declares it."""

    name: str
    kind: MemberKind
    size: int = 0
    link: str = ""  # a link's target


def normalized(name: str) -> str:
    """The member's path relative to the bundle's root ("" for the root itself)."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "" if name == "." else name


def is_manifest(member: Member) -> bool:
    return member.kind is MemberKind.FILE and normalized(member.name) == MANIFEST


def _escapes(path: str) -> bool:
    clean = posixpath.normpath(path) if path else "."
    return path.startswith("/") or clean == ".." or clean.startswith("../")


class ArchiveCheck:
    """Members seen so far; `add` refuses the first one that is not safe to unpack into a fresh folder."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def add(self, member: Member) -> None:
        self.count += 1
        self.total += max(member.size, 0)
        problem = self._problem(member)
        if problem:
            raise InvalidArgument([FieldViolation(ARTIFACT_FIELD, f"member {member.name[:120]!r} {problem}")])

    def _problem(self, member: Member) -> str | None:
        if self.count > MAX_MEMBERS:
            return f"is one too many: an archive holds at most {MAX_MEMBERS} members"
        if self.total > MAX_UNPACKED_BYTES:
            return f"takes the archive past {MAX_UNPACKED_BYTES} bytes unpacked"
        name = normalized(member.name)
        if member.name.startswith("/"):
            return "has an absolute path"
        if ".." in name.split("/") or "\x00" in member.name:
            return "escapes the bundle's folder ('..')"
        if member.kind is MemberKind.OTHER:
            return "is a device, FIFO or other special file"
        if member.kind is MemberKind.SYMLINK and _escapes(posixpath.join(posixpath.dirname(name), member.link)):
            return f"is a symlink pointing out of the bundle ({member.link[:120]!r})"
        if member.kind is MemberKind.HARDLINK and _escapes(normalized(member.link)):
            return f"is a hard link pointing out of the bundle ({member.link[:120]!r})"
        if is_manifest(member) and member.size > MAX_MANIFEST_BYTES:
            return f"(the manifest) must be at most {MAX_MANIFEST_BYTES} bytes"
        return None
