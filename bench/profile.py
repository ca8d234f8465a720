"""`--profile DIR`: flame graphs (py-spy) of one rollout server and one worker while a row is measured."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.harness import Harness


@contextlib.contextmanager
def profiled(harness: Harness, out: Path | None, name: str) -> Iterator[None]:
    """Samples the first server and the first worker for the block; writes `<out>/<name>-server.svg` and
    `-worker.svg`. Nothing when `out` is None. py-spy samples from outside the process (no code changes),
    100 times a second, without pausing it (--nonblocking)."""
    if out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).parent / "py-spy"
    recorders = [
        subprocess.Popen(
            [str(py_spy), "record", "--nonblocking", "--rate", "100", "--format", "flamegraph",
             "--output", str(out / f"{name}-{role}.svg"), "--pid", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for role, pid in (("server", harness.server_pids[0]), ("worker", harness.worker_pids[0]))
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes the graph when interrupted
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
