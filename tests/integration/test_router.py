"""The edge router (docs/router.md) in front of a real stack: real runtime processes, real HTTP, real gRPC.

Each test starts its own `python -m router` process against the router
stack's server (tests/integration/router_kit.py; one for the session, the
`rs` fixture) and talks to it over HTTP with the instance's host, as a
browser on the public_url would.
"""

from __future__ import annotations

import io
import shutil
import signal
import tarfile
import threading
from pathlib import Path

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from tests.auth import as_principal
from tests.integration.helpers import (
    Stub,
    create_instance,
    deploy,
    failure,
    instance_of,
    publish,
    sql,
    sql_script,
    wait_until,
)
from tests.integration.router_kit import (
    HELLO,
    Router,
    RouterStack,
    dynamic,
    hello_release,
    host_of,
    router_token,
    start_router,
    stop_instance_processes,
    stub,
    switch,
)
from workers.drivers import local_processes

__all__ = ["stub"]  # the fixture: the router stack's service, not the session's

S = pb.Deployment
R = pb.RuntimeInstance

# The hello app, with one more path: GET /hold?file=F answers only once F exists (and says it started).
HOLDING_APP = '''
import os, time
from pathlib import Path
from urllib.parse import parse_qs, urlparse
import app as hello

class Holding(hello.Hello):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/hold":
            gate = Path(parse_qs(url.query)["file"][0])
            Path(str(gate) + ".started").write_text(str(os.getpid()))
            while not gate.exists():
                time.sleep(0.01)
            body = f"held by v{hello.VERSION}\\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

hello.Hello = Holding
hello.main()
'''


def test_public_url_is_the_instance_host_at_the_router(stub: Stub, org: str) -> None:
    instance = dynamic(stub, org)
    assert instance.public_url == f"http://web.shop.production.{org}.localhost:8080"
    assert instance_of(stub, org, instance.id).public_url == instance.public_url


def test_the_router_follows_a_switch_and_round_robins(stub: Stub, org: str, rs: RouterStack) -> None:
    instance = dynamic(stub, org)
    host = host_of(stub, org, instance.id)
    # A new instance reaches routers with the next snapshot (here the first one); a switch reaches them at once.
    router = start_router(rs.stack, rs.address, org, router_token(rs.database_url, org))
    try:
        _follows_a_switch(stub, org, router, rs, instance, host)
    finally:
        router.process.stop()


def _follows_a_switch(stub: Stub, org: str, router: Router, rs: RouterStack, instance: pb.Instance, host: str) -> None:
    router.wait_for(host, "nothing deployed", status=503)
    assert router.get(host) == (503, f"{host} has nothing deployed\n")
    assert router.get(f"nope.{host}") == (404, f"no instance is served at nope.{host}\n")

    hello_release(stub, org, "1.0.0")
    first = deploy(stub, org, instance.id)
    assert first.status == S.STATUS_COMPLETED, first.error
    router.wait_for(host, "from v1.0.0")
    pids = {router.get(host)[1].split("pid ")[1] for _ in range(6)}
    assert len(pids) == 2, f"both runtime instances answer in turn, got {pids}"

    hello_release(stub, org, "2.0.0")
    second = deploy(stub, org, instance.id)
    assert second.status == S.STATUS_COMPLETED, second.error
    router.wait_for(host, "from v2.0.0")
    assert all("from v2.0.0" in router.get(host)[1] for _ in range(20)), "after the switch, only the new version"

    switch(stub, org, first.id)
    router.wait_for(host, "from v1.0.0")
    assert all("from v1.0.0" in router.get(host)[1] for _ in range(20))
    stop_instance_processes(rs, instance.id)


def test_the_router_rereads_after_its_stream_was_cut_and_a_switch_was_missed(
    stub: Stub, org: str, rs: RouterStack
) -> None:
    # The router follows a server of its own, which the test kills: the stream breaks, and the switch
    # made meanwhile (through the other server) is never delivered to it as a change.
    own, address = rs.stack.start_server(**{"ROLLOUT_QUEUE_NAME": "rollout:test-router"})
    router = start_router(rs.stack, address, org, router_token(rs.database_url, org))
    try:
        instance = dynamic(stub, org, replicas=1)
        host = host_of(stub, org, instance.id)
        hello_release(stub, org, "1.0.0")
        first = deploy(stub, org, instance.id)
        router.wait_for(host, "from v1.0.0")
        hello_release(stub, org, "2.0.0")
        deploy(stub, org, instance.id)
        router.wait_for(host, "from v2.0.0")

        own.kill(signal.SIGKILL)
        switch(stub, org, first.id)
        # Cut off, it serves the table it has (v2's processes are warm, so they still answer).
        assert "from v2.0.0" in router.get(host)[1]

        own, _ = rs.stack.start_server(address=address, **{"ROLLOUT_QUEUE_NAME": "rollout:test-router"})
        router.wait_for(host, "from v1.0.0")
        assert "route snapshot 2" in router.process.log.read_text(), "it reconnected and read a whole snapshot"
    finally:
        router.process.stop()
        own.stop()  # the router stack is the session's: nothing of this test's stays running
    stop_instance_processes(rs, instance.id)


def test_a_backend_that_dies_is_skipped(stub: Stub, org: str, router: Router, rs: RouterStack) -> None:
    instance = dynamic(stub, org, replicas=2)
    host = host_of(stub, org, instance.id)
    hello_release(stub, org, "1.0.0")
    assert deploy(stub, org, instance.id).status == S.STATUS_COMPLETED
    router.wait_for(host, "from v1.0.0")
    [victim, *_] = sql(rs.database_url, "SELECT pid FROM runtime_instances WHERE instance_id = $1::uuid", instance.id)
    local_processes.signal_group(victim["pid"], signal.SIGKILL)

    answers = [router.get(host) for _ in range(20)]
    assert all(status == 200 for status, _ in answers), answers
    assert all(f"pid {victim['pid']})" not in body for _, body in answers)
    stop_instance_processes(rs, instance.id)


def test_no_healthy_backend_is_503_with_a_reason(stub: Stub, org: str, router: Router, rs: RouterStack) -> None:
    instance = dynamic(stub, org, replicas=1)
    host = host_of(stub, org, instance.id)
    hello_release(stub, org, "1.0.0")
    assert deploy(stub, org, instance.id).status == S.STATUS_COMPLETED
    router.wait_for(host, "from v1.0.0")
    stop_instance_processes(rs, instance.id)
    # The worker's health check marks it FAILED (an event of the instance), and the route loses it.
    wait_until(lambda: router.get(host)[0] == 503, "the route to lose its failed runtime instance")
    assert router.get(host) == (503, f"no healthy runtime instance of {host} (v1.0.0)\n")


def test_drain_lets_a_request_in_flight_finish(stub: Stub, org: str, router: Router, rs: RouterStack, tmp_path: Path) -> None:
    holding = tmp_path / "holding"
    shutil.copytree(HELLO, holding)
    (holding / "holding.py").write_text(HOLDING_APP)
    toml = (holding / "rollout.toml").read_text().replace('command = ["python3", "app.py"]', 'command = ["python3", "holding.py"]')
    (holding / "rollout.toml").write_text(toml)
    instance = dynamic(stub, org, replicas=1)
    host = host_of(stub, org, instance.id)
    hello_release(stub, org, "1.0.0", holding)
    hello_release(stub, org, "2.0.0", holding)
    first = deploy(stub, org, instance.id)
    assert first.status == S.STATUS_COMPLETED and first.version == "2.0.0", first.error
    router.wait_for(host, "from v2.0.0")

    gate = tmp_path / "gate"
    held: list[tuple[int, str]] = []
    request = threading.Thread(target=lambda: held.append(router.get(host, f"/hold?file={gate}", timeout=60)))
    request.start()
    wait_until(lambda: Path(f"{gate}.started").exists(), "the request to reach the v2 backend")

    v1 = [r for r in sql(rs.database_url, "SELECT id FROM releases WHERE version = '1.0.0' AND organization_id = $1", org)][0]
    back = deploy(stub, org, instance.id, bundle_release_id=str(v1["id"]))
    assert back.status == S.STATUS_COMPLETED, back.error
    router.wait_for(host, "from v1.0.0")
    # The warm window of v2 ends now: the worker marks it DRAINING, and stops it only after the grace.
    sql_script(rs.database_url, f"UPDATE runtime_instances SET drain_after = now() WHERE instance_id = '{instance.id}' "
               f"AND release_id <> '{v1['id']}'")
    wait_until(
        lambda: sql(rs.database_url, "SELECT state FROM runtime_instances WHERE instance_id = $1::uuid AND state = 'DRAINING'",
                    instance.id) != [],
        "the v2 runtime instance to be DRAINING",
    )
    assert all("from v1.0.0" in router.get(host)[1] for _ in range(10)), "no new request goes to a draining backend"
    gate.write_text("go")
    request.join(60)
    assert held == [(200, "held by v2.0.0\n")], "the request in flight finished on the draining backend"
    stop_instance_processes(rs, instance.id)


def test_watch_routes_needs_instance_read_on_the_organization(rs: RouterStack, org: str) -> None:
    with grpc.insecure_channel(rs.address) as channel:
        anonymous = api_grpc.RolloutServiceStub(channel)  # type: ignore[no-untyped-call]
        request = api.WatchRoutesRequest(organization_id=org)
        assert failure(lambda: next(iter(anonymous.WatchRoutes(request, timeout=10)))).code == grpc.StatusCode.UNAUTHENTICATED
        routed = as_principal(channel, router_token(rs.database_url, org))
        first = next(iter(routed.WatchRoutes(request, timeout=10)))
        assert first.snapshot
        bad = api.WatchRoutesRequest(organization_id=org, resync_seconds=-1)
        assert failure(lambda: next(iter(routed.WatchRoutes(bad, timeout=10)))).code == grpc.StatusCode.INVALID_ARGUMENT
        other = as_principal(channel, router_token(rs.database_url, f"{org}-other"))
        assert failure(lambda: next(iter(other.WatchRoutes(request, timeout=10)))).code in (
            grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)



def site(version: str) -> bytes:
    """A STATIC release: a .tar.gz of files, no manifest."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, text in (("index.html", f"<p>site v{version}</p>\n"), ("css/site.css", f"/* v{version} */\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_static_files_come_from_the_artifact_store_and_follow_a_rollback(stub: Stub, org: str, router: Router) -> None:
    instance = create_instance(stub, org, name="docs", bundle="site", kind=pb.Instance.KIND_STATIC)
    host = host_of(stub, org, instance.id)
    publish(stub, org, "1.0.0", bundle="site", artifact_content=site("1.0.0"))
    first = deploy(stub, org, instance.id)
    assert first.status == S.STATUS_COMPLETED, first.error
    router.wait_for(host, "site v1.0.0")
    assert router.get(host, "/css/site.css") == (200, "/* v1.0.0 */\n")
    assert router.get(host, "/missing.html") == (404, "no file /missing.html in release 1.0.0\n")
    assert router.get(host, "/../../etc/passwd")[0] == 404

    publish(stub, org, "2.0.0", bundle="site", artifact_content=site("2.0.0"))
    assert deploy(stub, org, instance.id).status == S.STATUS_COMPLETED
    router.wait_for(host, "site v2.0.0")
    switch(stub, org, first.id)
    router.wait_for(host, "site v1.0.0")
