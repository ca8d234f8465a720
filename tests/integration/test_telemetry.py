"""What operators see: Prometheus metrics across server processes, one JSON log line per RPC, traces."""

from __future__ import annotations

import json
import re
import urllib.request
from concurrent import futures
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from rollout.v1 import rollout_service_pb2 as api
from server.embedded import free_port
from tests.auth import as_principal
from tests.integration.helpers import approve, create_instance, deploy, publish, rollback, wait_done
from tests.stack import Stack


def _scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _value(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    total = 0.0
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if all(found.get(k) == v for k, v in labels.items()):
            total += value
    return total


def test_metrics_add_up_across_two_server_processes_and_a_worker(
    stack: Stack, org: str, org_token: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    listen = f"127.0.0.1:{free_port()}"
    shared = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ROLLOUT_METRICS_LISTEN": listen,
        "ROLLOUT_QUEUE_NAME": f"rollout:test-metrics:{org}",
    }
    _, first = stack.start_server(**shared)
    _, second = stack.start_server(**shared)
    stack.start_worker(**shared)
    with grpc.insecure_channel(first) as a, grpc.insecure_channel(second) as b:
        stub_a, stub_b = as_principal(a, org_token), as_principal(b, org_token)
        instance = create_instance(stub_a, org)
        publish(stub_a, org, "1.0.0")
        good = deploy(stub_a, org, instance.id)
        publish(stub_b, org, "2.0.0")
        deploy(stub_b, org, instance.id)
        back = rollback(stub_b, org, good.id)
        approve(stub_a, org, back.id)
        wait_done(stub_b, org, back.id)
        watch = stub_a.WatchInstance(api.WatchInstanceRequest(organization_id=org, id=instance.id), timeout=30)
        next(watch)  # one stream open during the scrape

        samples = _scrape(listen)
        watch.cancel()

    assert _value(samples, "rollout_rpcs_total", method="RollbackDeployment", code="OK") >= 1
    # Calls went to both processes and are counted together.
    assert _value(samples, "rollout_rpcs_total", method="PublishRelease", code="OK") >= 2
    assert _value(samples, "rollout_rpc_seconds_count", method="ApproveDeployment") >= 3
    assert _value(samples, "rollout_deployments", status="COMPLETED") >= 3
    assert _value(samples, "rollout_approved_to_completed_seconds_count", action="PROVISION", rollback="true") >= 1
    assert _value(samples, "rollout_job_pickup_seconds_count", job="provision") >= 3
    assert _value(samples, "rollout_watch_streams", method="WatchInstance") >= 1
    assert "rollout_queue_depth" in samples
    assert any(k.startswith("rollout_runtime_instances{") for k in samples)


def test_one_json_log_line_per_rpc(stack: Stack, org: str, org_token: str) -> None:
    server, address = stack.start_server()
    with grpc.insecure_channel(address) as channel:
        stub = as_principal(channel, org_token)
        created = create_instance(stub, org)
        stub.GetInstance(
            api.GetInstanceRequest(organization_id=org, id=created.id), metadata=(("x-request-id", "call-42"),)
        )
    server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    rpcs = [line for line in lines if line.get("event") == "rpc"]
    [get] = [line for line in rpcs if line["method"] == "GetInstance"]
    assert (get["code"], get["organization"], get["caller"], get["call_id"]) == ("OK", org, "admin", "call-42")
    assert get["ms"] > 0 and get["process"] == "server"
    assert [line["method"] for line in rpcs] == ["CreateInstance", "GetInstance"]


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[str] = []

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest, context: object) -> object:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans += [span.trace_id.hex() for span in scope.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


def test_traces_are_exported_when_an_endpoint_is_set_and_logs_carry_the_trace_id(
    stack: Stack, org: str, org_token: str
) -> None:
    collector = _Collector()
    receiver = grpc.server(futures.ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, receiver)
    port = receiver.add_insecure_port("127.0.0.1:0")
    receiver.start()
    try:
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_BSP_SCHEDULE_DELAY": "100"}
        server, address = stack.start_server(**endpoint)
        with grpc.insecure_channel(address) as channel:
            create_instance(as_principal(channel, org_token), org)
        server.stop()  # a stopping server exports what is pending
    finally:
        receiver.stop(None)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    [logged] = [line for line in lines if line.get("event") == "rpc" and line["method"] == "CreateInstance"]
    assert logged["trace_id"] in collector.spans
