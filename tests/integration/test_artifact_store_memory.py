"""Artifacts stream through the server: its peak memory does not grow with their size, on either store.

The server's peak resident set (VmHWM) is read before and after moving a
64 MiB artifact in (UploadRelease) and out (publishing one by reference reads
it all to hash it). Held in memory whole, either would add at least 64 MiB;
streamed, it adds a few parts of 5 MiB. Magnitudes are compared, never time.
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc

from tests.integration.helpers import publish, upload
from tests.integration.stores import StoreStack

SIZE = 64 * 1024 * 1024
# Well under SIZE: what a streamed transfer may cost (parts in flight, gRPC and allocator slack).
BOUND = SIZE // 3


def _peak_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_moving_a_large_artifact_in_and_out_keeps_the_servers_memory_bounded(store: StoreStack, org: str) -> None:
    # A server of its own, so that nothing else it serves moves its peak.
    server, address = store.stack.start_server(**store.env)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = store.stub(org, channel)
            upload(stub, org, "0.0.1", os.urandom(6 * 1024 * 1024), chunk=1024 * 1024)  # warm: every path once
            content = os.urandom(SIZE)
            store.put_object(f"{org}/ci/large.tgz", content)
            before = _peak_bytes(server.popen.pid)

            uploaded = upload(stub, org, "1.0.0", content, chunk=1024 * 1024)
            after_upload = _peak_bytes(server.popen.pid)
            referenced = publish(stub, org, "1.1.0", artifact_uri=store.named(f"{org}/ci/large.tgz"))
            after_reference = _peak_bytes(server.popen.pid)
    finally:
        server.stop()

    assert uploaded.size_bytes == referenced.size_bytes == SIZE
    grew = (after_upload - before, after_reference - after_upload)
    print(f"{store.kind} store: peak RSS {before >> 20} MiB; +{grew[0] >> 20} MiB by the upload, "
          f"+{grew[1] >> 20} MiB by the read of a {SIZE >> 20} MiB artifact")
    assert max(grew) < BOUND, grew
