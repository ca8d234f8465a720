"""The local driver's kit for the driver contract: small bundles whose commands record their pids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from server.app import bundles
from server.artifacts import open_store
from server.config import ArtifactSettings
from server.domain.models import Kind, Release
from tests.drivers.contract import Scenario
from tests.unit import factories as make
from tools.bundle import build
from workers.drivers import Step, local_serve
from workers.drivers import local_processes as processes
from workers.drivers.local import LocalDriver

HOST = "contract-host"

# Each process the kit's commands start appends "<pid> <start time>" to the file the params name.
RECORD = """
import json, os, sys

def record(pid):
    stat = open(f"/proc/{pid}/stat").read()
    started = stat[stat.rindex(")") + 2 :].split()[19]
    with open(os.environ.get("PIDS_FILE") or SNAPSHOT["params"]["pids_file"], "a") as out:
        out.write(f"{pid} {started}\\n")

SNAPSHOT = json.load(open(os.environ["ROLLOUT_SNAPSHOT"]))
"""

STEP = RECORD + """
import subprocess, time
record(os.getpid())
mode = sys.argv[1]
if mode == "ok":
    for n in (1, 2, 3):
        print(f"line {n}")
elif mode == "fail":
    print("about to fail")
    print("it broke", file=sys.stderr)
    sys.exit(3)
elif mode == "snapshot":
    print(json.dumps(json.load(sys.stdin), sort_keys=True))
elif mode == "secret":
    import hashlib
    print("sha256 " + hashlib.sha256(os.environ["DB_PASSWORD"].encode()).hexdigest())
    print("the password is " + os.environ["DB_PASSWORD"])
elif mode == "fail-secret":
    print("cannot log in with " + os.environ["DB_PASSWORD"], file=sys.stderr)
    sys.exit(1)
elif mode == "exit-at-once":
    sys.exit(0)
elif mode == "hang":
    child = subprocess.Popen(["sleep", "600"])  # in the step's process group
    record(child.pid)
    print("hanging")
    time.sleep(600)
"""

SERVE = RECORD + """
from http.server import BaseHTTPRequestHandler, HTTPServer
record(os.getpid())
if sys.argv[1] == "exit":
    print("serve gave up: no database", file=sys.stderr)
    sys.exit(2)
STATUS = 200 if sys.argv[1] == "ok" else 500

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(STATUS)
        self.end_headers()
        self.wfile.write(b"ok" if STATUS == 200 else b"not yet")

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def manifest(step: str, serve: str, serve_timeout: float = 30, step_timeout: float = 600) -> bytes:
    return f"""
[provision]
command = ["python3", "step.py", "{step}"]
timeout_seconds = {step_timeout}

[decommission]
command = ["python3", "step.py", "ok"]

[serve]
command = ["python3", "serve.py", "{serve}"]
timeout_seconds = {serve_timeout}

[health]
path = "/health"
interval_seconds = 0.1
timeout_seconds = 2
""".encode()


MANIFESTS = {
    Scenario.SUCCEEDS: manifest("ok", "ok"),
    Scenario.FAILS: manifest("fail", "ok"),
    Scenario.HANGS: manifest("hang", "unhealthy", serve_timeout=600),
    Scenario.UNHEALTHY: manifest("ok", "unhealthy", serve_timeout=5),
}


class LocalKit:
    expected_lines = ["line 1", "line 2", "line 3"]
    observable = True

    def __init__(self, folder: Path, grace_seconds: float = 2.0) -> None:
        self.folder = folder
        self.pids = folder / "pids"
        self.pids.touch()
        self.artifacts = open_store(ArtifactSettings(store=(folder / "artifacts").absolute().as_uri()))
        self.driver = LocalDriver(folder / "data", HOST, grace_seconds)
        self.releases = {scenario: self.publish(text) for scenario, text in MANIFESTS.items()}

    def publish(self, rollout_toml: bytes, extra: Mapping[str, bytes] | None = None, version: str = "1.0.0") -> Release:
        """A release of a bundle with the kit's scripts, as PublishRelease records it (manifest inspected)."""
        content = build({"rollout.toml": rollout_toml, "step.py": STEP.encode(), "serve.py": SERVE.encode(), **(extra or {})}, version)

        async def put() -> Release:
            async def chunks() -> Any:
                yield content

            uri = await self.artifacts.put("acme", f"r-{len(list(self.folder.glob('artifacts/acme/*')))}", chunks())
            return make.release(version, artifact_uri=uri, manifest=await bundles.inspect(self.artifacts, uri))

        return asyncio.run(put())

    def step(
        self,
        scenario: Scenario,
        progress: Callable[[str], Awaitable[None]],
        secrets: Mapping[str, str] | None = None,
        release: Release | None = None,
    ) -> Step:
        deployment = make.deployment(params={"pids_file": str(self.pids)})
        instance = make.instance(kind=Kind.DYNAMIC, replicas=1)
        chosen = release or self.releases[scenario]
        return Step(deployment, instance, chosen, dict(secrets or {}), self.artifacts, progress)

    def recorded(self) -> list[tuple[int, int]]:
        return [(int(p), int(s)) for p, s in (line.split() for line in self.pids.read_text().splitlines())]

    def leftovers(self) -> list[Any]:
        """Processes the kit's commands started that still run, and runtime folders the driver keeps."""
        running: list[Any] = [pid for pid, started in self.recorded() if processes.alive(pid, started)]
        return running + local_serve.inventory(self.driver.root)

    def files(self) -> str:
        """Every file the driver keeps (its runtime folders), as text: to scan for what must not be there."""
        return "\n".join(p.read_text(errors="replace") for p in self.driver.root.rglob("*") if p.is_file())


def snapshot_of(folder: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((folder / "snapshot.json").read_text())
    return value
