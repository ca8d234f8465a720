"""How every mutating RPC runs: idempotency key, the change, its audit record — one transaction (docs/product.md §5, §6).

- The key row is inserted first. A concurrent request with the same key
  blocks on that insert until the first commits, then replays its stored
  response: N concurrent repeats make exactly one change.
- The same key with a different request (another fingerprint) is refused
  with ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED; nothing runs.
- A deterministic error (NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
  PERMISSION_DENIED raised by a rule such as separation of duties) is
  stored for the key and replayed; a transient one (database or Redis down)
  rolls everything back, so the key is not burnt and the client may retry.
- Every attempt is audited: a change with outcome `ok` in its own
  transaction, a refused attempt with its reason. The use case is handed
  the `ok` record (`Caller.audit`); one that writes it with its own last
  statement saves the runner's separate insert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from server.app.context import Caller, Services
from server.domain.audit import ActiveMove, AuditEntry, PendingAudit
from server.domain.errors import AlreadyExists, RolloutError, Unavailable
from server.store import audit as audit_store
from server.store import idempotency as keys

T = TypeVar("T")

KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
MAX_REASON = 512


@dataclass
class Change(Generic[T]):
    """What a mutation did: its result, how it moved the active deployment, and work for after the commit."""

    result: T
    # For a change that aims to move the instance's active deployment: from what to what (audited).
    moves: ActiveMove | None = None
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # What a replay returns, when it must differ from the first response (a secret shown once).
    replay_result: T | None = None


@dataclass(frozen=True)
class Request(Generic[T]):
    """The mutating call, as the runner needs it: what it is, and how its audit record reads."""

    method: str
    fingerprint: str
    action: str
    # The audited resource, given the result (None for a refused attempt, which has none).
    resource: Callable[[T | None], str]
    # The reason the caller gave, if the call takes one.
    reason: str = ""

    def entry(self, result: T | None, moves: ActiveMove | None = None) -> AuditEntry:
        return AuditEntry.of(self.action, self.resource(result), moves, self.reason[:MAX_REASON])


@dataclass(frozen=True)
class Done(Generic[T]):
    response: bytes
    replayed: bool


async def execute(
    svc: Services,
    caller: Caller,
    request: Request[T],
    mutation: Callable[[AsyncConnection, Caller], Awaitable[Change[T]]],
    encode: Callable[[T], bytes],
) -> Done[T]:
    """Runs `mutation` (given the connection of the transaction and the caller, with its audit record) once per key."""
    key = caller.request_id
    change: Change[T] | None = None
    stored: keys.StoredKey | None = None
    try:
        async with svc.engine.begin() as conn:
            if key and not await keys.claim(
                conn, caller.organization_id, key, request.method, request.fingerprint, svc.key_retention_seconds
            ):
                stored = await keys.get(conn, caller.organization_id, key)
            else:
                pending = PendingAudit(
                    caller.organization_id, caller.principal_id, caller.principal_kind, key, caller.attribution, request.entry
                )
                change = await mutation(conn, dataclasses.replace(caller, audit=pending))
                response = encode(change.result)
                if not pending.taken:
                    await _audit(conn, caller, request.entry(change.result, change.moves), "ok")
                if key:
                    replay = response if change.replay_result is None else encode(change.replay_result)
                    await keys.store_response(conn, caller.organization_id, key, replay)
    except RolloutError as exc:
        if not exc.replayed:
            raise  # e.g. INVALID_ARGUMENT found while running: nothing happened, the key stays free
        theirs: Done[T] | None = await _refused(svc, caller, request, exc)
        if theirs is None:
            raise
        return theirs
    if change is not None:
        for effect in change.after_commit:
            await effect()
        return Done(response, replayed=False)
    return _replay(request, stored)


async def has_outcome(svc: Services, caller: Caller) -> bool:
    """Whether the caller's idempotency key already has a committed outcome: then `execute` replays it, and work
    done before the transaction (reading a referenced artifact) is not done again, nor refused anew (the object
    may be gone since)."""
    if not caller.request_id:
        return False
    async with svc.engine.connect() as conn:
        return await keys.get(conn, caller.organization_id, caller.request_id) is not None


def _replay(request: Request[T], stored: keys.StoredKey | None) -> Done[T]:
    if stored is None:  # purged between the conflict and the read: vanishingly rare
        raise Unavailable("the idempotency key expired while this request waited; retry")
    if stored.fingerprint != request.fingerprint or stored.method != request.method:
        raise AlreadyExists(
            "this idempotency key was used for a different request; use a new key", KEY_REUSED
        )
    if stored.error is not None:
        code, reason, message, metadata = stored.error
        raise RolloutError.by_code[code](message, reason, **metadata)
    assert stored.response is not None
    return Done(stored.response, replayed=True)


async def _refused(
    svc: Services, caller: Caller, request: Request[T], exc: RolloutError
) -> Done[T] | None:
    """Store the deterministic error for the key (if it is still free) and audit the refused attempt.

    Returns the stored outcome instead if another request with the key finished in the meantime.
    """
    async with svc.engine.begin() as conn:
        if caller.request_id:
            claimed = await keys.claim(
                conn,
                caller.organization_id,
                caller.request_id,
                request.method,
                request.fingerprint,
                svc.key_retention_seconds,
                error=(exc.code, exc.reason, exc.message, exc.metadata),
            )
            if not claimed:
                # Someone else finished first; their stored outcome is what the client gets.
                return _replay(request, await keys.get(conn, caller.organization_id, caller.request_id))
        await _audit(conn, caller, request.entry(None), exc.reason)
    return None


async def _audit(conn: AsyncConnection, caller: Caller, entry: AuditEntry, outcome: str) -> None:
    await audit_store.append(
        conn,
        caller.organization_id,
        entry,
        caller.principal_id,
        caller.principal_kind,
        caller.request_id,
        caller.attribution,
        outcome,
    )
