"""The invariants, checked after the load and the faults stopped and approved work had time to end.

PostgreSQL is read directly (the truth the API answers from); the audit
chain through VerifyAuditChain; the clients' side from the campaign's ledger.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from chaos.calls import Caller, Codes
from chaos.faults import Storm
from chaos.load import Ledger
from rollout.v1 import rollout_service_pb2 as api

TERMINAL = ("COMPLETED", "FAILED", "REJECTED")
DEADLOCK = "deadlock detected"
# Once per deadlock: PostgreSQL's error line, and the traceback of the process whose transaction lost.
DEADLOCK_LINE = {"postgres": re.compile(r"ERROR:\s+deadlock detected"),
                 "process": re.compile(r"^asyncpg\.exceptions\.DeadlockDetectedError", re.MULTILINE)}
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{8,}\b|\d+")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit)\b)[:]?", re.MULTILINE)


@dataclass
class Invariant:
    name: str
    value: Any
    ok: bool
    want: str = "0"


@dataclass
class Result:
    figures: dict[str, Any] = field(default_factory=dict)
    invariants: list[Invariant] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, value: Any, ok: bool, want: str = "0") -> None:
        self.invariants.append(Invariant(name, value, ok, want))

    @property
    def passed(self) -> bool:
        return all(i.ok for i in self.invariants)


def injected(action: str, kind: str, simulate: Any, error: str) -> bool:
    """Whether a FAILED deployment failed the way its params asked it to (`rollout.simulate.fail`)."""
    fail = simulate.get("fail") if isinstance(simulate, dict) else None
    if fail == "provision" and action == "PROVISION":
        return error == "simulated provision failure"
    if fail == "decommission" and action == "DECOMMISSION":
        return error == "simulated decommission failure"
    if fail == "health" and action == "PROVISION" and kind == "DYNAMIC":
        return error.startswith("runtime instance") and error.endswith("simulated health failure")
    return False


def shape(error: str) -> str:
    """An error message with its ids and numbers blanked, to group failures by cause."""
    return _IDS.sub("…", error)[:160]


async def check(dsn: str, organizations: list[str], ledger: Ledger, storm: Storm, codes: Codes,
                verifiers: dict[str, Caller], logs: dict[str, list[Path]], crashes: list[dict[str, Any]],
                interrupted: list[str]) -> Result:
    result = Result()
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        deployments = {r["id"]: r for r in await conn.fetch(
            """SELECT d.id::text, d.instance_id::text, d.action, d.status, d.error, d.params->'rollout.simulate' AS simulate,
                      d.rollback_of_id::text, i.kind
               FROM deployments d JOIN instances i ON i.id = d.instance_id
               WHERE d.organization_id = ANY($1::text[])""", organizations)}
        _outcomes(result, deployments, ledger, interrupted)
        await _events(result, conn, organizations, deployments)
        await _active(result, conn, organizations)
        await _duplicates(result, conn, organizations, ledger, storm)
    finally:
        await conn.close()
    _streams(result, ledger)
    await _audit_chain(result, verifiers)
    _codes(result, codes)
    _logs(result, logs)
    result.figures["crashes"] = len(crashes)
    result.check("process crashes", len(crashes), not crashes)
    if crashes:
        result.evidence["crashes"] = crashes
    return result


def _outcomes(result: Result, deployments: dict[str, Any], ledger: Ledger, interrupted: list[str]) -> None:
    by_status = Counter(r["status"] for r in deployments.values())
    approved = ledger.approved
    lost = [d for d in approved if d not in deployments or deployments[d]["status"] in ("PROPOSED", "REJECTED")]
    terminal = [d for d in approved if d in deployments and deployments[d]["status"] in TERMINAL]
    stuck = [d for d, r in deployments.items() if r["status"] in ("PENDING", "RUNNING")]
    failed = [r for r in deployments.values() if r["status"] == "FAILED"]
    expected = [r for r in failed if injected(r["action"], r["kind"], _json(r["simulate"]), r["error"])]
    by_fault = [r for r in failed if not injected(r["action"], r["kind"], _json(r["simulate"]), r["error"])]
    causes: dict[str, list[str]] = defaultdict(list)
    for r in by_fault:
        causes[shape(r["error"])].append(r["id"])
    result.figures.update(
        deployments=len(deployments), by_status=dict(sorted(by_status.items())), approved=len(approved),
        approved_terminal=len(terminal), lost=len(lost), stuck=len(stuck), failed=len(failed),
        failed_as_injected=len(expected), failed_by_fault=len(by_fault),
        failed_by_fault_causes={cause: len(ids) for cause, ids in sorted(causes.items(), key=lambda c: -len(c[1]))},
    )
    # Failed by a fault although no killed worker was running them when it was killed.
    elsewhere = [r["id"] for r in by_fault if r["id"] not in set(interrupted)]
    result.figures["failed_by_fault_not_on_a_killed_worker"] = len(elsewhere)
    result.check("approved deployments lost", len(lost), not lost)
    result.check("stuck RUNNING or PENDING", len(stuck), not stuck)
    result.check("failed by a fault", len(by_fault), not by_fault)
    # An approval answered with an error: what became of the deployment (a client that does not retry
    # INTERNAL leaves it PROPOSED).
    unanswered = {d: f"{code} → {deployments[d]['status'] if d in deployments else 'missing'}"
                  for d, code in ledger.not_approved.items() if code != "OK"}
    result.figures["approvals_answered_with_an_error"] = dict(Counter(unanswered.values()))
    result.evidence.update(
        approvals_answered_with_an_error=dict(list(unanswered.items())[:20]),
        lost=lost[:20], stuck=[(d, deployments[d]["status"]) for d in stuck[:20]],
        failed_by_fault={cause: ids[:50] for cause, ids in causes.items()},
        failed_by_fault_not_on_a_killed_worker=elsewhere[:50],
        interrupted_by_worker_kills={
            d: f"{deployments[d]['status']} {deployments[d]['error']}".strip() for d in interrupted if d in deployments
        },
    )


async def _events(result: Result, conn: asyncpg.Connection, organizations: list[str], deployments: dict[str, Any]) -> None:
    rows = await conn.fetch(
        """
        WITH terminal AS (
            SELECT deployment_id, min(sequence) AS sequence FROM deployment_events
            WHERE organization_id = ANY($1::text[]) AND type = ANY($2::text[]) GROUP BY deployment_id)
        SELECT e.deployment_id::text, t.sequence AS terminal, e.sequence, e.type, e.status, e.message
        FROM deployment_events e JOIN terminal t USING (deployment_id)
        WHERE e.sequence > t.sequence ORDER BY e.deployment_id, e.sequence
        """, organizations, list(TERMINAL))
    result.figures["events_after_terminal"] = len(rows)
    result.figures["deployments_with_events_after_terminal"] = len({r["deployment_id"] for r in rows})
    result.check("events after a terminal event", len(rows), not rows)
    result.evidence["events_after_terminal"] = [
        f"{r['deployment_id']} terminal #{r['terminal']}, then #{r['sequence']} {r['type']} {r['status']}: {r['message'][:120]}"
        for r in rows[:10]
    ]
    # Each deployment's stored sequences are 1..n, and a terminal status has its terminal event.
    summary = {r["deployment_id"]: r for r in await conn.fetch(
        """SELECT deployment_id::text, count(*) AS n, max(sequence) AS last,
                  (array_agg(type ORDER BY sequence) FILTER (WHERE type = ANY($2::text[])))[1] AS terminal_type
           FROM deployment_events WHERE organization_id = ANY($1::text[]) GROUP BY deployment_id""",
        organizations, list(TERMINAL))}
    holes = [d for d, r in summary.items() if r["n"] != r["last"]]
    mismatched = [
        d for d, r in deployments.items()
        if r["status"] in TERMINAL and (d not in summary or summary[d]["terminal_type"] != r["status"])
    ]
    result.figures["stored_sequence_holes"] = len(holes)
    result.figures["terminal_status_without_its_event"] = len(mismatched)
    result.check("stored event sequences with holes", len(holes), not holes)
    result.check("terminal status without its terminal event", len(mismatched), not mismatched)
    if holes or mismatched:
        result.evidence["sequence_holes"] = holes[:10]
        result.evidence["status_event_mismatch"] = mismatched[:10]


async def _active(result: Result, conn: asyncpg.Connection, organizations: list[str]) -> None:
    """active_deployment_id is the last COMPLETED deployment (by the order of their COMPLETED events): a
    PROVISION makes itself active, a DECOMMISSION clears it; route_generation counts COMPLETED deployments."""
    instances = await conn.fetch(
        "SELECT id::text, active_deployment_id::text AS active, route_generation FROM instances"
        " WHERE organization_id = ANY($1::text[])", organizations)
    completed: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT d.instance_id::text, d.id::text, d.action, e.instance_sequence
           FROM deployments d JOIN deployment_events e ON e.deployment_id = d.id AND e.type = 'COMPLETED'
           WHERE d.organization_id = ANY($1::text[]) AND d.status = 'COMPLETED'""", organizations):
        completed[r["instance_id"]].append((r["instance_sequence"], r["id"], r["action"]))
    wrong_active, wrong_generation = [], []
    for instance in instances:
        done = sorted(completed[instance["id"]])
        expected = done[-1][1] if done and done[-1][2] == "PROVISION" else None
        if instance["active"] != expected:
            wrong_active.append(f"{instance['id']}: active {instance['active']}, last completed {expected}")
        if instance["route_generation"] != len(done):
            wrong_generation.append(f"{instance['id']}: route_generation {instance['route_generation']}, {len(done)} completed")
    result.figures.update(instances=len(instances), active_mismatches=len(wrong_active),
                          route_generation_mismatches=len(wrong_generation))
    result.check("active deployment ≠ last completed", len(wrong_active), not wrong_active)
    result.check("route_generation ≠ completed count", len(wrong_generation), not wrong_generation)
    if wrong_active or wrong_generation:
        result.evidence["active"] = wrong_active[:10] + wrong_generation[:10]


async def _duplicates(result: Result, conn: asyncpg.Connection, organizations: list[str], ledger: Ledger,
                      storm: Storm) -> None:
    # Client side: a key answered with two different deployments.
    two = {f"{org}/{key}": sorted(ids) for (org, key), ids in ledger.by_key.items() if len(ids) > 1}
    # Database side: one key, more than one change ("ok" audit records; replays write none).
    twice = [
        f"{r['organization_id']}/{r['request_id']}: {r['n']}× {r['actions']}" for r in await conn.fetch(
            """SELECT organization_id, request_id, count(*) AS n, string_agg(DISTINCT action, ',') AS actions
               FROM audit_events WHERE organization_id = ANY($1::text[]) AND outcome = 'ok' AND request_id <> ''
               GROUP BY organization_id, request_id HAVING count(*) > 1""", organizations)
    ]
    storm_deployments = storm_approvals = storm_approved_events = -1
    if storm.ran:
        storm_deployments = await conn.fetchval(
            "SELECT count(*) FROM deployments WHERE rollback_of_id = $1::uuid", storm.source)
        if len(storm.rollback_ids) == 1:
            target = storm.rollback_ids[0]
            storm_approvals = await conn.fetchval(
                "SELECT count(*) FROM audit_events WHERE action = 'deployment.approve' AND outcome = 'ok'"
                " AND resource = $1", f"deployments/{target}")
            storm_approved_events = await conn.fetchval(
                "SELECT count(*) FROM deployment_events WHERE deployment_id = $1::uuid AND type = 'APPROVED'", target)
    storm_ok = storm.ran and storm_deployments == 1 and len(storm.rollback_ids) == 1 and storm_approvals == 1 \
        and storm_approved_events == 1
    result.figures["storm"] = {
        "rollbacks": storm.rollbacks, "rollback_codes": storm.rollback_codes,
        "distinct_deployments_answered": len(storm.rollback_ids), "deployments_made": storm_deployments,
        "replayed": storm.rollback_replayed, "approvals": storm.approvals, "approve_codes": storm.approve_codes,
        "approvals_recorded": storm_approvals, "approved_events": storm_approved_events,
        "approve_replayed": storm.approve_replayed,
    }
    duplicated = len(two) + len(twice) + (0 if storm_ok else 1)
    result.figures.update(duplicated=duplicated, keys_with_two_deployments=len(two), keys_with_two_changes=len(twice),
                          keys_used=len(ledger.by_key))
    result.check("duplicated changes", duplicated, duplicated == 0)
    if duplicated:
        result.evidence["duplicates"] = {"client": dict(list(two.items())[:10]), "audit": twice[:10]}


def _streams(result: Result, ledger: Ledger) -> None:
    watches = ledger.watches
    gaps = [w for w in watches if w.gaps]
    repeats = [w for w in watches if w.repeats]
    ended = Counter(w.ended for w in watches)
    result.figures.update(
        watches=len(watches), watch_events=sum(w.events for w in watches), watch_resumes=sum(w.resumes for w in watches),
        watches_ended=dict(sorted(ended.items())), stream_gaps=sum(len(w.gaps) for w in watches),
        stream_repeats=sum(len(w.repeats) for w in watches),
    )
    result.check("stream gaps", result.figures["stream_gaps"], not gaps)
    result.check("stream events seen twice", result.figures["stream_repeats"], not repeats)
    if gaps or repeats:
        result.evidence["streams"] = [w.as_dict() for w in (gaps + repeats)[:10]]


async def _audit_chain(result: Result, verifiers: dict[str, Caller]) -> None:
    chains = {}
    for org, caller in verifiers.items():
        answer = await caller.call("VerifyAuditChain", api.VerifyAuditChainRequest(organization_id=org))
        if answer.ok:
            chains[org] = {"intact": answer.response.intact, "checked": answer.response.checked,
                           "first_broken_id": answer.response.first_broken_id, "detail": answer.response.detail}
        else:
            chains[org] = {"intact": False, "error": f"{answer.code.name}: {answer.details}"}
    intact = all(c["intact"] for c in chains.values())
    result.figures["audit_chain"] = chains
    result.check("audit chain intact", "yes" if intact else "NO", intact, want="yes")


def _codes(result: Result, codes: Codes) -> None:
    result.figures.update(calls=codes.calls(), codes=codes.as_dict(), retried_attempts=dict(codes.retried),
                          internal_or_unknown=codes.bad(), internal_or_unknown_during=dict(codes.bad_during))
    result.check("INTERNAL or UNKNOWN answers", codes.bad(), codes.bad() == 0)
    if codes.bad_samples:
        result.evidence["internal_or_unknown"] = codes.bad_samples[:30]


def _logs(result: Result, logs: dict[str, list[Path]]) -> None:
    deadlocks: dict[str, int] = {}
    exceptions: dict[str, dict[str, int]] = {}
    context: list[str] = []
    for kind, paths in logs.items():
        deadlocks[kind] = 0
        seen: Counter[str] = Counter()
        for path in paths:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            deadlocks[kind] += len(DEADLOCK_LINE["postgres" if kind == "postgres" else "process"].findall(text))
            if kind == "postgres" and DEADLOCK in text:
                lines = text.splitlines()
                for i, line in enumerate(lines):
                    if DEADLOCK in line and len(context) < 24:
                        context += [x[:300] for x in lines[i:i + 6]]
            if kind != "postgres":
                seen.update(m.group(1) for m in _EXCEPTION.finditer(text))
        if seen:
            exceptions[kind] = dict(seen.most_common(12))
    total = sum(deadlocks.values())
    result.figures.update(deadlocks=deadlocks, log_exceptions=exceptions)
    result.check("`deadlock detected` in logs", total, total == 0)
    if context:
        result.evidence["deadlocks"] = context


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
