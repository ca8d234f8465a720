"""Handing work to the arq worker pool.

Jobs are enqueued only after the commit that made them necessary, with a
deterministic job id so a repeat is a no-op while the job is queued. If Redis
is down at that moment nothing is lost: the deployment is PENDING in
PostgreSQL and the worker's sweeper enqueues it again (workers/sweeper.py).
"""

from __future__ import annotations

import logging

from arq.connections import ArqRedis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PROVISION_JOB = "provision_deployment"
DEFAULT_QUEUE = "rollout:queue"


def provision_job_id(deployment_id: str, retry_tag: str = "") -> str:
    """`provision:<id>` on approval; retries add a tag.

    A worker killed mid-job leaves its arq job "in progress" until arq's own
    timeout (an hour), which would block a retry under the same id; a tag per
    retry round keeps repeats within a round deduplicated but never blocked.
    """
    return f"provision:{deployment_id}:{retry_tag}" if retry_tag else f"provision:{deployment_id}"


class JobQueue:
    def __init__(self, redis: ArqRedis, queue_name: str = DEFAULT_QUEUE) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def enqueue_provision(self, deployment_id: str, retry_tag: str = "") -> None:
        try:
            await self.redis.enqueue_job(
                PROVISION_JOB,
                deployment_id,
                _job_id=provision_job_id(deployment_id, retry_tag),
                _queue_name=self.queue_name,
            )
        except (RedisError, OSError) as exc:
            log.warning("enqueue of deployment %s failed (%s); the sweeper will retry it", deployment_id, exc)
