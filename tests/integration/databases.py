"""A database of its own in the session's PostgreSQL, for tests that act on every row (rotation, migrations)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

from server.store.db import asyncpg_dsn


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False)))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(session_url: str) -> Iterator[str]:
    """The URL of a new empty database beside the session's one, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(session_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(session_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(session_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
