"""Which release a proposal deploys (docs/product.md §2 ProposeDeployment, §3 pinning)."""

from __future__ import annotations

from server.domain.errors import FailedPrecondition
from server.domain.models import Instance, Kind, Release, ReleaseState
from server.domain.semver import Constraint, InvalidVersion, Version

NO_MATCHING_RELEASE = "NO_MATCHING_RELEASE"
RELEASE_NOT_READY = "RELEASE_NOT_READY"
ARTIFACT_GONE = "ARTIFACT_GONE"
RELEASE_BUNDLE_MISMATCH = "RELEASE_BUNDLE_MISMATCH"
RELEASE_NOT_SERVABLE = "RELEASE_NOT_SERVABLE"


def newest_matching(instance: Instance, candidates: list[Release]) -> Release:
    """The newest READY release of the instance's bundle and channel within its constraint.

    Releases quarantined for the instance (a deployment of them was rolled back) are skipped.
    """
    constraint = Constraint.parse(instance.version_constraint)
    quarantined = set(instance.quarantined_release_ids)
    best: tuple[Version, Release] | None = None
    for release in candidates:
        if release.bundle != instance.bundle or release.release_channel != instance.release_channel:
            continue
        if release.id in quarantined:
            continue
        if release.state is not ReleaseState.READY or not release.artifact_present:
            continue
        try:
            version = Version.parse(release.version)
        except InvalidVersion:
            continue
        if constraint.allows(version) and (best is None or version > best[0]):
            best = (version, release)
    if best is None:
        raise FailedPrecondition(
            f"no READY release of bundle {instance.bundle!r} on channel {instance.release_channel!r} "
            f"satisfies {instance.version_constraint or '*'!r}"
            + (" (quarantined releases are skipped)" if quarantined else ""),
            NO_MATCHING_RELEASE,
        )
    return best[1]


def check_deployable(release: Release, bundle: str) -> None:
    """A release named explicitly (one-shot, pinned, or a rollback source) must still be usable."""
    if release.bundle != bundle:
        raise FailedPrecondition(
            f"release {release.id} belongs to bundle {release.bundle!r}, the instance runs {bundle!r}",
            RELEASE_BUNDLE_MISMATCH,
        )
    if release.state is ReleaseState.FAILED:
        raise FailedPrecondition(f"release {release.id} (v{release.version}) is FAILED", RELEASE_NOT_READY)
    if not release.artifact_present:
        raise FailedPrecondition(
            f"the artifact of release {release.id} (v{release.version}) is gone from storage", ARTIFACT_GONE
        )


def check_servable(release: Release, instance: Instance) -> None:
    """A DYNAMIC instance runs its release's `[serve]` step (docs/bundles.md): a release without one is
    refused before anything runs, whether proposed, pinned or rolled back to."""
    if instance.kind is Kind.DYNAMIC and not release.servable:
        raise FailedPrecondition(
            f"release {release.id} (v{release.version}) has no [serve] step, and instance {instance.id} is DYNAMIC: "
            "publish a bundle whose rollout.toml declares [serve]",
            RELEASE_NOT_SERVABLE,
            release_id=release.id,
        )


def quarantines_lifted_by(published: str, quarantined: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(instance id, release id) of quarantines that a newly published version ends: those on older versions."""
    try:
        new = Version.parse(published)
    except InvalidVersion:
        return []
    lifted = []
    for instance_id, release_id, version in quarantined:
        try:
            if Version.parse(version) < new:
                lifted.append((instance_id, release_id))
        except InvalidVersion:
            continue
    return lifted
