"""Running the repo's own tools (bench, chaos) from a test, bounded, leaving nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_tool(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m <args>`; past `timeout` it gets SIGTERM (tools stop what they started on it), then SIGKILL."""
    process = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise AssertionError(f"`python -m {' '.join(args)}` did not finish within {timeout:.0f}s") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
