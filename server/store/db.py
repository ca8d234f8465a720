"""The async engine: one per process, created in main() or a worker's on_startup."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


class Taken(Exception):
    """A unique constraint refused the write: the name (or version) is taken. Use cases say so."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


@contextlib.contextmanager
def unique(constraint: str) -> Iterator[None]:
    """Turn a violation of the unique constraint `constraint` in the block into Taken."""
    try:
        yield
    except IntegrityError as exc:
        if constraint in str(exc.orig):
            raise Taken(constraint) from None
        raise


async def ping(engine: AsyncEngine) -> None:
    """One round trip: the database answers."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


def create_engine(url: str, pool_size: int = 10, max_overflow: int | None = None) -> AsyncEngine:
    """`pool_size` connections kept once opened, and up to `max_overflow` more (default: as many) that
    are closed as soon as they are returned. Servers and workers ask for no overflow (Services.open)."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=False,
        # Error messages (and so logs) never carry statement parameters: sealed secrets, token hashes, params.
        hide_parameters=True,
        # asyncpg prepares statements itself; caching them per connection is the fast path.
        connect_args={"server_settings": {"application_name": "rollout"}},
    )


async def create_read_pool(url: str, size: int) -> asyncpg.Pool[Any]:
    """Plain asyncpg connections for hot reads (sql.Raw, Services.reads): autocommit, opened on demand,
    decoding JSON as SQLAlchemy's connections do, and handed back without a reset round trip (reads
    leave no session state: no transaction, no prepared cursor, no setting)."""

    async def init(conn: asyncpg.Connection[Any]) -> None:
        for name in ("json", "jsonb"):
            await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog", format="text")

    async def no_reset(_conn: asyncpg.Connection[Any]) -> None:
        return None

    return await asyncpg.create_pool(
        asyncpg_dsn(url), min_size=0, max_size=size, init=init, reset=no_reset,
        server_settings={"application_name": "rollout"},
    )


def asyncpg_dsn(url: str) -> str:
    """The same URL for plain asyncpg (LISTEN connections, tools)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
