"""Instance use cases: create, read, list, update, secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.app.access import may_read
from server.app.context import Caller, Services
from server.app.mutation import Change
from server.domain import listing
from server.domain.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from server.domain.models import Instance, Kind
from server.store import instances as store
from server.store import secrets as secret_store
from server.store.db import Taken

INSTANCE_EXISTS = "INSTANCE_EXISTS"

FILTER_RULES = {
    name: listing.FieldRule(frozenset({"="}), listing.plain) for name in ("project", "environment", "name", "bundle")
}
# Fields UpdateInstance may change; `kind` and `bundle` are fixed at creation.
UPDATABLE = frozenset(
    {"name", "project", "environment", "labels", "params", "connections", "version_constraint", "release_channel", "replicas"}
)


@dataclass(frozen=True)
class InstanceFields:
    name: str
    project: str
    environment: str
    bundle: str
    kind: Kind
    replicas: int
    labels: dict[str, str]
    params: dict[str, Any]
    connections: dict[str, str]
    version_constraint: str
    release_channel: str


def _not_found(instance_id: str) -> NotFound:
    return NotFound(f"instance {instance_id} not found")


async def _check_connections(conn: AsyncConnection, caller: Caller, field: str, connections: dict[str, str]) -> None:
    found = await store.exist(conn, caller.organization_id, list(connections.values()))
    missing = [FieldViolation(f"{field}[{name}]", "no such instance") for name, target in connections.items() if target not in found]
    if missing:
        raise InvalidArgument(missing)


async def create(conn: AsyncConnection, svc: Services, caller: Caller, fields: InstanceFields) -> Change[Instance]:
    await _check_connections(conn, caller, "instance.connections", fields.connections)
    try:
        created = await store.insert(
            conn,
            {
                "id": str(uuid.uuid4()),
                "organization_id": caller.organization_id,
                "name": fields.name,
                "project": fields.project,
                "environment": fields.environment,
                "bundle": fields.bundle,
                "kind": fields.kind.value,
                "replicas": fields.replicas,
                "labels": fields.labels,
                "params": fields.params,
                "connections": fields.connections,
                "version_constraint": fields.version_constraint,
                "release_channel": fields.release_channel,
            },
        )
    except Taken:
        raise AlreadyExists(
            f"an instance named {fields.name!r} exists in {fields.project}/{fields.environment}", INSTANCE_EXISTS
        ) from None
    return Change(created)


async def get(svc: Services, caller: Caller, instance_id: str) -> Instance:
    async with svc.reads() as conn:
        found = await store.get(conn, caller.organization_id, instance_id)
    if found is None:
        raise _not_found(instance_id)
    return found


async def list_page(
    svc: Services, caller: Caller, filter_text: str, order_by: str, page_size: int, page_token: str
) -> tuple[list[Instance], str]:
    q = listing.query(
        ("instances", caller.organization_id), FILTER_RULES, filter_text, order_by, page_size, page_token, default_desc=False
    )
    async with svc.reader.connect() as conn:
        rows = await store.list_page(conn, caller.organization_id, q.terms, q.desc, q.cursor, q.limit + 1)
    page, token = q.page(rows)
    # Listing needs no grant of its own; it shows only the instances the caller may read.
    return [i for i in page if may_read(caller, i)], token


async def update(
    conn: AsyncConnection, svc: Services, caller: Caller, instance_id: str, changes: dict[str, Any]
) -> Change[Instance]:
    current = await store.get(conn, caller.organization_id, instance_id, lock=True)
    if current is None:
        raise _not_found(instance_id)
    if "connections" in changes:
        await _check_connections(conn, caller, "instance.connections", changes["connections"])
    if "replicas" in changes and current.kind is Kind.STATIC and changes["replicas"] != 0:
        raise InvalidArgument([FieldViolation("instance.replicas", "must be 0 for a STATIC instance")])
    values = dict(changes)
    # docs/product.md §3: deliberately changing the constraint or channel ends the rollback pin.
    if any(
        name in changes and changes[name] != getattr(current, name)
        for name in ("version_constraint", "release_channel")
    ):
        values.update(pinned=False, bundle_release_id=None, version=None)
    try:
        await store.update(conn, instance_id, values)
    except Taken:
        raise AlreadyExists(
            "that name is taken in the target project/environment", INSTANCE_EXISTS, instance_id=instance_id
        ) from None
    updated = await store.get(conn, caller.organization_id, instance_id)
    assert updated is not None
    return Change(updated)


async def set_secrets(
    conn: AsyncConnection, svc: Services, caller: Caller, instance_id: str, secrets: dict[str, str], remove: list[str]
) -> Change[Instance]:
    current = await store.get(conn, caller.organization_id, instance_id, lock=True)
    if current is None:
        raise _not_found(instance_id)
    # Sealed before anything is written: without a key the request is refused and nothing changes.
    sealed = {name: svc.keyring.encrypt(instance_id, name, value.encode()) for name, value in secrets.items()}
    await secret_store.put(conn, instance_id, sealed, remove)
    await store.update(conn, instance_id, {})
    updated = await store.get(conn, caller.organization_id, instance_id)
    assert updated is not None
    return Change(updated)

