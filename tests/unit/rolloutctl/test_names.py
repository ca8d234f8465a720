"""rolloutctl's naming rules: names, qualified names, id prefixes, and what is ambiguous."""

from __future__ import annotations

import pytest

from rollout.v1 import resources_pb2 as pb
from rolloutctl.names import InstanceRef, by_prefix, is_prefix, is_uuid, one, parse_instance_ref
from rolloutctl.outcome import CliError, ExitCode

A = "1a2b3c4d-0000-4000-8000-000000000001"
B = "1a2b9999-0000-4000-8000-000000000002"


def test_full_uuids_and_prefixes() -> None:
    assert is_uuid(A) and is_uuid(A.upper())
    assert not is_uuid(A[:-1]) and not is_uuid("web")
    assert is_prefix("1a2b") and is_prefix("1A2B3C4D-00")
    assert not is_prefix("1a2")  # too short to mean anything
    assert not is_prefix("web") and not is_prefix("1a2b/x")


def test_instance_names_may_be_qualified_by_environment_and_project() -> None:
    assert parse_instance_ref("web") == InstanceRef("web")
    assert parse_instance_ref("staging/web") == InstanceRef("web", "staging")
    assert parse_instance_ref("shop/staging/web") == InstanceRef("web", "staging", "shop")
    assert parse_instance_ref("shop/staging/web").filter() == "project = shop AND environment = staging AND name = web"
    assert parse_instance_ref("web").filter() == "name = web"
    # What cannot be a name never reaches a filter.
    for text in ("Web", "a/b/c/d", 'web" OR x', "", "9web"):
        assert parse_instance_ref(text) is None


def test_one_match_is_the_answer_none_or_several_are_bad_input() -> None:
    assert one("web", "instance", [("x", "label")]) == "x"
    with pytest.raises(CliError) as missing:
        one("web", "instance", [], hint="`rolloutctl instances` lists them")
    assert (str(missing.value), missing.value.exit_code, missing.value.hint) == (
        "no instance 'web'", ExitCode.BAD_INPUT, "`rolloutctl instances` lists them")
    with pytest.raises(CliError) as ambiguous:
        one("web", "instance", [("a", "shop/production/web  1a2b3c4d"), ("b", "shop/staging/web  5e6f7a8b")])
    assert ambiguous.value.exit_code == ExitCode.BAD_INPUT
    assert str(ambiguous.value) == (
        "'web' is ambiguous: 2 instances match\n  shop/production/web  1a2b3c4d\n  shop/staging/web  5e6f7a8b")


def test_many_ambiguous_matches_are_listed_up_to_ten() -> None:
    with pytest.raises(CliError, match=r"… and 5 more$"):
        one("1a2b", "deployment", [(n, f"d{n}") for n in range(15)])


def test_prefixes_match_the_start_of_ids_in_any_case() -> None:
    items = [pb.Deployment(id=A), pb.Deployment(id=B)]
    assert [d.id for d in by_prefix("1A2B3", items)] == [A]
    assert [d.id for d in by_prefix("1a2b", items)] == [A, B]
    assert by_prefix("ffff", items) == []
