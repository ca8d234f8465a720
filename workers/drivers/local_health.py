"""The HTTP health check of a runtime instance: GET its `[health] path` on 127.0.0.1:<port>, expect its status."""

from __future__ import annotations

import asyncio
import contextlib

from server.domain.bundles import Health

# Once HEALTHY, an instance is declared failed only after this many checks in a row failed, `interval` apart:
# one slow answer on a busy machine is not a dead server.
CHECKS_BEFORE_FAILED = 3


async def probe(port: int, health: Health) -> bool:
    """One check: True if the answer's status is the expected one, within the timeout."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(health.timeout_seconds):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = f"GET {health.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: rollout-health\r\nConnection: close\r\n\r\n"
            writer.write(request.encode("ascii", "replace"))
            await writer.drain()
            status_line = await reader.readline()
        parts = status_line.split()
        return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1] == str(health.status).encode()
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def passes(port: int, health: Health, checks: int = CHECKS_BEFORE_FAILED) -> bool:
    """Whether one of `checks` checks, `interval` apart, passes."""
    for attempt in range(checks):
        if attempt:
            await asyncio.sleep(health.interval_seconds)
        if await probe(port, health):
            return True
    return False
