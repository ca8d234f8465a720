"""Optional mutual TLS: a client certificate whose common name is `<organization>/<principal>` authenticates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rollout.v1 import rollout_service_pb2_grpc as api_grpc
from tests.integration.helpers import Stub, create_instance, failure
from tests.stack import Stack


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def issue(cwd: Path, name: str, subject: str, extensions: str = "") -> None:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    argv = ["x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.pem"]
    if extensions:
        (cwd / f"{name}.ext").write_text(extensions)
        argv += ["-extfile", f"{name}.ext"]
    openssl(*argv, cwd=cwd)


def test_client_certificate_authenticates_as_its_principal(stack: Stack, stub: Stub, org: str, tmp_path: Path) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=rollout test CA", cwd=tmp_path)
    issue(tmp_path, "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n")
    issue(tmp_path, "client", f"/CN={org}\\/robot")  # an escaped "/" inside the common name
    issue(tmp_path, "stranger", f"/CN={org}\\/nobody-by-that-name")
    stub.CreatePrincipal(api.CreatePrincipalRequest(
        organization_id=org, principal=pb.Principal(name="robot", kind=pb.Principal.KIND_SERVICE, groups=["admins"])))
    created = create_instance(stub, org)
    ca = (tmp_path / "ca.pem").read_bytes()

    def credentials(name: str) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=(tmp_path / f"{name}.key").read_bytes(),
            certificate_chain=(tmp_path / f"{name}.pem").read_bytes(),
        )

    _, address = stack.start_server(
        credentials=credentials("client"),
        ROLLOUT_TLS_CERT=str(tmp_path / "server.pem"),
        ROLLOUT_TLS_KEY=str(tmp_path / "server.key"),
        ROLLOUT_TLS_CLIENT_CA=str(tmp_path / "ca.pem"),
    )
    with grpc.secure_channel(address, credentials("client")) as channel:
        listed = api_grpc.RolloutServiceStub(channel).ListInstances(api.ListInstancesRequest(organization_id=org))
        assert [i.id for i in listed.instances] == [created.id]
        made = api_grpc.RolloutServiceStub(channel).UpdateInstance(api.UpdateInstanceRequest(
            organization_id=org, id=created.id, instance=pb.Instance(labels={"by": "robot"}),
            update_mask={"paths": ["labels"]}))
        assert made.labels["by"] == "robot"
    audit = stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=org, filter="action = instance.update"))
    assert [r.actor for r in audit.audit_events] == ["robot"]
    with grpc.secure_channel(address, credentials("stranger")) as channel:
        f = failure(lambda: api_grpc.RolloutServiceStub(channel).ListInstances(api.ListInstancesRequest(organization_id=org)))
        assert f.code == grpc.StatusCode.UNAUTHENTICATED
