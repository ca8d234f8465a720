"""What one campaign does and when: sizes, and the fault schedule drawn from the seed (pure, no I/O)."""

from __future__ import annotations

import random
from dataclasses import dataclass

WORKER_KILL = "worker-kill"
SERVER_KILL = "server-kill"
POSTGRES_STOP = "postgres-immediate-stop"
POSTGRES_KILL = "postgres-kill-9"
VALKEY_KILL = "valkey-kill-9"
KEY_STORM = "key-storm"  # identical RollbackDeployments with one key while a worker is killed, then approvals


@dataclass(frozen=True)
class Sizes:
    duration: float  # seconds of load; faults happen within it
    clients: int
    workers: int
    worker_kills: int  # besides the one during the key storm
    server_kills: int  # each a different server
    postgres_faults: tuple[str, ...]
    rollback_storm: int
    approve_storm: int
    drain_seconds: float  # how long approved deployments get to end after the load stops


FULL = Sizes(
    duration=180, clients=16, workers=3, worker_kills=8, server_kills=2, postgres_faults=(POSTGRES_STOP, POSTGRES_KILL),
    rollback_storm=200, approve_storm=50, drain_seconds=30,
)
SHORT = Sizes(
    duration=20, clients=10, workers=2, worker_kills=3, server_kills=1, postgres_faults=(POSTGRES_STOP,),
    rollback_storm=50, approve_storm=10, drain_seconds=30,
)


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the load started
    kind: str
    target: int = 0  # which server, for SERVER_KILL


def schedule(sizes: Sizes, servers: int, seed: int) -> list[Fault]:
    """Every fault once in a random order, on evenly spaced slots between 10% and 85% of the run.

    The slots are only the earliest start of each fault: the campaign runs
    faults one at a time and never skips one, so the figures never depend on
    how fast this machine is.
    """
    rng = random.Random(seed)
    kinds = [(WORKER_KILL, 0)] * sizes.worker_kills + [(SERVER_KILL, s) for s in range(min(servers, sizes.server_kills))]
    kinds += [(kind, 0) for kind in sizes.postgres_faults] + [(VALKEY_KILL, 0), (KEY_STORM, 0)]
    rng.shuffle(kinds)
    start, end = 0.10 * sizes.duration, 0.85 * sizes.duration
    step = (end - start) / max(1, len(kinds) - 1)
    return [Fault(round(start + i * step + rng.uniform(0, step / 3), 2), kind, target) for i, (kind, target) in enumerate(kinds)]
