"""Route-cache invalidation (docs/product.md §4 step 5): tell edge routers the active deployment changed.

Published on the Redis pub/sub channel `rollout:routes` after the switch
commits, as JSON:

    {"organization_id": "acme", "instance_id": "<uuid>", "route_generation": 7,
     "active_deployment_id": "<uuid>" | null, "bundle_release_id": "<uuid>" | null,
     "version": "1.2.0" | null}

Pub/sub delivers at most once. A router that reconnects, or sees a
generation jump, re-reads the instance (GetInstance's `route_generation` is
the truth); generations only increase.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.app.runs import Switched

log = logging.getLogger(__name__)

CHANNEL = "rollout:routes"


async def publish(redis: Redis, switched: Switched) -> None:
    try:
        await redis.publish(CHANNEL, json.dumps(asdict(switched)))
    except (RedisError, OSError) as exc:
        log.warning("route-change publish for %s failed (%s); routers resync by generation", switched.instance_id, exc)
