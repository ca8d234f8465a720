"""Who is calling, and the shared clients every use case needs (wired once, by Services.open)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from arq.connections import RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncEngine

from server import keyring
from server.app.queue import JobQueue
from server.artifacts import ArtifactStore, open_store
from server.config import Settings
from server.domain.models import Principal
from server.keyring import Keyring
from server.store.db import create_engine, ping


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


@dataclass(frozen=True)
class Services:
    engine: AsyncEngine
    artifacts: ArtifactStore
    queue: JobQueue
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
        return cls(
            # A fixed pool: an overflow connection is closed when returned, and the next burst opens
            # another, its statements prepared and its types looked up anew (asyncpg's introspection
            # showed in ~40 of 1,500 samples of the bench's backends). A burst waits for one instead.
            create_engine(settings.database_url, settings.db_pool_size, max_overflow=0),
            open_store(settings.artifact_store),
            JobQueue(redis, settings.queue_name),
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
        await self.engine.dispose()

    @functools.cached_property
    def reader(self) -> AsyncEngine:
        """The same pool without BEGIN/ROLLBACK around reads: one round trip per query, not three."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")
