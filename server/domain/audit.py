"""Audit records and their tamper-evident chain (docs/product.md §6).

Each record's hash covers its own fields and the previous record's hash in
the same organization, so editing or deleting any stored row breaks every
link after it. The canonical form is fixed here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ActiveMove:
    """A change that moves (or aims to move) an instance's active deployment: from what to what."""

    previous_deployment_id: str | None
    new_deployment_id: str | None
    previous_release_id: str | None
    new_release_id: str | None


@dataclass(frozen=True)
class AuditEntry:
    """What a mutation says about itself; the caller's identity is added by the runner."""

    action: str
    resource: str
    previous_deployment_id: str | None = None
    new_deployment_id: str | None = None
    previous_release_id: str | None = None
    new_release_id: str | None = None
    # The reason the caller gave (a rollback's or a rejection's), if any.
    reason: str = ""

    @classmethod
    def of(cls, action: str, resource: str, moves: ActiveMove | None = None, reason: str = "") -> AuditEntry:
        if moves is None:
            return cls(action, resource, reason=reason)
        return cls(
            action,
            resource,
            moves.previous_deployment_id,
            moves.new_deployment_id,
            moves.previous_release_id,
            moves.new_release_id,
            reason,
        )


@dataclass(frozen=True)
class AuditRecord:
    id: str
    organization_id: str
    sequence: int
    create_time: datetime
    actor: str
    actor_kind: str
    action: str
    resource: str
    previous_deployment_id: str | None
    new_deployment_id: str | None
    previous_release_id: str | None
    new_release_id: str | None
    request_id: str
    attribution: str
    outcome: str
    prev_hash: str
    hash: str
    reason: str = ""


def new_record(
    organization_id: str, entry: AuditEntry, actor: str, actor_kind: str, request_id: str, attribution: str, outcome: str
) -> AuditRecord:
    """A record as it is appended: unchained (no sequence, no hashes) until the database seals it at commit."""
    return AuditRecord(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        sequence=0,
        create_time=datetime.now(UTC),
        actor=actor,
        actor_kind=actor_kind,
        action=entry.action,
        resource=entry.resource,
        previous_deployment_id=entry.previous_deployment_id,
        new_deployment_id=entry.new_deployment_id,
        previous_release_id=entry.previous_release_id,
        new_release_id=entry.new_release_id,
        request_id=request_id,
        attribution=attribution,
        outcome=outcome,
        prev_hash="",
        hash="",
        reason=entry.reason,
    )


@dataclass(frozen=True)
class Created:
    """A resource a change is about to create, by its id: the result an audit record written in the same
    statement as the new row names (`PendingAudit.take`)."""

    id: str


@dataclass
class PendingAudit:
    """The `ok` record of a mutation whose caller is known and whose change is not yet: the runner
    (server/app/mutation.py) appends it after the change in a statement of its own, unless the use case
    took it to write in its own last statement (one round trip less)."""

    organization_id: str
    actor: str
    actor_kind: str
    request_id: str
    attribution: str
    # What the mutation says about itself, given its result (or a `Created` one) and how it moves the active one.
    entry: Callable[[Any, ActiveMove | None], AuditEntry]
    taken: bool = False

    def take(self, result: Any, moves: ActiveMove | None = None) -> AuditRecord:
        self.taken = True
        return new_record(
            self.organization_id, self.entry(result, moves), self.actor, self.actor_kind, self.request_id,
            self.attribution, "ok",
        )


def canonical(record: AuditRecord) -> str:
    """The record's fields but its sequence and hashes, in a fixed order and format (the `body`)."""
    fields = {
        "id": record.id,
        "organization_id": record.organization_id,
        "create_time": record.create_time.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": record.actor,
        "actor_kind": record.actor_kind,
        "action": record.action,
        "resource": record.resource,
        "previous_deployment_id": record.previous_deployment_id,
        "new_deployment_id": record.new_deployment_id,
        "previous_release_id": record.previous_release_id,
        "new_release_id": record.new_release_id,
        "request_id": record.request_id,
        "attribution": record.attribution,
        "outcome": record.outcome,
        "reason": record.reason,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


SEPARATOR = "\x1f"


def chain_hash(prev_hash: str, sequence: int, body: str) -> str:
    """sha256(prev_hash ‖ U+001F ‖ sequence ‖ U+001F ‖ body); the database computes the same on append."""
    return hashlib.sha256(f"{prev_hash}{SEPARATOR}{sequence}{SEPARATOR}{body}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    first_broken_id: str | None
    detail: str


def verify(records: list[AuditRecord], prev_hash: str = "", expected_sequence: int = 1) -> ChainCheck:
    """Walks records in sequence order; reports the first one whose link does not hold."""
    for index, record in enumerate(records):
        if record.sequence != expected_sequence + index:
            return ChainCheck(index, record.id, f"sequence {record.sequence} where {expected_sequence + index} was expected (a row is missing)")
        if record.prev_hash != prev_hash:
            return ChainCheck(index, record.id, "its prev_hash does not match the previous record's hash")
        if chain_hash(prev_hash, record.sequence, canonical(record)) != record.hash:
            return ChainCheck(index, record.id, "its contents do not match its hash (the row was edited)")
        prev_hash = record.hash
    return ChainCheck(len(records), None, "")
