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
PLAN_JOB = "plan_deployment"
SPAWN_JOB = "spawn_runtime_instance"
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
        """If this fails the deployment stays PENDING and the sweeper enqueues it again."""
        await self._enqueue(PROVISION_JOB, deployment_id, provision_job_id(deployment_id, retry_tag))

    async def enqueue_plan(self, deployment_id: str, request_sequence: int) -> None:
        """One job per PlanDeployment call (its PLAN_STARTED event's sequence makes the id)."""
        await self._enqueue(PLAN_JOB, deployment_id, f"plan:{deployment_id}:{request_sequence}")

    async def enqueue_spawn(self, runtime_id: str, retry_tag: str = "") -> None:
        """`spawn:<id>`; a spawn whose job was lost or whose spawner stopped is asked for again with a tag."""
        await self._enqueue(SPAWN_JOB, runtime_id, f"spawn:{runtime_id}:{retry_tag}" if retry_tag else f"spawn:{runtime_id}")

    async def depth(self) -> int:
        """Jobs waiting in the queue (arq keeps them in a sorted set)."""
        return int(await self.redis.zcard(self.queue_name))

    async def _enqueue(self, function: str, argument: str, job_id: str) -> None:
        try:
            await self.redis.enqueue_job(function, argument, _job_id=job_id, _queue_name=self.queue_name)
        except (RedisError, OSError) as exc:
            # Nothing is lost: PostgreSQL holds the state the job would act on, and the sweeper
            # (or the waiting provision job, for spawns) asks again.
            log.warning("enqueue of %s failed (%s)", job_id, type(exc).__name__)
