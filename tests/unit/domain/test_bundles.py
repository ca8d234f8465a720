"""The manifest's rules and which archive members unpack safely: server/domain/bundles.py."""

from __future__ import annotations

import pytest

from server.domain import bundles
from server.domain.bundles import ArchiveCheck, Command, Health, Manifest, Member, MemberKind
from server.domain.errors import InvalidArgument

FULL = b"""
schema_version = 3

[provision]
command = ["terraform", "apply", "-auto-approve"]
timeout_seconds = 900

[decommission]
command = ["terraform", "destroy", "-auto-approve"]

[serve]
command = ["./server", "--port-from-env"]
timeout_seconds = 20

[health]
path = "/ready"
status = 204
interval_seconds = 0.5
timeout_seconds = 1
"""


def violations(text: bytes) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as bad:
        bundles.parse(text)
    return {v.field: v.description for v in bad.value.violations}


def test_a_full_manifest() -> None:
    manifest = bundles.parse(FULL)
    assert manifest == Manifest(
        schema_version=3,
        provision=Command(("terraform", "apply", "-auto-approve"), 900.0),
        decommission=Command(("terraform", "destroy", "-auto-approve"), 600.0),
        serve=Command(("./server", "--port-from-env"), 20.0),
        health=Health("/ready", 204, 0.5, 1.0),
    )
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_every_step_is_optional_and_serve_gets_a_default_health_check() -> None:
    assert bundles.parse(b"") == Manifest()
    assert bundles.parse(b"").to_json() == {"schema_version": 0}
    serving = bundles.parse(b'[serve]\ncommand = ["./run"]\n')
    assert serving.health == Health("/", 200, 1.0, 2.0)
    assert serving.to_json()["serve"] == {"command": ["./run"], "timeout_seconds": 60.0}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (b"[provision]\ncommand = []\n", "manifest.provision.command"),
        (b'[provision]\ncommand = "make deploy"\n', "manifest.provision.command"),
        (b"[provision]\ncommand = [1, 2]\n", "manifest.provision.command"),
        (b'[provision]\ncommand = [""]\n', "manifest.provision.command"),
        (b"[serve]\ntimeout_seconds = 5\n", "manifest.serve.command"),
        (b'[serve]\ncommand = ["x"]\ntimeout_seconds = 0\n', "manifest.serve.timeout_seconds"),
        (b'[serve]\ncommand = ["x"]\ntimeout_seconds = "soon"\n', "manifest.serve.timeout_seconds"),
        (b'[serve]\ncommand = ["x"]\ntimeout_seconds = 1e9\n', "manifest.serve.timeout_seconds"),
        (b'[decommission]\ncommand = ["x"]\nshell = true\n', "manifest.decommission.shell"),
        (b'provision = "x"\n', "manifest.provision"),
        (b"schema_version = -1\n", "manifest.schema_version"),
        (b"schema_version = true\n", "manifest.schema_version"),
        (b"schema_version = 1.5\n", "manifest.schema_version"),
        (b"[build]\n", "manifest.build"),
        (b'[serve]\ncommand = ["x"]\n[health]\npath = "ready"\n', "manifest.health.path"),
        (b'[serve]\ncommand = ["x"]\n[health]\npath = "/a b"\n', "manifest.health.path"),
        (b'[serve]\ncommand = ["x"]\n[health]\nstatus = 99\n', "manifest.health.status"),
        (b'[serve]\ncommand = ["x"]\n[health]\ninterval_seconds = -1\n', "manifest.health.interval_seconds"),
        (b'[serve]\ncommand = ["x"]\n[health]\ntimeout_seconds = 601\n', "manifest.health.timeout_seconds"),
        (b'[serve]\ncommand = ["x"]\n[health]\nurl = "/"\n', "manifest.health.url"),
        (b'[health]\npath = "/"\n', "manifest.health"),
        (b"[provision\n", "manifest"),
        (b"\xff\xfe", "manifest"),
    ],
)
def test_a_bad_field_is_named(text: bytes, field: str) -> None:
    assert field in violations(text)


def test_every_bad_field_is_named_at_once() -> None:
    found = violations(b'schema_version = "one"\n[provision]\ncommand = []\n[serve]\ncommand = ["x"]\n[health]\nstatus = 0\n')
    assert set(found) == {"manifest.schema_version", "manifest.provision.command", "manifest.health.status"}


def test_an_oversized_manifest_is_refused_before_it_is_parsed() -> None:
    assert "manifest" in violations(b"#" * (bundles.MAX_MANIFEST_BYTES + 1))


def test_an_argv_is_bounded() -> None:
    assert "manifest.serve.command" in violations(b"[serve]\ncommand = [" + b'"a",' * 65 + b"]\n")
    assert "manifest.serve.command" in violations(b'[serve]\ncommand = ["' + b"a" * 4097 + b'"]\n')


# --- schema versions ---------------------------------------------------------------


def test_the_manifest_gives_the_release_its_schema_version() -> None:
    assert bundles.release_schema_version(0, {"schema_version": 3}) == 3
    assert bundles.release_schema_version(3, {"schema_version": 3}) == 3
    assert bundles.release_schema_version(2, {"schema_version": 0}) == 2
    assert bundles.release_schema_version(2, None) == 2
    with pytest.raises(InvalidArgument) as conflict:
        bundles.release_schema_version(2, {"schema_version": 3})
    assert [v.field for v in conflict.value.violations] == ["release.schema_version"]


# --- archive members ---------------------------------------------------------------

F, D, S, H, O = MemberKind.FILE, MemberKind.DIRECTORY, MemberKind.SYMLINK, MemberKind.HARDLINK, MemberKind.OTHER


@pytest.mark.parametrize(
    "member",
    [
        Member("rollout.toml", F, 100),
        Member("./rollout.toml", F, 100),
        Member(".", D),
        Member("./app/", D),
        Member("app/main.py", F, 10),
        Member("app/current", S, link="releases/v2"),
        Member("app/up", S, link="../rollout.toml"),
        Member("app/self", S, link="."),
        Member("copy.py", H, link="app/main.py"),
        Member("a..b/c..", F),
    ],
)
def test_safe_members(member: Member) -> None:
    ArchiveCheck().add(member)


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (Member("../evil", F), "escapes"),
        (Member("app/../../evil", F), "escapes"),
        (Member("./..", D), "escapes"),
        (Member("/etc/passwd", F), "absolute"),
        (Member("link", S, link="/etc/passwd"), "symlink pointing out"),
        (Member("app/link", S, link="../../etc"), "symlink pointing out"),
        (Member("link", S, link=".."), "symlink pointing out"),
        (Member("hard", H, link="../outside"), "hard link pointing out"),
        (Member("hard", H, link="/etc/shadow"), "hard link pointing out"),
        (Member("dev/null", O), "device"),
        (Member("rollout.toml", F, bundles.MAX_MANIFEST_BYTES + 1), "manifest"),
        (Member("huge.bin", F, bundles.MAX_UNPACKED_BYTES + 1), "unpacked"),
    ],
)
def test_unsafe_members_are_refused_naming_the_member(member: Member, problem: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        ArchiveCheck().add(member)
    [violation] = refused.value.violations
    assert violation.field == "artifact"
    assert repr(member.name) in violation.description and problem in violation.description


def test_the_member_count_and_total_size_are_bounded() -> None:
    many = ArchiveCheck()
    for n in range(bundles.MAX_MEMBERS):
        many.add(Member(f"f{n}", F))
    with pytest.raises(InvalidArgument) as refused:
        many.add(Member("last", F))
    assert "one too many" in refused.value.violations[0].description
    big = ArchiveCheck()
    big.add(Member("a", F, bundles.MAX_UNPACKED_BYTES))
    with pytest.raises(InvalidArgument) as refused:
        big.add(Member("b", F, 1))
    assert "unpacked" in refused.value.violations[0].description
