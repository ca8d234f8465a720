"""The local driver runs a bundle's commands as real processes (docs/drivers.md): output, failures, timeouts, secrets."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tests.integration.helpers import (
    Stub,
    approve,
    create_instance,
    decommission,
    deploy,
    events,
    get,
    instance_of,
    propose,
    publish,
    set_params,
    sql,
    sql_script,
    sql_value,
    wait_until,
)
from tests.integration.local_stack import LocalStack
from tools.bundle import build
from workers.drivers import local_processes

E = pb.DeploymentEvent
S = pb.Deployment

# One script, several behaviours (the manifest says which): what the tests need a command to do.
STEP = """
import hashlib, json, os, subprocess, sys, time
snapshot = json.load(sys.stdin)
mode = sys.argv[1]
if mode == "count":
    for n in range(1, 31):
        print(f"step {n} of 30")
elif mode == "fail":
    print("connecting to the database")
    print("boom: the database is unreachable", file=sys.stderr)
    sys.exit(4)
elif mode == "hang":
    child = subprocess.Popen(["sleep", "600"])
    with open(snapshot["params"]["pids_file"], "w") as out:
        out.write(f"{os.getpid()} {child.pid}")
    print("waiting forever")
    time.sleep(600)
elif mode == "secret":
    value = os.environ["DB_PASSWORD"]
    print("sha256 " + hashlib.sha256(value.encode()).hexdigest())
    print("the password is " + value)
    if snapshot["params"].get("fail"):
        print("login failed for " + value, file=sys.stderr)
        sys.exit(1)
"""

SERVE = """
import hashlib, os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = hashlib.sha256(os.environ.get("DB_PASSWORD", "").encode()).hexdigest().encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def bundle(mode: str, version: str, timeout: float = 60) -> bytes:
    manifest = f"""
[provision]
command = ["python3", "step.py", "{mode}"]
timeout_seconds = {timeout}

[serve]
command = ["python3", "serve.py"]

[health]
interval_seconds = 0.1
""".encode()
    return build({"rollout.toml": manifest, "step.py": STEP.encode(), "serve.py": SERVE.encode()}, version)


def progress_lines(stub: Stub, org: str, deployment_id: str) -> list[str]:
    return [e.message for e in events(stub, org, deployment_id) if e.type == E.TYPE_PROGRESS]


def test_a_provision_commands_output_arrives_on_watch_in_order(local_stub: Stub, org: str) -> None:
    instance = create_instance(local_stub, org)
    publish(local_stub, org, "1.0.0", artifact_content=bundle("count", "1.0.0"))
    done = deploy(local_stub, org, instance.id)
    assert done.status == S.STATUS_COMPLETED, done.error
    assert progress_lines(local_stub, org, done.id) == ["provision: python3 step.py count"] + [
        f"step {n} of 30" for n in range(1, 31)
    ]
    seen = [e.type for e in events(local_stub, org, done.id)]
    assert seen.index(E.TYPE_PROGRESS) < seen.index(E.TYPE_PROVISIONED), "output comes while the step runs"


def test_a_failing_command_fails_the_deployment_with_its_stderr_and_the_previous_stays_active(
    local_stub: Stub, org: str
) -> None:
    instance = create_instance(local_stub, org)
    publish(local_stub, org, "1.0.0", artifact_content=bundle("count", "1.0.0"))
    good = deploy(local_stub, org, instance.id)
    publish(local_stub, org, "1.1.0", artifact_content=bundle("fail", "1.1.0"))

    bad = deploy(local_stub, org, instance.id)

    assert (bad.status, bad.error) == (S.STATUS_FAILED, "provision exited with code 4: boom: the database is unreachable")
    stream = events(local_stub, org, bad.id)
    assert [e.message for e in stream if e.type == E.TYPE_PROGRESS][1:] == [
        "connecting to the database",
        "boom: the database is unreachable",
    ]
    assert (stream[-1].type, stream[-1].message) == (E.TYPE_FAILED, bad.error)
    live = instance_of(local_stub, org, instance.id)
    assert (live.active_deployment_id, live.route_generation) == (good.id, 1)


def test_a_command_that_hangs_is_killed_at_its_timeout_with_nothing_left_behind(
    local_stub: Stub, org: str, tmp_path: Path
) -> None:
    pids_file = tmp_path / "pids"
    instance = create_instance(local_stub, org)
    set_params(local_stub, org, instance.id, {"pids_file": str(pids_file)})
    publish(local_stub, org, "1.0.0", artifact_content=bundle("hang", "1.0.0", timeout=2))

    failed = deploy(local_stub, org, instance.id)

    assert (failed.status, failed.error) == (S.STATUS_FAILED, "provision did not finish within 2s; its processes were stopped")
    assert "waiting forever" in progress_lines(local_stub, org, failed.id)
    step, child = (int(p) for p in pids_file.read_text().split())
    for pid in (step, child):  # the command and what it started in its process group
        assert local_processes.start_time(pid) is None, f"pid {pid} still runs"


def test_secrets_reach_the_command_and_appear_nowhere_else(local_stub: Stub, org: str, local: LocalStack) -> None:
    secret = f"s3cret-{org}-value"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    instance = create_instance(local_stub, org, kind=pb.Instance.KIND_DYNAMIC, replicas=1)
    local_stub.SetInstanceSecrets(api.SetInstanceSecretsRequest(organization_id=org, id=instance.id, secrets={"db-password": secret}))
    publish(local_stub, org, "1.0.0", artifact_content=bundle("secret", "1.0.0"))

    done = deploy(local_stub, org, instance.id)
    assert done.status == S.STATUS_COMPLETED, done.error
    lines = progress_lines(local_stub, org, done.id)
    assert f"sha256 {digest}" in lines and "the password is [redacted]" in lines
    [port] = [r["port"] for r in sql(local.database_url, "SELECT port FROM runtime_instances WHERE instance_id = $1::uuid", instance.id)]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        assert answer.read().decode() == digest, "the runtime instance has it too"
    # A failure's message (on the deployment, its events and its audit record) is redacted as well.
    set_params(local_stub, org, instance.id, {"fail": True})
    failed = deploy(local_stub, org, instance.id)
    assert failed.error == "provision exited with code 1: login failed for [redacted]"

    _assert_nowhere(secret, local_stub, org, local, [done.id, failed.id])
    assert decommission(local_stub, org, instance.id).status == S.STATUS_COMPLETED


def _assert_nowhere(secret: str, stub: Stub, org: str, local: LocalStack, deployment_ids: list[str]) -> None:
    url = local.database_url
    tables = [r["tablename"] for r in sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert "audit_events" in tables and "deployment_events" in tables
    everything = " ".join(sql_value(url, f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {t} t") for t in tables)
    assert org in everything, "the scan sees this test's rows"
    assert secret not in everything and secret.encode().hex() not in everything.replace("\\x", "")
    logs = " ".join(p.read_text(errors="replace") for p in local.stack.workdir.glob("*.log"))
    assert secret not in logs
    data = local.stack.workdir / "data"
    files = [p for p in data.rglob("*") if p.is_file() and "postgres" not in p.parts]
    assert any(p.name == "process.json" for p in files), "the scan sees the runtime instance's folder"
    assert not [p for p in files if secret.encode() in p.read_bytes()]
    for deployment_id in deployment_ids:
        assert secret.encode() not in b"".join(e.SerializeToString() for e in events(stub, org, deployment_id))
    audit = stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=org, page_size=1000))
    assert audit.audit_events and secret.encode() not in audit.SerializeToString()


def test_a_worker_that_loses_the_lease_stops_the_command_at_once(
    local_stub: Stub, org: str, local: LocalStack, tmp_path: Path
) -> None:
    pids_file = tmp_path / "pids"
    instance = create_instance(local_stub, org)
    set_params(local_stub, org, instance.id, {"pids_file": str(pids_file)})
    publish(local_stub, org, "1.0.0", artifact_content=bundle("hang", "1.0.0", timeout=600))
    running = approve(local_stub, org, propose(local_stub, org, instance.id).id)
    wait_until(lambda: pids_file.exists() and len(pids_file.read_text().split()) == 2, "the command to start")
    step, child = (int(p) for p in pids_file.read_text().split())
    assert local_processes.start_time(step) is not None

    # Another worker takes the run over (as after a missed renewal): this one must stop what it runs for it.
    sql_script(
        local.database_url,
        "UPDATE deployments SET lease_owner = 'another-worker', lease_expires_at = now() + interval '1 hour' "
        f"WHERE id = '{running.id}'",
    )
    wait_until(
        lambda: all(local_processes.start_time(pid) is None for pid in (step, child)),
        "the command and its child to be killed",
        timeout=20,
    )
    assert get(local_stub, org, running.id).status == S.STATUS_RUNNING, "the run is the other worker's to end"
    wait_until(lambda: "was taken over by another worker" in local.worker.log.read_text(), "the worker to say why")
