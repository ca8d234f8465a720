"""Which release a proposal deploys: server/domain/releases.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from server.domain.errors import FailedPrecondition
from server.domain.models import Instance, Kind, Release, ReleaseState
from server.domain.releases import (
    ARTIFACT_GONE,
    NO_MATCHING_RELEASE,
    RELEASE_BUNDLE_MISMATCH,
    RELEASE_NOT_READY,
    check_deployable,
    newest_matching,
)
from server.domain.semver import InvalidVersion

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make_instance(**overrides: object) -> Instance:
    base = Instance(
        id="0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10",
        organization_id="acme",
        name="web",
        project="shop",
        environment="prod",
        bundle="webapp",
        kind=Kind.STATIC,
        replicas=0,
        labels={},
        params={},
        connections={},
        version_constraint="",
        release_channel="stable",
        bundle_release_id=None,
        version=None,
        pinned=False,
        active_deployment_id=None,
        route_generation=0,
        secret_names=(),
        create_time=T0,
        update_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


_ids = iter(range(1, 10_000))


def make_release(version: str, **overrides: object) -> Release:
    base = Release(
        id=f"rel-{next(_ids)}-{version}",
        organization_id="acme",
        bundle="webapp",
        version=version,
        release_channel="stable",
        artifact_uri=f"file:///artifacts/webapp-{version}.tar.gz",
        state=ReleaseState.READY,
        artifact_present=True,
        schema_version=1,
        create_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


# --- newest_matching ---------------------------------------------------------------


def test_newest_wins_regardless_of_list_order() -> None:
    releases = [make_release("1.2.0"), make_release("1.10.0"), make_release("1.9.3"), make_release("0.9.0")]
    for order in (releases, releases[::-1]):
        assert newest_matching(make_instance(), order) is releases[1]


def test_newest_by_semver_not_by_string() -> None:
    a, b = make_release("1.10.0"), make_release("1.9.0")
    assert newest_matching(make_instance(), [b, a]) is a


def test_constraint_limits_the_choice() -> None:
    r1, r2, r3 = make_release("1.4.0"), make_release("1.5.2"), make_release("2.0.0")
    assert newest_matching(make_instance(version_constraint="^1.2"), [r1, r2, r3]) is r2
    assert newest_matching(make_instance(version_constraint="~1.4"), [r1, r2, r3]) is r1
    assert newest_matching(make_instance(version_constraint="*"), [r1, r2, r3]) is r3


def test_release_newer_than_the_constraint_is_skipped_for_an_older_match() -> None:
    old, new = make_release("1.0.0"), make_release("3.0.0")
    assert newest_matching(make_instance(version_constraint="<2"), [new, old]) is old


def test_prerelease_skipped_unless_named() -> None:
    stable, rc = make_release("1.2.2"), make_release("1.2.3-rc.1")
    assert newest_matching(make_instance(), [stable, rc]) is stable
    assert newest_matching(make_instance(version_constraint=">=1.2.3-rc.1"), [stable, rc]) is rc


def test_other_bundle_skipped() -> None:
    mine, other = make_release("1.0.0"), make_release("9.0.0", bundle="api")
    assert newest_matching(make_instance(), [other, mine]) is mine


def test_other_channel_skipped() -> None:
    mine, beta = make_release("1.0.0"), make_release("9.0.0", release_channel="beta")
    assert newest_matching(make_instance(), [beta, mine]) is mine
    assert newest_matching(make_instance(release_channel="beta"), [beta, mine]) is beta


def test_empty_channel_matches_only_empty_channel() -> None:
    none, stable = make_release("1.0.0", release_channel=""), make_release("2.0.0")
    assert newest_matching(make_instance(release_channel=""), [stable, none]) is none


@pytest.mark.parametrize("state", [ReleaseState.FAILED, ReleaseState.ARCHIVED])
def test_not_ready_skipped(state: ReleaseState) -> None:
    ready, other = make_release("1.0.0"), make_release("2.0.0", state=state)
    assert newest_matching(make_instance(), [other, ready]) is ready


def test_artifact_gone_skipped() -> None:
    ready, gone = make_release("1.0.0"), make_release("2.0.0", artifact_present=False)
    assert newest_matching(make_instance(), [gone, ready]) is ready


@pytest.mark.parametrize("bad", ["not-a-version", "2", "v3.0.0", "03.0.0", ""])
def test_invalid_version_strings_skipped(bad: str) -> None:
    good = make_release("1.0.0")
    assert newest_matching(make_instance(), [make_release(bad), good]) is good


def test_equal_versions_first_candidate_wins() -> None:
    a, b = make_release("1.0.0+build.1"), make_release("1.0.0+build.2")
    assert newest_matching(make_instance(), [a, b]) is a
    assert newest_matching(make_instance(), [b, a]) is b


def test_pinned_pointer_is_not_consulted() -> None:
    # Pinning is decided by the caller; newest_matching only resolves the constraint.
    r1, r2 = make_release("1.0.0"), make_release("2.0.0")
    pinned = make_instance(pinned=True, bundle_release_id=r1.id, version="1.0.0")
    assert newest_matching(pinned, [r1, r2]) is r2


@pytest.mark.parametrize(
    ("instance_kwargs", "candidates"),
    [
        ({}, []),
        ({"version_constraint": "^2"}, [make_release("1.0.0"), make_release("3.0.0")]),
        ({}, [make_release("1.0.0", bundle="api")]),
        ({}, [make_release("1.0.0", release_channel="beta")]),
        ({}, [make_release("1.0.0", state=ReleaseState.FAILED)]),
        ({}, [make_release("1.0.0", state=ReleaseState.ARCHIVED)]),
        ({}, [make_release("1.0.0", artifact_present=False)]),
        ({}, [make_release("garbage")]),
        ({}, [make_release("1.0.0-rc.1")]),
    ],
)
def test_no_match_is_failed_precondition(instance_kwargs: dict[str, object], candidates: list[Release]) -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(make_instance(**instance_kwargs), candidates)
    assert exc_info.value.reason == NO_MATCHING_RELEASE == "NO_MATCHING_RELEASE"


def test_no_match_message_names_bundle_channel_and_constraint() -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(make_instance(version_constraint="^2"), [])
    assert exc_info.value.message == "no READY release of bundle 'webapp' on channel 'stable' satisfies '^2'"


def test_no_match_message_shows_star_for_empty_constraint() -> None:
    with pytest.raises(FailedPrecondition) as exc_info:
        newest_matching(make_instance(version_constraint=""), [])
    assert exc_info.value.message.endswith("satisfies '*'")


def test_invalid_instance_constraint_raises_invalid_version() -> None:
    with pytest.raises(InvalidVersion):
        newest_matching(make_instance(version_constraint="latest"), [make_release("1.0.0")])


# --- check_deployable --------------------------------------------------------------


@pytest.mark.parametrize("state", [ReleaseState.READY, ReleaseState.ARCHIVED])
def test_deployable_with_artifact(state: ReleaseState) -> None:
    check_deployable(make_release("1.0.0", state=state), "webapp")  # does not raise


def test_bundle_mismatch() -> None:
    release = make_release("1.0.0", id="r-1", bundle="api")
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == RELEASE_BUNDLE_MISMATCH == "RELEASE_BUNDLE_MISMATCH"
    assert exc_info.value.message == "release r-1 belongs to bundle 'api', the instance runs 'webapp'"


def test_bundle_mismatch_is_checked_first() -> None:
    release = make_release("1.0.0", bundle="api", state=ReleaseState.FAILED, artifact_present=False)
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == "RELEASE_BUNDLE_MISMATCH"


@pytest.mark.parametrize("artifact_present", [True, False])
def test_failed_release_not_ready(artifact_present: bool) -> None:
    release = make_release("1.2.3", id="r-2", state=ReleaseState.FAILED, artifact_present=artifact_present)
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == RELEASE_NOT_READY == "RELEASE_NOT_READY"
    assert exc_info.value.message == "release r-2 (v1.2.3) is FAILED"


@pytest.mark.parametrize("state", [ReleaseState.READY, ReleaseState.ARCHIVED])
def test_artifact_gone(state: ReleaseState) -> None:
    release = make_release("1.2.3", id="r-3", state=state, artifact_present=False)
    with pytest.raises(FailedPrecondition) as exc_info:
        check_deployable(release, "webapp")
    assert exc_info.value.reason == ARTIFACT_GONE == "ARTIFACT_GONE"
    assert exc_info.value.message == "the artifact of release r-3 (v1.2.3) is gone from storage"
