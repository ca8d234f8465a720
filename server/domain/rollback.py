"""What makes a rollback valid, and what it captures (docs/product.md §3, seed 000).

A rollback reproduces a past COMPLETED PROVISION exactly: params verbatim
except `md_metadata`, which is regenerated from the instance's current
identity; connections, release, version and channel verbatim. Secrets are not
part of a deployment and are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable

from server.domain.errors import FailedPrecondition
from server.domain.models import Action, Deployment, Instance, Release, Status
from server.domain.releases import check_deployable, check_servable
from server.domain.snapshot import Snapshot, md_metadata, user_params

SOURCE_NOT_COMPLETED = "SOURCE_NOT_COMPLETED"
SOURCE_NOT_PROVISION = "SOURCE_NOT_PROVISION"
SOURCE_IS_ACTIVE = "SOURCE_IS_ACTIVE"
NO_ROLLBACK_TARGET = "NO_ROLLBACK_TARGET"


def check_source(source: Deployment, release: Release | None, instance: Instance) -> Release:
    """The source's release, if the source can be rolled back to; FailedPrecondition otherwise."""
    if source.id == instance.active_deployment_id:
        raise FailedPrecondition(
            f"deployment {source.id} is the instance's active deployment; rolling back to it would change nothing",
            SOURCE_IS_ACTIVE,
            deployment_id=source.id,
        )
    if source.action is not Action.PROVISION:
        raise FailedPrecondition(
            f"deployment {source.id} is a {source.action.value}; only a PROVISION can be rolled back to",
            SOURCE_NOT_PROVISION,
        )
    if source.status is not Status.COMPLETED:
        raise FailedPrecondition(
            f"deployment {source.id} is {source.status.value}; only a COMPLETED deployment can be rolled back to",
            SOURCE_NOT_COMPLETED,
        )
    if release is None:
        # Releases are never deleted, so a completed PROVISION always has one.
        raise FailedPrecondition(f"deployment {source.id} has no release to return to", SOURCE_NOT_PROVISION)
    check_deployable(release, instance.bundle)
    check_servable(release, instance)
    return release


def snapshot(source: Deployment, instance: Instance) -> Snapshot:
    assert source.bundle_release_id and source.version is not None and source.release_channel is not None
    return Snapshot(
        params=user_params(source.params),
        md_metadata=md_metadata(instance),
        connection_params=dict(source.connection_params),
        bundle_release_id=source.bundle_release_id,
        version=source.version,
        release_channel=source.release_channel,
    )


def previous_good(candidates: Iterable[tuple[Deployment, Release | None]], instance: Instance) -> Deployment:
    """Seed 000's "last known-good run", chosen for the caller: the first of `candidates` (the
    instance's COMPLETED PROVISION deployments, newest first) that is not the active deployment,
    whose release is usable (not FAILED, artifact present, servable for a DYNAMIC instance) and not
    quarantined for the instance. A run that would reproduce what is active (same release, params
    and connections: the run an earlier rollback already returned to) is skipped too, since going
    back to it changes nothing."""
    runs = list(candidates)
    quarantined = set(instance.quarantined_release_ids)
    active = next((source for source, _ in runs if source.id == instance.active_deployment_id), None)
    for source, release in runs:
        if source.id == instance.active_deployment_id or release is None or release.id in quarantined:
            continue
        if active is not None and _same_snapshot(source, active):
            continue
        try:
            check_source(source, release, instance)
        except FailedPrecondition:
            continue
        return source
    raise FailedPrecondition(
        f"instance {instance.id} has no earlier COMPLETED deployment to roll back to (the active one, runs "
        "identical to it, FAILED, quarantined or unservable releases and releases whose artifact is gone "
        "are skipped)",
        NO_ROLLBACK_TARGET,
        instance_id=instance.id,
    )


def _same_snapshot(a: Deployment, b: Deployment) -> bool:
    """What a rollback reproduces is equal (md_metadata is regenerated, so it does not count)."""
    return (a.bundle_release_id, user_params(a.params), dict(a.connection_params)) == (
        b.bundle_release_id,
        user_params(b.params),
        dict(b.connection_params),
    )


def message(source: Deployment, reason: str = "") -> str:
    text = f"Rollback to deployment {source.id} (v{source.version})"
    return f"{text}: {reason}" if reason else text
