"""The async engine: one per process, created in main() or a worker's on_startup."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        # Error messages (and so logs) never carry statement parameters: sealed secrets, token hashes, params.
        hide_parameters=True,
        # asyncpg prepares statements itself; caching them per connection is the fast path.
        connect_args={"server_settings": {"application_name": "rollout"}},
    )


def asyncpg_dsn(url: str) -> str:
    """The same URL for plain asyncpg (LISTEN connections, tools)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
