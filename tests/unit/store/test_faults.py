"""Which exceptions are backend faults (UNAVAILABLE, hand the run over) and which are bugs."""

from __future__ import annotations

import asyncpg
import obstore.exceptions
import pytest
import redis.exceptions
import sqlalchemy.exc

from server.store.faults import is_transient


def _wrapped(orig: BaseException) -> sqlalchemy.exc.DBAPIError:
    """What SQLAlchemy raises for an asyncpg error: a DBAPIError whose `orig` chain leads to it."""
    adapted = Exception("adapted")
    adapted.__cause__ = orig
    return sqlalchemy.exc.DBAPIError("SELECT 1", None, adapted)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is not yet accepting connections")),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")),
        _wrapped(asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")),
        _wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
        _wrapped(asyncpg.InterfaceError("cannot perform operation: another operation is in progress")),
        _wrapped(ConnectionRefusedError(111, "Connect call failed")),
        sqlalchemy.exc.OperationalError("SELECT 1", None, Exception("gone")),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        redis.exceptions.ConnectionError("Error 111 connecting"),
        redis.exceptions.BusyLoadingError("LOADING"),
        ConnectionResetError(),
        TimeoutError(),
        # The artifact store: unreachable, timed out or 5xx after obstore's retries; credentials refused.
        obstore.exceptions.GenericError("error sending request for url (http://127.0.0.1:9/bucket/key)"),
        obstore.exceptions.PermissionDeniedError("403 Forbidden"),
        obstore.exceptions.UnauthenticatedError("401 Unauthorized"),
    ],
)
def test_backend_faults_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        _wrapped(asyncpg.exceptions.UndefinedColumnError("column does not exist")),
        _wrapped(asyncpg.exceptions.DataError("date value out of range")),
        redis.exceptions.ResponseError("WRONGTYPE"),
        ValueError("a bug"),
        KeyError("a bug"),
        obstore.exceptions.InvalidPathError("a key with an empty segment"),
    ],
)
def test_bugs_and_bad_statements_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_cycle_in_the_chain_ends() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert not is_transient(a)
