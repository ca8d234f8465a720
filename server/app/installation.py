"""Every process proves it reaches the artifact store its database was set up with (docs/adr/010-artifact-store.md).

Servers and workers that share a database but not an artifact store would
fail each other's deployments with ARTIFACT_GONE, while the releases say
their artifacts are present. So migration (`python -m server.migrate`)
writes a marker object into the store, naming the installation, and then the
installation row; at start, each server and worker reads the row and finds
the marker in the store it is pointed at, or refuses to start and says how
to fix it. A marker per installation: several databases may share a store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.artifacts import ArtifactStore
from server.store import installation as rows
from server.store.faults import is_transient
from server.store.installation import Installation

log = logging.getLogger(__name__)

_UNDEFINED_TABLE = "42P01"


class WrongStore(Exception):
    """This process is not pointed at the artifact store of its database (or the database is not set up);
    the message names the problem and the fix. Never transient: the process stops."""


def _marker_name(installation_id: str) -> str:
    return f"installations/{installation_id}.json"


async def install(engine: AsyncEngine, store: ArtifactStore) -> Installation:
    """At migration: the database's installation, made with its marker if there is none; WrongStore if the
    database was set up with another store (a second stack never silently writes a new marker)."""
    async with engine.begin() as conn:
        await rows.lock(conn)
        found = await rows.get(conn)
        if found is None:
            found = Installation(str(uuid.uuid4()), store.location)
            marker = {"installation_id": found.id, "artifact_store": store.location}
            # The marker first: a committed row always names a marker that was written.
            await store.write_meta(_marker_name(found.id), json.dumps(marker).encode())
            await rows.insert(conn, found)
            log.info("installation %s set up with artifact store %s", found.id, store.location)
            return found
        await _find_marker(found, store)
        if found.artifact_store != store.location:
            # Its objects, marker included, were copied elsewhere: record where the store is now.
            await rows.moved(conn, found.id, store.location)
            log.info("installation %s: artifact store moved from %s to %s", found.id, found.artifact_store, store.location)
            found = Installation(found.id, store.location)
    return found


async def prove(engine: AsyncEngine, store: ArtifactStore) -> Installation:
    """At start: WrongStore unless the store holds the marker of the database's installation. An unreachable
    database or store raises its own (transient) error: not knowing yet is not a refusal."""
    try:
        async with engine.connect() as conn:
            found = await rows.get(conn)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) != _UNDEFINED_TABLE:
            raise
        found = None
    if found is None:
        raise WrongStore(
            "this database has not been set up: run `python -m server.migrate` with the same ROLLOUT_DATABASE_URL "
            "and ROLLOUT_ARTIFACT_STORE as every server and worker"
        )
    await _find_marker(found, store)
    return found


async def prove_patiently(engine: AsyncEngine, store: ArtifactStore) -> Installation:
    """`prove`, waiting out backend faults (a database or store still starting, an outage)."""
    delay = 0.5
    while True:
        try:
            return await prove(engine, store)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("cannot check the artifact store yet (%s); trying again in %.1fs", type(exc).__name__, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def _find_marker(found: Installation, store: ArtifactStore) -> None:
    content = await store.read_meta(_marker_name(found.id))
    if content is None:
        same = " (the same name, but not the same storage: is a local folder used on several machines?)"
        raise WrongStore(
            f"this database was set up with artifact store {found.artifact_store} (installation {found.id}); "
            f"ROLLOUT_ARTIFACT_STORE points at {store.location}"
            f"{same if store.location == found.artifact_store else ''}, where its marker is missing: "
            "point every server and worker at the same store"
        )
    try:
        named = json.loads(content).get("installation_id")
    except (ValueError, AttributeError):
        named = None
    if named != found.id:
        raise WrongStore(
            f"the marker of installation {found.id} in artifact store {store.location} is damaged "
            f"({_marker_name(found.id)} under _rollout/): restore it from a backup of the store"
        )
