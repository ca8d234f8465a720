"""A stack whose worker runs the local driver: bundles' commands and runtime instances as real processes.

It has a database of its own (beside the session's), so the session's
simulated workers never see its deployments or runtime instances, and a
data dir of its own (where its runtime instances' folders live).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from tests.auth import admin_token, as_principal
from tests.integration.databases import fresh_database
from tests.integration.helpers import Stub
from tests.stack import Process, Stack
from workers.drivers import local_processes

HOST_ID = "test-host"
SETTINGS = {
    "ROLLOUT_DRIVER": "local",
    "ROLLOUT_HOST_ID": HOST_ID,
    "ROLLOUT_QUEUE_NAME": "rollout:test-local",
    "ROLLOUT_STOP_GRACE_SECONDS": "2",
    # Long enough never to end during a test; a test that needs the window over ends it in the database.
    "ROLLOUT_WARM_SECONDS": "3600",
}


@dataclass
class LocalStack:
    stack: Stack
    address: str
    worker: Process

    @property
    def database_url(self) -> str:
        return self.stack.database_url

    @property
    def runtime_folders(self) -> Path:
        return runtime_folders(self.stack)

    def stub(self, channel: grpc.Channel, org: str) -> Stub:
        return as_principal(channel, admin_token(self.database_url, org))

    def start_worker(self) -> Process:
        self.worker = self.stack.start_worker(**SETTINGS)
        return self.worker



def runtime_folders(stack: Stack) -> Path:
    return stack.workdir / "data" / "local" / "runtime"


def recorded_processes(stack: Stack) -> list[tuple[int, int]]:
    """(pid, start time) of every runtime instance process whose folder is still there."""
    found = []
    for record in runtime_folders(stack).glob("*/process.json"):
        value = json.loads(record.read_text())
        found.append((value["pid"], value["pid_start"]))
    return found


@contextmanager
def local_stack(session_database_url: str, redis_url: str, workdir: Path) -> Iterator[LocalStack]:
    with fresh_database(session_database_url) as url:
        stack = Stack(url, redis_url, workdir)
        stack.migrate()  # the schema, and the installation's marker in the stack's artifact store
        try:
            _, address = stack.start_server(**SETTINGS)
            local = LocalStack(stack, address, stack.start_worker(**SETTINGS))
            yield local
        finally:
            stack.stop_all()
            # Runtime instances outlive workers by design; the suite leaves none behind (the tests check
            # their own; this is the net under a test that failed half-way).
            for pid, started in recorded_processes(stack):
                if local_processes.alive(pid, started):
                    os.killpg(pid, signal.SIGKILL)
