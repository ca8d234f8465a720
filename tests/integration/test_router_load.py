"""A bounded load test through the edge router (loopback only): 20 switches, no failed request, no going back.

Four clients send requests back to back through one router while the test
rolls back and forward 20 times between two warm releases (fixed count; each
switch waits until a client has seen it, bounded). It counts every non-2xx
answer, and every answer from the old version to a request that started
after some client had already received the new one.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

import pytest

from rollout.v1 import resources_pb2 as pb
from tests.integration.helpers import Stub, deploy_in_turn
from tests.integration.router_kit import (
    Router,
    RouterStack,
    dynamic,
    hello_release,
    host_of,
    stop_instance_processes,
    stub,
    switch,
)

__all__ = ["stub"]  # the fixture: the router stack's service, not the session's

CLIENTS = 4
SWITCHES = 20


@dataclass
class Answers:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (started, ended, status, version) of every request
    seen: list[tuple[float, float, int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def client(router: Router, host: str, answers: Answers) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=30)
    try:
        while not answers.stop.is_set():
            started = time.monotonic()
            try:
                conn.request("GET", "/", headers={"Host": host})
                reply = conn.getresponse()
                body = reply.read().decode(errors="replace")
                status = reply.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=30)
                status, body = 0, repr(exc)
            version = body.split("from v")[1].split(" ")[0] if "from v" in body else ""
            with answers.lock:
                answers.seen.append((started, time.monotonic(), status, version))
    finally:
        conn.close()


def first_seen(answers: Answers, version: str, after: float) -> float | None:
    with answers.lock:
        ends = [end for start, end, status, v in answers.seen if v == version and start >= after]
    return min(ends) if ends else None


@pytest.mark.timeout(300)
def test_twenty_switches_under_load_fail_nothing_and_never_go_back(
    stub: Stub, org: str, router: Router, rs: RouterStack
) -> None:
    instance = dynamic(stub, org)
    host = host_of(stub, org, instance.id)
    first, second = deploy_in_turn(stub, org, instance.id, ["1.0.0", "2.0.0"], hello_release)
    assert (first.status, second.status) == (pb.Deployment.STATUS_COMPLETED,) * 2
    router.wait_for(host, "from v2.0.0")

    answers = Answers()
    threads = [threading.Thread(target=client, args=(router, host, answers)) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    visible_at: list[tuple[str, float]] = []  # (new version, when a client first received it)
    try:
        targets = [first, second] * (SWITCHES // 2)
        for target in targets:
            asked = time.monotonic()
            switch(stub, org, target.id)
            deadline = time.monotonic() + 30
            while (seen := first_seen(answers, target.version, asked)) is None:
                assert time.monotonic() < deadline, f"v{target.version} never became visible"
                time.sleep(0.005)
            visible_at.append((target.version, seen))
    finally:
        answers.stop.set()
        for t in threads:
            t.join(30)

    failed = [a for a in answers.seen if not 200 <= a[2] < 300]
    went_back = []
    for n, (version, seen) in enumerate(visible_at):
        until = visible_at[n + 1][1] if n + 1 < len(visible_at) else float("inf")
        # Requests that started after the new version was received, and before the next switch was visible.
        went_back += [a for a in answers.seen if seen < a[0] and a[1] < until and a[3] != version]
    print(f"\nload: {len(answers.seen)} requests, {SWITCHES} switches, {len(failed)} failed, {len(went_back)} from the old version")
    assert len(answers.seen) > SWITCHES * CLIENTS, "the clients kept the router busy"
    assert failed == [], failed[:5]
    assert went_back == [], went_back[:5]
    stop_instance_processes(rs, instance.id)
