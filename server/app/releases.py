"""Release use cases: publish, read, list, archive, delete the artifact."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.app import bundles
from server.app.context import Caller, Services
from server.app.mutation import Change
from server.artifacts import ArtifactStore
from server.domain import listing, validation
from server.domain.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable, invalid
from server.domain.models import JSON, Release, ReleaseState
from server.domain.releases import ARTIFACT_GONE, RELEASE_NOT_READY, quarantines_lifted_by
from server.store import locking
from server.store import releases as store
from server.store import runtime as runtime_store
from server.store.db import Taken

RELEASE_EXISTS = "RELEASE_EXISTS"
ARTIFACT_EXTERNAL = "ARTIFACT_EXTERNAL"
CHECKS_AT_ONCE = 16

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


async def checked(artifacts: ArtifactStore, release: Release) -> Release:
    """The release with `artifact_present` as the artifact store says now (it may have been deleted
    there, or an external artifact may have gone): the one check, made wherever it matters."""
    if not release.artifact_present or await artifacts.exists(release.artifact_uri):
        return release
    return replace(release, artifact_present=False)


async def _all_checked(artifacts: ArtifactStore, rows: list[Release]) -> list[Release]:
    """`checked` for a page of releases, some at a time: on S3 a page costs a few round trips' time, not one each."""
    limit = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def one(release: Release) -> Release:
        async with limit:
            return await checked(artifacts, release)

    return list(await asyncio.gather(*(one(r) for r in rows)))


async def find(svc: Services, conn: AsyncConnection, organization_id: str, release_id: str) -> Release:
    """The release, its artifact checked; NotFound if there is none."""
    found = await store.get(conn, organization_id, release_id)
    if found is None:
        raise NotFound(f"release {release_id} not found")
    return await checked(svc.artifacts, found)


@dataclass(frozen=True)
class Received:
    """An artifact the store now holds for a release about to be recorded."""

    fields: ReleaseFields
    release_id: str
    uri: str
    sha256: str
    size: int
    # A bundle's checked manifest (docs/bundles.md); None for a plain artifact.
    manifest: JSON | None


async def _one(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def _receive(
    svc: Services, caller: Caller, fields: ReleaseFields, chunks: AsyncIterator[bytes], declared: str | None = None
) -> Received:
    """Stream `chunks` into the artifact store under a new release id (bounded memory), checking their
    size, their sha256 against `declared`, and a bundle's manifest; nothing is kept if a check fails."""
    release_id = str(uuid.uuid4())
    digest = hashlib.sha256()
    size = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in chunks:
            size += len(chunk)
            if size > validation.MAX_UPLOAD_BYTES:
                raise invalid("content", f"the artifact must be at most {validation.MAX_UPLOAD_BYTES} bytes")
            digest.update(chunk)
            yield chunk

    uri = await svc.artifacts.put(caller.organization_id, release_id, counted())
    try:
        if declared is not None and digest.hexdigest() != declared:
            raise invalid("sha256", f"the content's sha256 is {digest.hexdigest()}, not the declared one")
        manifest = await bundles.inspect(svc.artifacts, uri)
    except BaseException:
        await svc.artifacts.delete(uri)
        raise
    return Received(fields, release_id, uri, digest.hexdigest(), size, manifest)


async def _record(conn: AsyncConnection, svc: Services, caller: Caller, received: Received) -> Change[Release]:
    fields = received.fields
    release = await store.insert(
        conn,
        {
            "id": received.release_id,
            "organization_id": caller.organization_id,
            "bundle": fields.bundle,
            "version": fields.version,
            "release_channel": fields.release_channel,
            "artifact_uri": received.uri,
            "state": fields.state.value,
            "schema_version": fields.schema_version,
            "sha256": received.sha256,
            "size_bytes": received.size,
            "manifest": received.manifest,
        },
    )
    if fields.state is ReleaseState.READY:
        await _lift_quarantines(conn, caller.organization_id, fields)
    return Change(await checked(svc.artifacts, release))


def _exists(fields: ReleaseFields) -> AlreadyExists:
    return AlreadyExists(f"bundle {fields.bundle!r} already has a release {fields.version}", RELEASE_EXISTS)


# PublishRelease's input once prepared: an artifact named by reference, found and read; or inline content.
Publication = Received | tuple[ReleaseFields, bytes]


async def prepare_publish(svc: Services, caller: Caller, parsed: tuple[ReleaseFields, bytes | None]) -> Publication:
    """Before PublishRelease's transaction: an artifact named by reference is found and read (streamed: it may
    be large), so no transaction waits on the store."""
    fields, content = parsed
    if content is not None:
        return fields, content
    return await _referenced(svc, caller, fields)


async def _referenced(svc: Services, caller: Caller, fields: ReleaseFields) -> Received:
    """An object of the store (CI uploaded it, now registers it): it must be there; its sha256 and size are
    read from it, and from then on the store holds it for the release (DeleteReleaseArtifact deletes it). An
    external file is only inspected: its presence is checked whenever it matters, it is never deleted."""
    try:
        uri = svc.artifacts.referenced(caller.organization_id, fields.artifact_uri)
    except ValueError as exc:
        raise invalid("release.artifact_uri", str(exc)) from None
    release_id = str(uuid.uuid4())
    if not svc.artifacts.manages(uri):
        return Received(fields, release_id, uri, "", 0, await bundles.inspect(svc.artifacts, uri))
    digest, size = hashlib.sha256(), 0
    try:
        if not await svc.artifacts.exists(uri):
            raise FileNotFoundError(uri)
        async for chunk in svc.artifacts.open(uri):
            digest.update(chunk)
            size += len(chunk)
    except FileNotFoundError:
        raise FailedPrecondition(
            f"there is no object {fields.artifact_uri} in the artifact store: upload it first", ARTIFACT_GONE
        ) from None
    return Received(fields, release_id, uri, digest.hexdigest(), size, await bundles.inspect(svc.artifacts, uri))


async def publish(
    conn: AsyncConnection, svc: Services, caller: Caller, prepared: Publication | tuple[ReleaseFields, None]
) -> Change[Release]:
    """`prepared` is unprepared only for a repeat whose key had an outcome (server/app/mutation.py: has_outcome),
    which replays it and never gets here, unless the key was purged in between."""
    if isinstance(prepared, Received):
        return await publish_upload(conn, svc, caller, prepared)
    if prepared[1] is None:
        raise Unavailable("the idempotency key expired while this request waited; retry")
    # Written before the row so a committed release always has its artifact. If the transaction
    # does not commit, the object is an unreferenced orphan named by a fresh uuid.
    received = await _receive(svc, caller, prepared[0], _one(prepared[1]))
    try:
        return await _record(conn, svc, caller, received)
    except Taken:
        await svc.artifacts.delete(received.uri)
        raise _exists(received.fields) from None


async def receive_upload(
    svc: Services, caller: Caller, first: Any, parsed: tuple[ReleaseFields, str], rest: AsyncIterator[Any]
) -> Received:
    """UploadRelease's chunks into the artifact store, before its transaction (none is held meanwhile)."""
    fields, declared = parsed

    async def chunks() -> AsyncIterator[bytes]:
        yield first.content
        async for message in rest:
            if len(message.content) > validation.MAX_ARTIFACT_BYTES:
                raise invalid("content", f"each chunk must be at most {validation.MAX_ARTIFACT_BYTES} bytes")
            yield message.content

    return await _receive(svc, caller, fields, chunks(), declared)


async def publish_upload(conn: AsyncConnection, svc: Services, caller: Caller, received: Received) -> Change[Release]:
    """Record an artifact the store already holds (uploaded, or named by reference)."""
    try:
        return await _record(conn, svc, caller, received)
    except Taken:
        raise _exists(received.fields) from None


async def discard_upload(svc: Services, received: Received) -> None:
    """The upload was not recorded (a replay of the request, or a refusal): its object goes."""
    await svc.artifacts.delete(received.uri)


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
    return q.page(await _all_checked(svc.artifacts, rows))


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
    return Change(await checked(svc.artifacts, release))


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
        await svc.artifacts.delete(uri)

    return Change(release, after_commit=[remove_file])

