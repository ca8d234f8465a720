"""Organization administration: principals, tokens, policies, approval rules (docs/product.md §7)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server import authz
from server.app.context import Caller, Services
from server.app.mutation import Change
from server.domain import listing, tokens
from server.domain.errors import AlreadyExists, NotFound
from server.domain.models import ApprovalRule, Principal, PrincipalKind
from server.store import identity as store
from server.store.db import Taken

PRINCIPAL_EXISTS = "PRINCIPAL_EXISTS"
DEFAULT_TTL_SECONDS = 30 * 24 * 3600


def new_token() -> tuple[str, str]:
    """A random bearer token and the hash that is stored instead of it."""
    token = tokens.PREFIX + secrets.token_urlsafe(32)
    return token, tokens.hash_token(token)


async def create_principal(
    conn: AsyncConnection, svc: Services, caller: Caller, name: str, kind: PrincipalKind, groups: list[str]
) -> Change[Principal]:
    try:
        principal = await store.insert_principal(
            conn,
            {
                "id": str(uuid.uuid4()),
                "organization_id": caller.organization_id,
                "name": name,
                "kind": kind.value,
                "groups": sorted(set(groups)),
            },
        )
    except Taken:
        raise AlreadyExists(f"a principal named {name!r} exists", PRINCIPAL_EXISTS) from None
    return Change(principal)


async def list_principals(svc: Services, caller: Caller, page_size: int, page_token: str) -> tuple[list[Principal], str]:
    q = listing.query(("principals", caller.organization_id), {}, "", "", page_size, page_token, default_desc=False)
    async with svc.reader.connect() as conn:
        rows = await store.list_principals(conn, caller.organization_id, q.cursor, q.limit + 1)
    return q.page(rows)


async def update_principal(
    conn: AsyncConnection, svc: Services, caller: Caller, principal_id: str, changes: dict[str, Any]
) -> Change[Principal]:
    if await store.get_principal(conn, caller.organization_id, principal_id) is None:
        raise NotFound(f"principal {principal_id} not found")
    if "groups" in changes:
        changes = {**changes, "groups": sorted(set(changes["groups"]))}
    updated = await store.update_principal(conn, principal_id, changes)
    return Change(updated)


async def create_token(
    conn: AsyncConnection, svc: Services, caller: Caller, principal_id: str, ttl_seconds: int
) -> Change[tuple[str, store.TokenRow]]:
    if await store.get_principal(conn, caller.organization_id, principal_id) is None:
        raise NotFound(f"principal {principal_id} not found")
    token, token_hash = new_token()
    row = await store.insert_token(
        conn,
        {
            "id": str(uuid.uuid4()),
            "organization_id": caller.organization_id,
            "principal_id": principal_id,
            "hash": token_hash,
            "expire_time": datetime.now(UTC) + timedelta(seconds=ttl_seconds or DEFAULT_TTL_SECONDS),
        },
    )
    # The secret is in this response only: a replay of the request returns the token info without it.
    return Change((token, row), replay_result=("", row))


async def revoke_token(conn: AsyncConnection, svc: Services, caller: Caller, token_id: str) -> Change[store.TokenRow]:
    row = await store.revoke_token(conn, caller.organization_id, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    return Change(row)


async def put_policy(conn: AsyncConnection, svc: Services, caller: Caller, name: str, cedar: str) -> Change[Any]:
    authz.compile_policies([cedar])  # refuse text Cedar cannot parse before storing it
    row = await store.put_policy(conn, caller.organization_id, name, cedar)
    return Change(row)


async def delete_policy(conn: AsyncConnection, svc: Services, caller: Caller, name: str) -> Change[Any]:
    row = await store.delete_policy(conn, caller.organization_id, name)
    if row is None:
        raise NotFound(f"policy {name} not found")
    return Change(row)


async def list_policies(svc: Services, caller: Caller) -> list[Any]:
    async with svc.reader.connect() as conn:
        return await store.list_policies(conn, caller.organization_id)


async def put_approval_rule(
    conn: AsyncConnection, svc: Services, caller: Caller, rule: ApprovalRule
) -> Change[ApprovalRule]:
    await store.put_rule(conn, caller.organization_id, rule)
    return Change(rule)


async def list_approval_rules(svc: Services, caller: Caller) -> list[ApprovalRule]:
    async with svc.reader.connect() as conn:
        return await store.rules(conn, caller.organization_id)
