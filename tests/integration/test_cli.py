"""rolloutctl against the real stack, run as its executable the way a person or a script runs it:
tables, JSON, names and id prefixes, rollback to the previous good run and the history that shows
it, and the exit code of every ending."""

from __future__ import annotations

import json
import re

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.embedded import free_port
from tests.integration.cli import BIN, Cli
from tests.integration.helpers import Stub, create_instance, deploy, publish, set_params

S = pb.Deployment


def row(table: str, start: str) -> str:
    [line] = [line for line in table.splitlines() if line.startswith(start)]
    return line


def deployments(stub: Stub, org: str, instance_id: str) -> list[pb.Deployment]:
    request = api.ListDeploymentsRequest(organization_id=org, instance_id=instance_id)
    return list(stub.ListDeployments(request).deployments)


def test_it_is_installed_as_a_console_script() -> None:
    assert BIN.exists(), "`pip install -e .` should put rolloutctl beside python"


def test_instances_and_releases_as_tables_and_json(cli: Cli, stub: Stub, org: str) -> None:
    web = create_instance(stub, org, name="web", version_constraint="^1")
    create_instance(stub, org, name="db", bundle="db", kind=pb.Instance.KIND_DYNAMIC, replicas=2)
    release = publish(stub, org, "1.0.0", schema_version=3)

    table = cli.ok("instances").out
    assert row(table, "ID").split() == ["ID", "NAME", "PROJECT", "ENVIRONMENT", "KIND", "CONSTRAINT", "PINNED", "ACTIVE"]
    assert row(table, web.id[:8]).split() == [web.id[:8], "web", "shop", "production", "static", "^1"]
    assert "dynamic ×2" in table
    listed = cli.ok("instances", "--filter", "name = web", "-o", "json").json()
    assert [(i["id"], i["kind"], i["pinned"]) for i in listed["instances"]] == [(web.id, "KIND_STATIC", False)]

    releases = cli.ok("releases").out
    assert row(releases, release.id[:8]).split()[:7] == [release.id[:8], "web", "1.0.0", "stable", "READY", "present", "3"]
    assert cli.ok("releases", "--bundle", "db", "-o", "json").json() == {"releases": []}


def test_deploy_roll_back_to_the_previous_good_run_and_the_history_that_shows_it(
    cli: Cli, stub: Stub, org: str, org_token: str
) -> None:
    web = create_instance(stub, org, name="web", version_constraint="^1")
    publish(stub, org, "1.0.0")
    first = cli.run("deploy", "web", "--approve", "--wait")
    assert first.code == 0, first
    assert "Proposed deployment" in first.out and "COMPLETED" in first.out
    v11 = publish(stub, org, "1.1.0")
    second = cli.run("deploy", "web", "--approve", "--wait", "-o", "json")
    assert second.code == 0, second
    bad = second.json()
    assert (bad["status"], bad["version"]) == ("STATUS_COMPLETED", "1.1.0")
    good = [d for d in deployments(stub, org, web.id) if d.version == "1.0.0"][0]

    # The incident one-liner: the previous good run, proposed and approved, watched to its end.
    back = cli.run("rollback", "web", "--reason", "checkout broken", "--wait")
    assert back.code == 0, back
    assert f"rollback to {good.id[:8]}, v1.0.0" in back.out and "COMPLETED" in back.out

    history = cli.ok("history", "web").out
    rolled = deployments(stub, org, web.id)[0]
    assert f"shop/production/web  {web.id}  pinned to v1.0.0" in history
    assert re.search(rf"^{rolled.id[:8]}\s+COMPLETED\s+v1\.0\.0\s+ACTIVE, rollback to {good.id[:8]} \(v1\.0\.0\)",
                     history, re.M), history
    assert re.search(rf"^{bad['id'][:8]}\s+COMPLETED\s+v1\.1\.0\s+quarantined", history, re.M), history
    assert "checkout broken" in history
    doc = cli.ok("history", "web", "-o", "json").json()
    assert doc["instance"]["quarantined_release_ids"] == [v11.id]
    assert [(d["id"], d["active"], d["quarantined"]) for d in doc["deployments"]] == [
        (rolled.id, True, False), (bad["id"], False, True), (good.id, False, False)]
    assert doc["deployments"][0]["rollback_of"] == {"id": good.id, "version": "1.0.0"}

    audit = cli.ok("audit", "--filter", "action = deployment.rollback", "-o", "json").json()["audit_events"]
    assert [(a["resource"], a["reason"]) for a in audit] == [(f"deployments/{rolled.id}", "checkout broken")]
    assert "checkout broken" in cli.ok("audit", "--limit", "50").out
    for output in (first, second, back):
        assert org_token not in output.out + output.err

    # Propose only: the proposal waits for an approver; nothing moved.
    proposal = cli.ok("rollback", "web", "--to", bad["id"][:8], "--propose-only", "-o", "json").json()
    assert proposal["status"] == "STATUS_PROPOSED"
    assert deployments(stub, org, web.id)[1].id == rolled.id


def test_a_failed_deployment_exits_1(cli: Cli, stub: Stub, org: str) -> None:
    web = create_instance(stub, org, name="web")
    publish(stub, org, "1.0.0")
    set_params(stub, org, web.id, {"rollout.simulate": {"fail": "provision"}})
    failed = cli.run("deploy", "web", "--approve", "--wait")
    assert failed.code == 1, failed
    assert "FAILED" in failed.out and "simulated provision failure" in failed.out
    as_json = cli.run("deploy", "web", "--approve", "--wait", "-o", "json")
    assert as_json.code == 1 and as_json.json()["status"] == "STATUS_FAILED"


def test_a_deployment_rejected_while_waiting_exits_2(cli: Cli, stub: Stub, org: str) -> None:
    web = create_instance(stub, org, name="web")
    publish(stub, org, "1.0.0")
    waiting = cli.start("deploy", "web", "--wait")
    try:
        waiting.wait_for(lambda p: "Proposed deployment" in p.out, "the proposal")
        [proposal] = deployments(stub, org, web.id)
        stub.RejectDeployment(api.RejectDeploymentRequest(organization_id=org, id=proposal.id, reason="not today"))
        ended = waiting.finish()
    finally:
        waiting.stop()
    assert ended.code == 2, ended
    assert "REJECTED" in ended.out


def test_the_waiting_commands_and_reject(cli: Cli, stub: Stub, org: str) -> None:
    web = create_instance(stub, org, name="web")
    publish(stub, org, "1.0.0")
    proposal = cli.ok("deploy", "web", "-o", "json").json()
    assert proposal["status"] == "STATUS_PROPOSED"
    approved = cli.run("approve", proposal["id"][:8], "--wait", "-o", "json")
    assert approved.code == 0 and approved.json()["status"] == "STATUS_COMPLETED", approved
    again = cli.ok("deploy", "web", "-o", "json").json()
    rejected = cli.ok("reject", again["id"][:8], "--reason", "changed my mind", "--instance", "web")
    assert f"Rejected deployment {again['id'][:8]}" in rejected.out and "REJECTED" in rejected.out
    assert deployments(stub, org, web.id)[0].reject_reason == "changed my mind"


def test_bad_input_exits_4_with_the_servers_reason_and_message(cli: Cli, stub: Stub, org: str) -> None:
    unknown = cli.run("history", "nosuch")
    assert (unknown.code, unknown.out) == (4, "")
    assert "no instance 'nosuch'" in unknown.err and "Traceback" not in unknown.err

    web = create_instance(stub, org, name="web")
    publish(stub, org, "1.0.0")
    deploy(stub, org, web.id)
    nothing = cli.run("rollback", "web")
    assert nothing.code == 4
    assert nothing.err.startswith("error: NO_ROLLBACK_TARGET (FAILED_PRECONDITION): "), nothing.err
    as_json = cli.run("rollback", "web", "-o", "json")
    assert as_json.code == 4
    error = as_json.json()["error"]
    assert (error["code"], error["reason"], error["exit_code"]) == ("FAILED_PRECONDITION", "NO_ROLLBACK_TARGET", 4)

    malformed = cli.run("audit", "--filter", "who = me")
    assert malformed.code == 4
    assert "error: INVALID_ARGUMENT" in malformed.err and "• filter: unknown field 'who'" in malformed.err
    violations = cli.run("audit", "--filter", "who = me", "-o", "json").json()["error"]["violations"]
    assert [v["field"] for v in violations] == ["filter"]

    assert "no release of bundle web with version or id '9.9.9'" in cli.run("deploy", "web", "--release", "9.9.9").err
    usage = cli.run("history")
    assert usage.code == 4 and "Missing argument" in usage.err
    assert cli.run("rollback", "web", "--to", "zz").code == 4


def test_an_address_where_nothing_listens_exits_3(cli: Cli) -> None:
    down = cli.run("instances", "--address", f"127.0.0.1:{free_port()}")
    assert down.code == 3
    assert "cannot reach the server at 127.0.0.1:" in down.err and "Traceback" not in down.err


def test_instances_by_name_qualified_name_or_id_prefix_and_deployments_by_prefix(cli: Cli, stub: Stub, org: str) -> None:
    production = create_instance(stub, org, name="web", environment="production")
    staging = create_instance(stub, org, name="web", environment="staging")
    publish(stub, org, "1.0.0")

    ambiguous = cli.run("history", "web")
    assert ambiguous.code == 4
    assert "'web' is ambiguous: 2 instances match" in ambiguous.err
    assert f"shop/production/web  {production.id[:8]}" in ambiguous.err
    assert f"shop/staging/web  {staging.id[:8]}" in ambiguous.err
    assert cli.ok("history", "staging/web", "-o", "json").json()["instance"]["id"] == staging.id
    assert cli.ok("history", "shop/production/web", "-o", "json").json()["instance"]["id"] == production.id
    assert cli.ok("history", staging.id[:6], "-o", "json").json()["instance"]["id"] == staging.id
    assert cli.ok("history", production.id.upper(), "-o", "json").json()["instance"]["id"] == production.id

    proposal = cli.ok("deploy", "staging/web", "-o", "json").json()
    # No instance named: the prefix is looked for across the organization's instances.
    approved = cli.ok("approve", proposal["id"][:8], "-o", "json").json()
    assert (approved["id"], approved["status"]) == (proposal["id"], "STATUS_PENDING")
    assert cli.run("approve", proposal["id"][:8], "--instance", "production/web").code == 4


def test_plan_shows_a_coloured_diff(cli: Cli, stub: Stub, org: str) -> None:
    web = create_instance(stub, org, name="web")
    set_params(stub, org, web.id, {"workers": 4, "cache": {"ttl": 60}})
    publish(stub, org, "1.0.0")
    deploy(stub, org, web.id)
    publish(stub, org, "1.1.0")
    set_params(stub, org, web.id, {"workers": 8, "debug": True})
    proposal = cli.ok("deploy", "web", "-o", "json").json()

    shown = cli.ok("plan", proposal["id"][:8]).out
    lines = shown.splitlines()
    assert lines[0].startswith(f"Plan of deployment {proposal['id'][:8]} of shop/production/web: provision v1.1.0")
    assert "release      v1.0.0 → v1.1.0" in lines[2]
    assert lines[3:9] == ["params", "  - cache.ttl: 60", "  + debug: true", "  ~ workers: 4 → 8", "connections",
                          "  no change"]
    planned = cli.ok("plan", proposal["id"], "-o", "json").json()
    assert planned["deployment_id"] == proposal["id"]
    assert planned["plan"]["params"]["changed"] == {"workers": {"from": 4.0, "to": 8.0}}
    assert planned["plan"]["release_change"] == {"from": "1.0.0", "to": "1.1.0"}


def test_watch_as_json_lines_and_as_lines_in_a_pipe(cli: Cli, stub: Stub, org: str) -> None:
    web = create_instance(stub, org, name="web")
    publish(stub, org, "1.0.0")
    done = deploy(stub, org, web.id)

    lines = cli.ok("watch", done.id[:8], "-o", "json").out.splitlines()
    events = [json.loads(line) for line in lines]
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "TYPE_COMPLETED"
    piped = cli.ok("watch", done.id).out.splitlines()
    assert piped[0] == f"Watching deployment {done.id[:8]} of shop/production/web: provision v1.0.0"
    assert [line.split()[1] for line in piped[1:]] == [
        "proposed", "approved", "started", "artifact", "provisioned", "switched", "COMPLETED"]
    assert "after approval" in piped[-1]
    assert cli.ok("watch", done.id[:8], "--after", "6", "-o", "json").out.count("\n") == len(events) - 6
