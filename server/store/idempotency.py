"""The idempotency_keys table (docs/product.md §5)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.tables import idempotency_keys

# A stored error: its code, reason, message and metadata (server/domain/errors.py).
StoredError = tuple[str, str, str, dict[str, str]]


@dataclass(frozen=True)
class StoredKey:
    method: str
    fingerprint: str
    response: bytes | None
    error: StoredError | None


async def claim(
    conn: AsyncConnection,
    organization_id: str,
    key: str,
    method: str,
    fingerprint: str,
    retention_seconds: float,
    error: StoredError | None = None,
) -> bool:
    """Insert the key; False if it exists.

    A concurrent transaction holding the same key makes this wait until it
    commits (then False) or rolls back (then True): that is how repeats of a
    running request wait for the first one.
    """
    values: dict[str, object] = {
        "organization_id": organization_id,
        "key": key,
        "method": method,
        "fingerprint": fingerprint,
        "expire_time": sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, retention_seconds),
    }
    if error is not None:
        values.update(error_code=error[0], error_reason=error[1], error_message=error[2], error_metadata=error[3])
    result = await conn.execute(
        pg_insert(idempotency_keys).values(**values).on_conflict_do_nothing().returning(idempotency_keys.c.key)
    )
    return result.first() is not None


async def store_response(conn: AsyncConnection, organization_id: str, key: str, response: bytes) -> None:
    await conn.execute(
        idempotency_keys.update()
        .where(idempotency_keys.c.organization_id == organization_id, idempotency_keys.c.key == key)
        .values(response=response)
    )


async def get(conn: AsyncConnection, organization_id: str, key: str) -> StoredKey | None:
    row = (
        await conn.execute(
            sa.select(idempotency_keys).where(
                idempotency_keys.c.organization_id == organization_id, idempotency_keys.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    m = row._mapping
    error = None
    if m["error_code"] is not None:
        error = (m["error_code"], m["error_reason"] or "", m["error_message"] or "", dict(m["error_metadata"] or {}))
    return StoredKey(m["method"], m["fingerprint"], m["response"], error)


async def purge_expired(conn: AsyncConnection, limit: int = 10_000) -> int:
    result = await conn.execute(
        sa.text(
            "DELETE FROM idempotency_keys WHERE ctid IN "
            "(SELECT ctid FROM idempotency_keys WHERE expire_time < now() LIMIT :limit)"
        ),
        {"limit": limit},
    )
    return int(result.rowcount)
