"""Which failures are faults of a backend (PostgreSQL, Redis, the artifact store, the network), not of the request.

A fault is transient: the same request may succeed when it is sent again, so
the gRPC edge answers UNAVAILABLE (never INTERNAL) and a worker hands its run
over instead of failing the deployment. Errors arrive wrapped (SQLAlchemy
wraps asyncpg's, which wrap OSError), so the whole chain is looked at.
"""

from __future__ import annotations

import asyncpg
import obstore.exceptions
import redis.exceptions
import sqlalchemy.exc

# SQLSTATE classes that say "the server or the connection", not "your statement": connection
# exceptions, operator intervention (shutdown, cannot connect now, cancelled), insufficient
# resources (too many connections) and transaction rollbacks (serialization failure, deadlock).
_TRANSIENT_SQLSTATE = ("08", "57", "53", "40")

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, timed out (TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.exceptions.InternalClientError,  # a connection left in a state it cannot leave
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    # The artifact store (obstore): an S3 endpoint that refuses, times out or answers 5xx after obstore's
    # own retries is a GenericError; credentials that expired or lost a permission are fixed outside
    # the request, and until then the store cannot be reached either. A missing object is a
    # FileNotFoundError: where it means "gone", callers ask `exists` first; met mid-read (deleted
    # meanwhile) it is an OSError like any, so a run is handed back and its next claim finds it gone.
    obstore.exceptions.GenericError,
    obstore.exceptions.JoinError,
    obstore.exceptions.PermissionDeniedError,
    obstore.exceptions.UnauthenticatedError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 16:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def is_transient(exc: BaseException) -> bool:
    """True if `exc` (or what it wraps) is a backend fault that a retry may not meet again."""
    for link in _chain(exc):
        if isinstance(link, _TRANSIENT_TYPES):
            return True
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return True
        sqlstate = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE):
            return True
    return False
