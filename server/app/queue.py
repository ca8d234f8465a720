"""Handing work to the arq worker pool.

Jobs are enqueued only after the commit that made them necessary, with a
deterministic job id so a repeat is a no-op while the job is queued. If Redis
is down at that moment nothing is lost: the deployment is PENDING in
PostgreSQL and the worker's sweeper enqueues it again (workers/sweeper.py).
"""

from __future__ import annotations

import logging

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PROVISION_JOB = "provision_deployment"
PLAN_JOB = "plan_deployment"
SPAWN_JOB = "spawn_runtime_instance"
DEFAULT_QUEUE = "rollout:queue"


def wake_channel(queue_name: str) -> str:
    """The Redis channel on which an enqueue wakes the workers of `queue_name` (workers/__main__.py)."""
    return f"{queue_name}:wake"


def provision_job_id(deployment_id: str, retry_tag: str = "") -> str:
    """`provision:<id>` on approval; retries add a tag.

    A worker killed mid-job leaves its arq job "in progress" until arq's own
    timeout (an hour), which would block a retry under the same id; a tag per
    retry round keeps repeats within a round deduplicated but never blocked.
    """
    return f"provision:{deployment_id}:{retry_tag}" if retry_tag else f"provision:{deployment_id}"


# arq's enqueue_job (WATCH, EXISTS, then MULTI: SET the job, ZADD it to the queue) and the wake-up, as one
# script: one round trip instead of four, as atomic as arq's transaction. The wake-up is sent whether or not
# the job was there already, as before. KEYS: the job, its result, the queue; ARGV: the job's lifetime (ms),
# the serialized job, its id, its score, the wake channel.
_ENQUEUE = """
redis.call('PUBLISH', ARGV[5], ARGV[3])
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
"""


class JobQueue:
    def __init__(self, redis: ArqRedis, queue_name: str = DEFAULT_QUEUE) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self._enqueue_script = redis.register_script(_ENQUEUE)

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
        """Enqueued as arq's enqueue_job would (a no-op while a job with the id exists), and the workers woken:
        arq stays the queue, the wake-up only saves a worker the rest of its poll interval."""
        now = timestamp_ms()
        job = serialize_job(function, (argument,), {}, None, now, serializer=self.redis.job_serializer)
        try:
            await self._enqueue_script(
                keys=[job_key_prefix + job_id, result_key_prefix + job_id, self.queue_name],
                args=[self.redis.expires_extra_ms, job, job_id, now, wake_channel(self.queue_name)],
            )
        except (RedisError, OSError) as exc:
            # Nothing is lost: PostgreSQL holds the state the job would act on, and the sweeper
            # (or the waiting provision job, for spawns) asks again.
            log.warning("enqueue of %s failed (%s)", job_id, type(exc).__name__)
