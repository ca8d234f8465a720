"""Who is calling, and the shared clients every use case needs (wired once, by Services.open)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from arq.connections import RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncEngine

from server import keyring
from server.app.queue import JobQueue
from server.artifacts import ArtifactStore, open_store
from server.config import Settings
from server.domain.audit import PendingAudit
from server.domain.models import Principal
from server.keyring import Keyring
from server.store.db import create_engine, create_read_pool, ping
from server.store.sql import Raw


@dataclass(frozen=True)
class Caller:
    organization_id: str
    principal_id: str = "anonymous"
    principal_kind: str = "user"
    request_id: str = ""
    attribution: str = ""
    # The authenticated principal and the organization's compiled policies (server/app/access.py).
    principal: Principal | None = None
    policies: Any = None
    # Inside a mutation: its audit record, for a use case to write with its own last statement (mutation.py).
    audit: PendingAudit | None = None


@dataclass(frozen=True)
class Services:
    engine: AsyncEngine
    artifacts: ArtifactStore
    queue: JobQueue
    # Plain asyncpg connections for hot reads (`reads`).
    read_pool: asyncpg.Pool[Any]
    # How long an idempotency key is remembered (docs/product.md §5).
    key_retention_seconds: float = 24 * 3600
    # Seals instance secrets; without keys, storing a secret value is refused (ADR 009).
    keyring: Keyring = field(default_factory=Keyring)
    # Instances' hosts at the edge router (Settings.public_domain).
    public_domain: str = "localhost:8080"

    @classmethod
    async def open(cls, settings: Settings) -> Services:
        """The one composition root: every server and worker process builds its clients here (and then
        proves it has its database's artifact store: server/app/installation.py)."""
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        # The process's database connections: a quarter (at least one) for hot reads, the rest for
        # transactions and cold paths.
        reads = max(1, settings.db_pool_size // 4)
        return cls(
            # A fixed pool: an overflow connection is closed when returned, and the next burst opens
            # another, its statements prepared and its types looked up anew (asyncpg's introspection
            # showed in ~40 of 1,500 samples of the bench's backends). A burst waits for one instead.
            create_engine(settings.database_url, max(1, settings.db_pool_size - reads), max_overflow=0),
            open_store(settings.artifact_store),
            JobQueue(redis, settings.queue_name),
            await create_read_pool(settings.database_url, reads),
            settings.key_retention_seconds,
            keyring.from_settings(settings),
            public_domain=settings.public_domain,
        )

    async def ping(self) -> None:
        """PostgreSQL and Redis both answer (raises otherwise)."""
        await ping(self.reader)
        await self.queue.redis.ping()

    async def close(self) -> None:
        await self.queue.redis.aclose()
        try:
            await asyncio.wait_for(self.read_pool.close(), 5)
        except TimeoutError:
            self.read_pool.terminate()
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def reads(self) -> AsyncIterator[Raw]:
        """A connection for hot reads made of plain statements (server/store/sql.py): autocommit, one round
        trip per query, from the read pool (without SQLAlchemy's checkout around each read)."""
        async with self.read_pool.acquire() as conn:
            yield Raw(conn)

    @functools.cached_property
    def reader(self) -> AsyncEngine:
        """The same pool without BEGIN/ROLLBACK around reads: one round trip per query, not three."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")
