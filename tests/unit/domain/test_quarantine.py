"""Quarantined releases: newest_matching skips them, a newer release lifts them (server/domain/releases.py)."""

from __future__ import annotations

import pytest

from server.domain.errors import FailedPrecondition
from server.domain.models import Instance, Release
from server.domain.releases import NO_MATCHING_RELEASE, newest_matching, quarantines_lifted_by
from tests.unit import factories as make


def _no_match(instance: Instance, candidates: list[Release]) -> FailedPrecondition:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(instance, candidates)
    assert exc_info.value.reason == NO_MATCHING_RELEASE
    return exc_info.value


# --- newest_matching skips quarantined releases ---------------------------------------------


def test_instance_has_no_quarantine_by_default() -> None:
    assert make.instance().quarantined_release_ids == ()


def test_quarantined_newest_is_skipped_for_the_next_newest() -> None:
    r1, r2, r3 = make.release("1.0.0"), make.release("1.1.0"), make.release("2.0.0")
    instance = make.instance(quarantined_release_ids=("rel-2.0.0",))
    assert newest_matching(instance, [r3, r1, r2]) is r2


def test_without_quarantine_the_newest_wins() -> None:
    r1, r2 = make.release("1.0.0"), make.release("2.0.0")
    assert newest_matching(make.instance(), [r1, r2]) is r2


def test_several_quarantined_releases_are_all_skipped() -> None:
    r1, r2, r3 = make.release("1.0.0"), make.release("1.1.0"), make.release("2.0.0")
    instance = make.instance(quarantined_release_ids=("rel-2.0.0", "rel-1.1.0"))
    assert newest_matching(instance, [r1, r2, r3]) is r1


def test_quarantine_of_an_older_release_does_not_change_the_choice() -> None:
    r1, r2 = make.release("1.0.0"), make.release("2.0.0")
    instance = make.instance(quarantined_release_ids=("rel-1.0.0",))
    assert newest_matching(instance, [r1, r2]) is r2


def test_quarantine_of_an_unknown_release_id_is_harmless() -> None:
    r1, r2 = make.release("1.0.0"), make.release("2.0.0")
    instance = make.instance(quarantined_release_ids=("rel-elsewhere",))
    assert newest_matching(instance, [r1, r2]) is r2


def test_quarantine_is_by_release_id_not_version() -> None:
    # Same version string on another channel: a different release, not quarantined by this id.
    stable = make.release("2.0.0", id="rel-stable-2")
    beta = make.release("2.0.0", id="rel-beta-2", release_channel="beta")
    instance = make.instance(release_channel="beta", quarantined_release_ids=("rel-stable-2",))
    assert newest_matching(instance, [stable, beta]) is beta


def test_quarantined_skipped_within_the_constraint() -> None:
    r1, r2, r3 = make.release("1.4.0"), make.release("1.5.0"), make.release("2.0.0")
    instance = make.instance(version_constraint="^1", quarantined_release_ids=("rel-1.5.0",))
    assert newest_matching(instance, [r1, r2, r3]) is r1


def test_everything_matching_quarantined_is_no_matching_release() -> None:
    r1, r2 = make.release("1.0.0"), make.release("2.0.0")
    instance = make.instance(quarantined_release_ids=("rel-1.0.0", "rel-2.0.0"))
    error = _no_match(instance, [r1, r2])
    assert error.message == (
        "no READY release of bundle 'webapp' on channel 'stable' satisfies '*' (quarantined releases are skipped)"
    )


def test_only_match_quarantined_message_mentions_quarantine() -> None:
    instance = make.instance(version_constraint="^2", quarantined_release_ids=("rel-2.0.0",))
    error = _no_match(instance, [make.release("1.0.0"), make.release("2.0.0")])
    assert error.message == (
        "no READY release of bundle 'webapp' on channel 'stable' satisfies '^2' (quarantined releases are skipped)"
    )
    assert "quarantine" in error.message


def test_no_quarantine_message_does_not_mention_it() -> None:
    error = _no_match(make.instance(version_constraint="^2"), [make.release("1.0.0")])
    assert error.message == "no READY release of bundle 'webapp' on channel 'stable' satisfies '^2'"
    assert "quarantine" not in error.message


def test_quarantined_release_is_skipped_even_if_pinned_pointer_names_it() -> None:
    # Pinning is resolved by the caller; newest_matching only resolves the constraint.
    r1, r2 = make.release("1.0.0"), make.release("2.0.0")
    instance = make.instance(
        pinned=True, bundle_release_id="rel-2.0.0", version="2.0.0", quarantined_release_ids=("rel-2.0.0",)
    )
    assert newest_matching(instance, [r1, r2]) is r1


# --- quarantines_lifted_by ----------------------------------------------------------------


def test_only_strictly_older_versions_are_lifted() -> None:
    quarantined = [
        ("i-1", "r-1", "1.0.0"),
        ("i-2", "r-2", "2.0.0"),
        ("i-3", "r-3", "3.0.0"),
        ("i-4", "r-4", "1.9.9"),
    ]
    assert quarantines_lifted_by("2.0.0", quarantined) == [("i-1", "r-1"), ("i-4", "r-4")]


def test_equal_version_is_not_lifted() -> None:
    assert quarantines_lifted_by("2.0.0", [("i-1", "r-1", "2.0.0")]) == []


def test_equal_precedence_with_other_build_metadata_is_not_lifted() -> None:
    assert quarantines_lifted_by("2.0.0+build.2", [("i-1", "r-1", "2.0.0+build.1")]) == []


def test_newer_quarantined_version_is_not_lifted() -> None:
    assert quarantines_lifted_by("1.0.0", [("i-1", "r-1", "1.0.1")]) == []


def test_semver_order_not_string_order() -> None:
    assert quarantines_lifted_by("1.10.0", [("i-1", "r-1", "1.9.0")]) == [("i-1", "r-1")]
    assert quarantines_lifted_by("1.9.0", [("i-1", "r-1", "1.10.0")]) == []


def test_prerelease_is_older_than_its_release() -> None:
    assert quarantines_lifted_by("2.0.0", [("i-1", "r-1", "2.0.0-rc.1")]) == [("i-1", "r-1")]
    assert quarantines_lifted_by("2.0.0-rc.1", [("i-1", "r-1", "2.0.0")]) == []
    assert quarantines_lifted_by("2.0.0-rc.2", [("i-1", "r-1", "2.0.0-rc.1")]) == [("i-1", "r-1")]


def test_several_instances_on_one_release() -> None:
    quarantined = [("i-1", "r-1", "1.0.0"), ("i-2", "r-1", "1.0.0")]
    assert quarantines_lifted_by("1.0.1", quarantined) == [("i-1", "r-1"), ("i-2", "r-1")]


def test_order_of_the_input_is_kept() -> None:
    quarantined = [("i-3", "r-3", "1.2.0"), ("i-1", "r-1", "1.0.0"), ("i-2", "r-2", "1.1.0")]
    assert quarantines_lifted_by("2.0.0", quarantined) == [("i-3", "r-3"), ("i-1", "r-1"), ("i-2", "r-2")]


def test_nothing_quarantined() -> None:
    assert quarantines_lifted_by("2.0.0", []) == []


@pytest.mark.parametrize("published", ["", "2", "v2.0.0", "02.0.0", "latest", "2.0"])
def test_invalid_published_version_lifts_nothing(published: str) -> None:
    assert quarantines_lifted_by(published, [("i-1", "r-1", "1.0.0")]) == []


@pytest.mark.parametrize("bad", ["", "1", "v1.0.0", "01.0.0", "garbage", "1.0"])
def test_invalid_quarantined_version_is_ignored(bad: str) -> None:
    quarantined = [("i-1", "r-1", bad), ("i-2", "r-2", "1.0.0")]
    assert quarantines_lifted_by("2.0.0", quarantined) == [("i-2", "r-2")]
