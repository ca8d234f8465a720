"""The driver protocol (docs/drivers.md): what a run asks of the infrastructure.

A driver is chosen by ROLLOUT_DRIVER (workers/drivers/__init__.py) and must
pass the contract suite in tests/drivers/contract.py.

Every method may be called again for the same deployment or runtime
instance after a worker died or a backend failed (a run is taken over from
the step it reached): provisioning must be idempotent, as `terraform apply`
and `helm upgrade --install` are, and starting a runtime instance that runs
already must not start a second one. A driver method is cancelled (asyncio)
when its worker loses the run's lease; it must then stop what it started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from server.artifacts import ArtifactStore
from server.domain.models import Deployment, Instance, Release, RuntimeInstance

# Reports one line of progress; it becomes a PROGRESS event on the deployment (bounded in number
# and length by the caller, secrets redacted).
Progress = Callable[[str], Awaitable[None]]


class DriverError(Exception):
    """The infrastructure refused or failed; the deployment fails with this message.

    `retryable=True` says the step may succeed if run again (the infrastructure
    was briefly unreachable): the run is handed to another worker instead of
    failing, within the run's attempts.
    """

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Step:
    """Everything a step needs: the run and its snapshot, the instance, the release whose bundle it
    runs (for a decommission, the one that is live), the instance's current secrets, where the
    artifact is, and how to report progress."""

    deployment: Deployment
    instance: Instance
    release: Release | None
    # The instance's secrets now (docs/product.md §3: a rollback never brings old ones back). Never
    # write them to a file, a log, an event or an argument list.
    secrets: Mapping[str, str]
    artifacts: ArtifactStore
    progress: Progress


@dataclass(frozen=True)
class Started:
    """Where a started runtime instance serves, recorded on it so any worker on `host` can find it."""

    host: str
    port: int
    pid: int = 0
    pid_start: int = 0


class Driver(Protocol):
    async def provision(self, step: Step) -> None:
        """Make the infrastructure match the deployment's snapshot (reconcile: repeat-safe)."""

    async def decommission(self, step: Step) -> None:
        """Remove what the instance's provisioning made."""

    async def start_runtime_instance(self, runtime: RuntimeInstance, step: Step) -> Started:
        """Boot it and return once it passes its health check; DriverError if it does not."""

    async def healthy(self, runtime: RuntimeInstance) -> bool:
        """Whether a started runtime instance still runs and passes its health check."""

    async def stop_runtime_instance(self, runtime: RuntimeInstance) -> None:
        """Stop it (gracefully, then for good); stopping a stopped one does nothing."""

    def reaches(self, runtime: RuntimeInstance) -> bool:
        """Whether this worker can act on it (a local process runs on one host only). One not started
        yet (`host` empty) is reached by any worker: stopping it stops whatever boots it here."""

    async def inventory(self) -> list[str]:
        """Ids of the runtime instances it still runs something for, among those it reaches: the
        worker stops the ones the database no longer wants (STOPPED, FAILED, or serving elsewhere)."""
