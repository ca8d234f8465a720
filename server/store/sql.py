"""Plain asyncpg for the hot path (docs/adr/003-sql-core.md), inside the caller's SQLAlchemy transaction.

A use case still opens its transaction with `engine.begin()` (or reads on
`Services.reader`), so cold-path Core statements and these share one
connection and one transaction. Hot reads that need no transaction and no
Core statement run on `Services.reads()` instead: a `Raw` on a connection
of a plain asyncpg pool (db.create_read_pool), without SQLAlchemy's
checkout, events and wrappers around each read. The statements here skip SQLAlchemy's
compiling, caching-key and result processing; asyncpg prepares each one once
per connection (its statement cache) and reuses it.

Columns are listed from the table definitions (server/store/tables.py), UUIDs
as text, so rows read like SQLAlchemy's (`as_uuid=False`). JSONB values are
decoded by the codec SQLAlchemy installed on the connection; parameters bound
to JSONB are passed as JSON text (`dumps`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import sqlalchemy as sa
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection


class Raw:
    """Statements on the asyncpg connection of a SQLAlchemy connection.

    A call cancelled in the middle of a statement (a client's deadline) leaves
    asyncpg waiting for the server's answer and the transaction open, with its
    row locks. The connection is then closed at once (PostgreSQL rolls the
    transaction back) and invalidated, so that the pool drops it instead of
    handing it to the next request.
    """

    __slots__ = ("_conn", "_owner")

    def __init__(self, conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any], owner: AsyncConnection | None = None) -> None:
        self._conn = conn
        self._owner = owner  # None: a read pool's connection, which its pool replaces once closed

    async def _drop(self) -> None:
        self._conn.terminate()
        if self._owner is not None:
            await asyncio.shield(self._owner.invalidate())

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return await self._conn.fetch(query, *args)
        except asyncio.CancelledError:
            await self._drop()
            raise

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        try:
            return await self._conn.fetchrow(query, *args)
        except asyncio.CancelledError:
            await self._drop()
            raise

    async def fetchval(self, query: str, *args: Any) -> Any:
        try:
            return await self._conn.fetchval(query, *args)
        except asyncio.CancelledError:
            await self._drop()
            raise

    async def execute(self, query: str, *args: Any) -> str:
        try:
            return await self._conn.execute(query, *args)
        except asyncio.CancelledError:
            await self._drop()
            raise


# What a hot-path store function runs on: a SQLAlchemy connection (in its transaction), or a read pool's Raw.
Conn = AsyncConnection | Raw


async def raw(conn: Conn) -> Raw:
    """The asyncpg connection under `conn`, with conn's transaction begun (a Raw already is one).

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its first
    statement; a plain asyncpg statement must not run outside it.
    """
    if isinstance(conn, Raw):
        return conn
    fairy = await conn.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    driver: asyncpg.Connection[Any] = adapted._connection
    statements = Raw(driver, conn)
    if adapted._transaction is None and not adapted.autocommit:
        try:
            await adapted._start_transaction()
        except asyncio.CancelledError:
            await statements._drop()
            raise
    return statements


def columns(table: sa.Table, alias: str = "", named: str = "") -> str:
    """`table`'s columns for a SELECT or RETURNING list: UUIDs as text, named as the columns (after `named`)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f"{prefix}{c.name}{'::text' if isinstance(c.type, UUID) else ''} AS {named}{c.name}" for c in table.columns
    )


def is_json(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, JSONB)


def dumps(value: object) -> str:
    """A value bound to a JSONB parameter."""
    return json.dumps(value)
