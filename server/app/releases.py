"""Release use cases: publish, read, list, archive, delete the artifact."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from server.app.context import Caller, Services
from server.app.mutation import Change
from server.artifacts import ArtifactStore
from server.domain import listing
from server.domain.errors import AlreadyExists, FailedPrecondition, NotFound
from server.domain.models import Release, ReleaseState
from server.domain.releases import RELEASE_NOT_READY, quarantines_lifted_by
from server.store import locking
from server.store import releases as store
from server.store import runtime as runtime_store
from server.store.db import Taken

RELEASE_EXISTS = "RELEASE_EXISTS"
ARTIFACT_EXTERNAL = "ARTIFACT_EXTERNAL"

FILTER_RULES = {
    "bundle": listing.FieldRule(frozenset({"="}), listing.plain),
    "release_channel": listing.FieldRule(frozenset({"="}), listing.plain),
    "version": listing.FieldRule(frozenset({"="}), listing.plain),
    "state": listing.FieldRule(frozenset({"="}), listing.enum_value("STATE", frozenset(s.value for s in ReleaseState))),
}


@dataclass(frozen=True)
class ReleaseFields:
    bundle: str
    version: str
    release_channel: str
    artifact_uri: str
    state: ReleaseState
    schema_version: int


def checked(artifacts: ArtifactStore, release: Release) -> Release:
    """The release with `artifact_present` as the artifact store says now (it may have been deleted
    there, or an external artifact may have gone): the one check, made wherever it matters."""
    if not release.artifact_present or artifacts.exists(release.artifact_uri):
        return release
    return replace(release, artifact_present=False)


async def find(svc: Services, conn: AsyncConnection, organization_id: str, release_id: str) -> Release:
    """The release, its artifact checked; NotFound if there is none."""
    found = await store.get(conn, organization_id, release_id)
    if found is None:
        raise NotFound(f"release {release_id} not found")
    return checked(svc.artifacts, found)


async def publish(
    conn: AsyncConnection, svc: Services, caller: Caller, fields: ReleaseFields, content: bytes | None
) -> Change[Release]:
    release_id = str(uuid.uuid4())
    uri = fields.artifact_uri
    if content is not None:
        # Written before the row so a committed release always has its artifact. If the
        # transaction does not commit, the file is an unreferenced orphan named by a fresh uuid.
        uri = svc.artifacts.put(caller.organization_id, release_id, content)
    try:
        release = await store.insert(
            conn,
            {
                "id": release_id,
                "organization_id": caller.organization_id,
                "bundle": fields.bundle,
                "version": fields.version,
                "release_channel": fields.release_channel,
                "artifact_uri": uri,
                "state": fields.state.value,
                "schema_version": fields.schema_version,
            },
        )
    except Taken:
        if content is not None:
            svc.artifacts.delete(uri)
        raise AlreadyExists(f"bundle {fields.bundle!r} already has a release {fields.version}", RELEASE_EXISTS) from None
    if fields.state is ReleaseState.READY:
        await _lift_quarantines(conn, caller.organization_id, fields)
    return Change(checked(svc.artifacts, release))


async def _lift_quarantines(conn: AsyncConnection, organization_id: str, fields: ReleaseFields) -> None:
    """A newer release of the bundle ends the quarantine of older ones (docs/product.md §3)."""
    quarantined = await runtime_store.quarantined_in_bundle(conn, organization_id, fields.bundle, fields.release_channel)
    lifted = quarantines_lifted_by(fields.version, quarantined)
    await locking.instances_in_order(conn, [instance_id for instance_id, _ in lifted])
    for instance_id, release_id in lifted:
        await runtime_store.lift_quarantine(conn, instance_id, release_id)


async def get(svc: Services, caller: Caller, release_id: str) -> Release:
    async with svc.reader.connect() as conn:
        return await find(svc, conn, caller.organization_id, release_id)


async def list_page(
    svc: Services, caller: Caller, filter_text: str, order_by: str, page_size: int, page_token: str
) -> tuple[list[Release], str]:
    q = listing.query(
        ("releases", caller.organization_id), FILTER_RULES, filter_text, order_by, page_size, page_token, default_desc=True
    )
    async with svc.reader.connect() as conn:
        rows = await store.list_page(conn, caller.organization_id, q.terms, q.desc, q.cursor, q.limit + 1)
    return q.page([checked(svc.artifacts, r) for r in rows])


async def _locked(conn: AsyncConnection, caller: Caller, release_id: str) -> Release:
    found = await store.get(conn, caller.organization_id, release_id, lock=True)
    if found is None:
        raise NotFound(f"release {release_id} not found")
    return found


async def archive(conn: AsyncConnection, svc: Services, caller: Caller, release_id: str) -> Change[Release]:
    release = await _locked(conn, caller, release_id)
    if release.state is ReleaseState.FAILED:
        raise FailedPrecondition(
            f"release {release_id} is FAILED and cannot be archived", RELEASE_NOT_READY, release_id=release_id
        )
    if release.state is not ReleaseState.ARCHIVED:
        release = await store.update(conn, release_id, {"state": ReleaseState.ARCHIVED.value})
    return Change(checked(svc.artifacts, release))


async def delete_artifact(conn: AsyncConnection, svc: Services, caller: Caller, release_id: str) -> Change[Release]:
    release = await _locked(conn, caller, release_id)
    if not svc.artifacts.manages(release.artifact_uri):
        raise FailedPrecondition(
            f"the artifact {release.artifact_uri} is external; the store does not delete it",
            ARTIFACT_EXTERNAL,
            release_id=release_id,
        )
    if release.artifact_present:
        release = await store.update(conn, release_id, {"artifact_deleted": True})
    uri = release.artifact_uri

    async def remove_file() -> None:
        # After the commit: a failed commit must not lose the artifact of a live release.
        svc.artifacts.delete(uri)

    return Change(release, after_commit=[remove_file])
