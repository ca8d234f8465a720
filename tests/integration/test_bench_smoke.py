"""The benchmark keeps working: CI runs it in smoke mode (timings are printed, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tools import run_tool


@pytest.mark.timeout(480)
def test_bench_smoke_mode_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = run_tool(["bench", "--smoke", "--out", str(out)], timeout=360)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "× floor (p50)" in result.stdout
    report = json.loads(out.read_text())
    names = {r["name"] for r in report["results"]}
    assert {"(a) RollbackDeployment", "(b) rollback → approve → COMPLETED (full flow)", "(c) idempotent replay"} <= names
    compared = [r for r in report["results"] if not r["name"].startswith("floor")]
    assert all(r["ratio_p50"] and r["ratio_p50"] > 0 for r in compared)
    assert report["server_kib_per_1000_streams"] > 0
