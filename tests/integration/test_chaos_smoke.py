"""The fault campaign keeps working: CI runs `python -m chaos --short` and reads its JSON.

Every invariant must hold under the short campaign's faults (worker and
server kills, PostgreSQL and Valkey restarts, a key storm).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.tools import run_tool

pytestmark = pytest.mark.timeout(420)

INVARIANTS = [
    "approved deployments lost",
    "stuck RUNNING or PENDING",
    "failed by a fault",
    "events after a terminal event",
    "stored event sequences with holes",
    "terminal status without its terminal event",
    "active deployment ≠ last completed",
    "route_generation ≠ completed count",
    "duplicated changes",
    "stream gaps",
    "stream events seen twice",
    "audit chain intact",
    "INTERNAL or UNKNOWN answers",
    "`deadlock detected` in logs",
    "process crashes",
]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("chaos") / "chaos.json"
    result = run_tool(["chaos", "--short", "--seed", "1", "--json", str(out)], timeout=360)
    assert result.returncode in (0, 1), result.stderr[-4000:]
    report: dict[str, Any] = json.loads(out.read_text())
    assert (result.returncode == 0) == report["passed"], "the exit code says whether every invariant holds"
    report["stdout"] = result.stdout
    return report


def test_the_campaign_ran_its_faults_under_load_and_printed_the_figures(campaign: dict[str, Any]) -> None:
    faults = Counter(f["kind"] for f in campaign["faults"])
    assert faults["worker-kill"] >= 3
    assert faults["server-kill"] >= 1
    assert faults["postgres-immediate-stop"] + faults["postgres-kill-9"] >= 1
    assert faults["valkey-kill-9"] == 1
    assert faults["key-storm"] == 1
    figures = campaign["figures"]
    assert figures["calls"] > 100 and figures["approved"] > 10 and figures["watches"] > 0
    assert 0 < figures["approved_terminal"] <= figures["approved"]
    assert figures["storm"]["rollbacks"] > 1 and figures["storm"]["approvals"] > 1
    assert set(INVARIANTS) == set(campaign["invariants"])
    for name in campaign["invariants"]:
        assert name in campaign["stdout"]
    assert "client codes by method" in campaign["stdout"]


@pytest.mark.parametrize("name", INVARIANTS)
def test_invariant_holds(campaign: dict[str, Any], name: str) -> None:
    invariant = campaign["invariants"][name]
    assert invariant["ok"], (name, invariant, campaign["evidence"])
