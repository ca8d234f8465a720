"""The audit hash chain, without a database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from server.domain.audit import AuditRecord, canonical, chain_hash, verify


def chain(n: int) -> list[AuditRecord]:
    records, prev = [], ""
    for sequence in range(1, n + 1):
        record = AuditRecord(
            id=f"id-{sequence}", organization_id="acme", sequence=sequence,
            create_time=datetime(2026, 1, 1, 0, 0, sequence, 123456, tzinfo=UTC), actor="alice", actor_kind="user",
            action="deployment.rollback", resource=f"deployments/{sequence}", previous_deployment_id=None,
            new_deployment_id=None, previous_release_id=None, new_release_id=None, request_id="", attribution="",
            outcome="ok", prev_hash=prev, hash="",
        )
        record = dataclasses.replace(record, hash=chain_hash(prev, sequence, canonical(record)))
        records.append(record)
        prev = record.hash
    return records


def test_an_intact_chain_verifies() -> None:
    assert verify(chain(5)).first_broken_id is None
    assert verify(chain(5)).checked == 5


def test_an_edited_row_is_named() -> None:
    records = chain(5)
    records[2] = dataclasses.replace(records[2], actor="mallory")
    check = verify(records)
    assert (check.first_broken_id, check.checked) == ("id-3", 2)
    assert "edited" in check.detail


def test_a_deleted_row_is_a_gap() -> None:
    records = chain(5)
    del records[1]
    check = verify(records)
    assert check.first_broken_id == "id-3" and "missing" in check.detail


def test_a_rehashed_row_breaks_the_next_link() -> None:
    records = chain(4)
    edited = dataclasses.replace(records[1], actor="mallory")
    records[1] = dataclasses.replace(edited, hash=chain_hash(edited.prev_hash, 2, canonical(edited)))
    assert verify(records).first_broken_id == "id-3"


def test_the_time_is_hashed_in_utc_with_microseconds() -> None:
    record = chain(1)[0]
    assert '"create_time":"2026-01-01T00:00:01.123456+00:00"' in canonical(record)
