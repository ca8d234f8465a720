"""The campaign's figures as a table on stdout, and as JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from chaos.checks import Result

_CODE_ORDER = ("OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN")


def table(run: dict[str, Any], result: Result) -> str:
    f = result.figures
    faults = Counter(x["kind"] for x in run["faults"])
    mid_job = sum(1 for x in run["faults"] if x.get("mid_job"))
    lines = [
        f"rollout chaos campaign: seed {run['seed']}, {run['load_seconds']:.0f}s of load, {run['clients']} clients, "
        f"{run['servers']} servers, {run['workers']} workers; figures {run['seconds']:.0f}s after the start",
        "faults: " + ", ".join(f"{kind} ×{n}" for kind, n in sorted(faults.items()))
        + f" ({mid_job} worker kills caught a deployment RUNNING)",
        f"calls: {f['calls']:,}; retried attempts: {_pairs(f['retried_attempts']) or 'none'}; "
        f"drained in {run['drain_seconds']:.1f}s",
        f"deployments: {f['deployments']:,} ({_pairs(f['by_status'])}); approved {f['approved']:,}, "
        f"terminal {f['approved_terminal']:,}; failed as injected {f['failed_as_injected']:,}",
        f"streams: {f['watches']:,} watches, {f['watch_events']:,} events, {f['watch_resumes']:,} resumes "
        f"({_pairs(f['watches_ended'])})",
        "",
        f"{'invariant':<46} {'value':>8} {'want':>6}  ",
        f"{'-' * 46} {'-' * 8} {'-' * 6}  ----",
    ]
    for inv in result.invariants:
        lines.append(f"{inv.name:<46} {str(inv.value):>8} {inv.want:>6}  {'ok' if inv.ok else 'FAIL'}")
    if f["failed_by_fault_causes"]:
        lines += ["", "failed by a fault, by cause:"]
        lines += [f"  {n:>6}  {cause}" for cause, n in f["failed_by_fault_causes"].items()]
    storm = f["storm"]
    lines += [
        "",
        f"key storm: {storm['rollbacks']} identical RollbackDeployment → {storm['deployments_made']} deployment "
        f"({storm['replayed']} replayed; {_pairs(storm['rollback_codes'])}); {storm['approvals']} identical "
        f"ApproveDeployment → {storm['approvals_recorded']} approval ({_pairs(storm['approve_codes'])})",
        "audit chain: " + "; ".join(
            f"{org} {'intact' if c['intact'] else 'BROKEN'} over {c.get('checked', 0):,} records"
            for org, c in f["audit_chain"].items()),
        "deadlock detected: " + _pairs(f["deadlocks"]),
        "INTERNAL/UNKNOWN answers, by fault under way: " + (_pairs(f["internal_or_unknown_during"]) or "none"),
        "approvals answered with an error: " + (_pairs(f["approvals_answered_with_an_error"]) or "none"),
        "deployments RUNNING on a killed worker: " + (_pairs(_outcomes(result.evidence)) or "none"),
        "",
        _codes_table(f["codes"]),
        "",
        "PASSED: every invariant holds" if result.passed else
        "FAILED: " + ", ".join(i.name for i in result.invariants if not i.ok),
    ]
    return "\n".join(lines)


def _outcomes(evidence: dict[str, Any]) -> dict[str, int]:
    """How the deployments a killed worker was running ended, by outcome."""
    ended = Counter(outcome for outcome in evidence.get("interrupted_by_worker_kills", {}).values())
    return dict(ended.most_common())


def _codes_table(codes: dict[str, dict[str, int]]) -> str:
    others = sorted({c for per in codes.values() for c in per} - set(_CODE_ORDER))
    columns = [c for c in _CODE_ORDER if any(c in per for per in codes.values())] + others
    width = max([len("method"), *map(len, codes)])
    head = f"{'client codes by method':<{width}} " + " ".join(f"{c[:11]:>11}" for c in columns)
    rows = [f"{method:<{width}} " + " ".join(f"{per.get(c, 0) or '':>11}" for c in columns)
            for method, per in codes.items()]
    return "\n".join([head, *rows])


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())


def write(path: Path, run: dict[str, Any], result: Result) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        **run,
        "passed": result.passed,
        "violations": [i.name for i in result.invariants if not i.ok],
        "invariants": {i.name: {"value": i.value, "ok": i.ok, "want": i.want} for i in result.invariants},
        "figures": result.figures,
        "evidence": result.evidence,
    }
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
