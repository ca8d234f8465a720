"""The idempotency_keys table (docs/product.md §5)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store import sql

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
    code, reason, message, metadata = error if error is not None else (None, None, None, None)
    claimed = await (await sql.raw(conn)).fetchval(
        _CLAIM, organization_id, key, method, fingerprint, float(retention_seconds),
        code, reason, message, sql.dumps(metadata) if metadata is not None else None,
    )
    return claimed is not None


# Plain asyncpg (server/store/sql.py): every mutating RPC with a key runs these.
_CLAIM = """
INSERT INTO idempotency_keys (organization_id, key, method, fingerprint, expire_time,
                              error_code, error_reason, error_message, error_metadata)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6, $7, $8, $9)
ON CONFLICT DO NOTHING RETURNING key
"""
_STORE = "UPDATE idempotency_keys SET response = $3 WHERE organization_id = $1 AND key = $2"
_GET = """
SELECT method, fingerprint, response, error_code, error_reason, error_message, error_metadata
FROM idempotency_keys WHERE organization_id = $1 AND key = $2
"""


async def store_response(conn: AsyncConnection, organization_id: str, key: str, response: bytes) -> None:
    await (await sql.raw(conn)).execute(_STORE, organization_id, key, response)


async def get(conn: AsyncConnection, organization_id: str, key: str) -> StoredKey | None:
    m = await (await sql.raw(conn)).fetchrow(_GET, organization_id, key)
    if m is None:
        return None
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
