"""Runtime instances after they boot (docs/product.md §4): a serving one that fails, and what a host no longer runs."""

from __future__ import annotations

from server.domain.models import EventType, NewEvent, RuntimeInstance, RuntimeState, Status


def failed_event(runtime: RuntimeInstance, reason: str) -> NewEvent:
    """The instance-level event (WatchInstance) for a HEALTHY runtime instance that died or stopped answering."""
    where = f"pid {runtime.pid}, " if runtime.pid else ""
    return NewEvent(
        EventType.RUNTIME_FAILED,
        # An event of the instance has no deployment status; storage does not record this one.
        Status.FAILED,
        f"runtime instance {runtime.id} (v{runtime.version}, {where}port {runtime.port}) failed: {reason}",
    )


def stray(row: RuntimeInstance | None, reached: bool) -> bool:
    """Whether a process a driver still runs for `row` is wanted by nobody, so the host stops it.

    `reached` says whether the row's location is this driver's. STARTING and
    DRAINING ones belong to whoever spawns or drains them; a row this
    database does not know belongs to another installation and is left alone.
    """
    if row is None or row.state in (RuntimeState.STARTING, RuntimeState.DRAINING):
        return False
    if row.state is RuntimeState.HEALTHY:
        return not reached  # another host's spawn won: this process serves nothing
    return True  # STOPPED or FAILED
