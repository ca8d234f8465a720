"""Which release a proposal deploys: server/domain/releases.py."""

from __future__ import annotations

import pytest

from server.domain.errors import FailedPrecondition
from server.domain.models import Kind, Release, ReleaseState
from server.domain.releases import (
    ARTIFACT_GONE,
    NO_MATCHING_RELEASE,
    RELEASE_BUNDLE_MISMATCH,
    RELEASE_NOT_READY,
    RELEASE_NOT_SERVABLE,
    check_deployable,
    check_servable,
    newest_matching,
)
from server.domain.semver import InvalidVersion
from tests.unit import factories as make

# --- newest_matching ---------------------------------------------------------------


def test_newest_wins_regardless_of_list_order() -> None:
    releases = [make.release("1.2.0"), make.release("1.10.0"), make.release("1.9.3"), make.release("0.9.0")]
    for order in (releases, releases[::-1]):
        assert newest_matching(make.instance(), order) is releases[1]


def test_newest_by_semver_not_by_string() -> None:
    a, b = make.release("1.10.0"), make.release("1.9.0")
    assert newest_matching(make.instance(), [b, a]) is a


def test_constraint_limits_the_choice() -> None:
    r1, r2, r3 = make.release("1.4.0"), make.release("1.5.2"), make.release("2.0.0")
    assert newest_matching(make.instance(version_constraint="^1.2"), [r1, r2, r3]) is r2
    assert newest_matching(make.instance(version_constraint="~1.4"), [r1, r2, r3]) is r1
    assert newest_matching(make.instance(version_constraint="*"), [r1, r2, r3]) is r3


def test_release_newer_than_the_constraint_is_skipped_for_an_older_match() -> None:
    old, new = make.release("1.0.0"), make.release("3.0.0")
    assert newest_matching(make.instance(version_constraint="<2"), [new, old]) is old


def test_prerelease_skipped_unless_named() -> None:
    stable, rc = make.release("1.2.2"), make.release("1.2.3-rc.1")
    assert newest_matching(make.instance(), [stable, rc]) is stable
    assert newest_matching(make.instance(version_constraint=">=1.2.3-rc.1"), [stable, rc]) is rc


def test_other_bundle_skipped() -> None:
    mine, other = make.release("1.0.0"), make.release("9.0.0", bundle="api")
    assert newest_matching(make.instance(), [other, mine]) is mine


def test_other_channel_skipped() -> None:
    mine, beta = make.release("1.0.0"), make.release("9.0.0", release_channel="beta")
    assert newest_matching(make.instance(), [beta, mine]) is mine
    assert newest_matching(make.instance(release_channel="beta"), [beta, mine]) is beta


def test_empty_channel_matches_only_empty_channel() -> None:
    none, stable = make.release("1.0.0", release_channel=""), make.release("2.0.0")
    assert newest_matching(make.instance(release_channel=""), [stable, none]) is none


@pytest.mark.parametrize("state", [ReleaseState.FAILED, ReleaseState.ARCHIVED])
def test_not_ready_skipped(state: ReleaseState) -> None:
    ready, other = make.release("1.0.0"), make.release("2.0.0", state=state)
    assert newest_matching(make.instance(), [other, ready]) is ready


def test_artifact_gone_skipped() -> None:
    ready, gone = make.release("1.0.0"), make.release("2.0.0", artifact_present=False)
    assert newest_matching(make.instance(), [gone, ready]) is ready


@pytest.mark.parametrize("bad", ["not-a-version", "2", "v3.0.0", "03.0.0", ""])
def test_invalid_version_strings_skipped(bad: str) -> None:
    good = make.release("1.0.0")
    assert newest_matching(make.instance(), [make.release(bad), good]) is good


def test_equal_versions_first_candidate_wins() -> None:
    a, b = make.release("1.0.0+build.1"), make.release("1.0.0+build.2")
    assert newest_matching(make.instance(), [a, b]) is a
    assert newest_matching(make.instance(), [b, a]) is b


def test_pinned_pointer_is_not_consulted() -> None:
    # Pinning is decided by the caller; newest_matching only resolves the constraint.
    r1, r2 = make.release("1.0.0"), make.release("2.0.0")
    pinned = make.instance(pinned=True, bundle_release_id=r1.id, version="1.0.0")
    assert newest_matching(pinned, [r1, r2]) is r2


@pytest.mark.parametrize(
    ("instance_kwargs", "candidates"),
    [
        ({}, []),
        ({"version_constraint": "^2"}, [make.release("1.0.0"), make.release("3.0.0")]),
        ({}, [make.release("1.0.0", bundle="api")]),
        ({}, [make.release("1.0.0", release_channel="beta")]),
        ({}, [make.release("1.0.0", state=ReleaseState.FAILED)]),
        ({}, [make.release("1.0.0", state=ReleaseState.ARCHIVED)]),
        ({}, [make.release("1.0.0", artifact_present=False)]),
        ({}, [make.release("garbage")]),
        ({}, [make.release("1.0.0-rc.1")]),
    ],
)
def test_no_match_is_failed_precondition(instance_kwargs: dict[str, object], candidates: list[Release]) -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(make.instance(**instance_kwargs), candidates)
    assert exc_info.value.reason == NO_MATCHING_RELEASE == "NO_MATCHING_RELEASE"


def test_no_match_message_names_bundle_channel_and_constraint() -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(make.instance(version_constraint="^2"), [])
    assert exc_info.value.message == "no READY release of bundle 'webapp' on channel 'stable' satisfies '^2'"


def test_no_match_message_shows_star_for_empty_constraint() -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(make.instance(version_constraint=""), [])
    assert exc_info.value.message.endswith("satisfies '*'")


def test_invalid_instance_constraint_raises_invalid_version() -> None:
    with pytest.raises(InvalidVersion):
        newest_matching(make.instance(version_constraint="latest"), [make.release("1.0.0")])


# --- check_deployable --------------------------------------------------------------


@pytest.mark.parametrize("state", [ReleaseState.READY, ReleaseState.ARCHIVED])
def test_deployable_with_artifact(state: ReleaseState) -> None:
    check_deployable(make.release("1.0.0", state=state), "webapp")  # does not raise


def test_bundle_mismatch() -> None:
    release = make.release("1.0.0", id="r-1", bundle="api")
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == RELEASE_BUNDLE_MISMATCH == "RELEASE_BUNDLE_MISMATCH"
    assert exc_info.value.message == "release r-1 belongs to bundle 'api', the instance runs 'webapp'"


def test_bundle_mismatch_is_checked_first() -> None:
    release = make.release("1.0.0", bundle="api", state=ReleaseState.FAILED, artifact_present=False)
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == "RELEASE_BUNDLE_MISMATCH"


@pytest.mark.parametrize("artifact_present", [True, False])
def test_failed_release_not_ready(artifact_present: bool) -> None:
    release = make.release("1.2.3", id="r-2", state=ReleaseState.FAILED, artifact_present=artifact_present)
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == RELEASE_NOT_READY == "RELEASE_NOT_READY"
    assert exc_info.value.message == "release r-2 (v1.2.3) is FAILED"


@pytest.mark.parametrize("state", [ReleaseState.READY, ReleaseState.ARCHIVED])
def test_artifact_gone(state: ReleaseState) -> None:
    release = make.release("1.2.3", id="r-3", state=state, artifact_present=False)
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == ARTIFACT_GONE == "ARTIFACT_GONE"
    assert exc_info.value.message == "the artifact of release r-3 (v1.2.3) is gone from storage"


# --- check_servable ---------------------------------------------------------------

SERVABLE = {"serve": {"command": ["./serve"], "timeout_seconds": 60.0}}


def test_a_dynamic_instance_needs_a_release_with_a_serve_step() -> None:
    dynamic = make.instance(kind=Kind.DYNAMIC, replicas=2)
    check_servable(make.release(manifest=SERVABLE), dynamic)
    for unservable in (make.release(manifest=None), make.release(manifest={"provision": {"command": ["x"]}})):
        with pytest.raises(FailedPrecondition) as refused:
            check_servable(unservable, dynamic)
        assert refused.value.reason == RELEASE_NOT_SERVABLE
        assert refused.value.metadata == {"release_id": unservable.id}


def test_a_static_instance_takes_any_release() -> None:
    check_servable(make.release(manifest=None), make.instance())
    check_servable(make.release(manifest=SERVABLE), make.instance())
