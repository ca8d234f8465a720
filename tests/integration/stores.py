"""The two artifact stores the important tests run on: the session's folder store, and an S3 store on moto.

A StoreStack is a server and a worker, their database, and the suite's own
view of the store (what CI or an operator sees: files in the folder, objects
in the bucket), so a test can put an object there, or delete one behind
rollout's back, whichever the store.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc

from tests.auth import admin_token, as_principal
from tests.integration.databases import fresh_database
from tests.integration.helpers import Stub
from tests.s3 import BUCKET, MotoServer
from tests.stack import Process, Stack


@dataclass
class StoreStack:
    kind: str  # "file" or "s3"
    stack: Stack
    database_url: str
    channel: grpc.Channel
    # What every process of this stack needs on top of the Stack's environment.
    env: dict[str, str]
    # Where the store is: the folder, or the s3://bucket/prefix.
    location: str
    worker: Process
    moto: MotoServer | None = None

    @contextlib.contextmanager
    def worker_stopped(self) -> Iterator[None]:
        """No worker of this stack runs meanwhile: what is approved stays PENDING until the block ends."""
        self.worker.stop()
        try:
            yield
        finally:
            self.worker = self.stack.start_worker(**self.env)

    def stub(self, org: str, channel: grpc.Channel | None = None) -> Stub:
        """The service (on `channel`, else this stack's server), called as the organization's admin."""
        return as_principal(channel or self.channel, admin_token(self.database_url, org))

    def named(self, key: str) -> str:
        """The URI CI would give for the object at `key` under the store's root (s3:// or file://)."""
        return f"{self.location}/{key}"

    def put_object(self, key: str, content: bytes) -> None:
        if self.moto is not None:
            self.moto.put_object(BUCKET, self._s3_key(key), content)
        else:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def delete_object(self, key: str) -> None:
        """Behind rollout's back, as a lifecycle rule or an operator would."""
        if self.moto is not None:
            self.moto.delete_object(BUCKET, self._s3_key(key))
        else:
            self._path(key).unlink()

    def object_sha256(self, key: str) -> str:
        if self.moto is not None:
            body = self.moto.client().get_object(Bucket=BUCKET, Key=self._s3_key(key))["Body"].read()
        else:
            body = self._path(key).read_bytes()
        return hashlib.sha256(body).hexdigest()

    def has_object(self, key: str) -> bool:
        if self.moto is not None:
            return self.moto.has_object(BUCKET, self._s3_key(key))
        return self._path(key).is_file()

    def _s3_key(self, key: str) -> str:
        return f"{urlsplit(self.location).path.strip('/')}/{key}"

    def _path(self, key: str) -> Path:
        return Path(urlsplit(self.location).path) / key


def key_of(uri: str) -> str:
    """The key under the store's root of a `store://` URI."""
    parsed = urlsplit(uri)
    assert parsed.scheme == "store", uri
    return f"{parsed.netloc}{parsed.path}"


@contextlib.contextmanager
def store_stack(
    kind: str, session_database: str, redis_url: str, workdir: Path, moto: MotoServer | None = None
) -> Iterator[StoreStack]:
    """A server and a worker on a database and a queue of their own, with a folder store under `workdir` or an
    S3 store on `moto`. Their own database: the session's is set up with the session's folder store (and
    its workers would take these runs over); their own queue: the session's workers take every job on theirs."""
    stack = Stack(session_database, redis_url, workdir)
    location = (workdir / "data" / "artifacts").as_uri()
    env = {"ROLLOUT_QUEUE_NAME": f"rollout:{kind}-stack", "ROLLOUT_ARTIFACT_STORE_TIMEOUT_SECONDS": "2"}
    if moto is not None:
        location = f"s3://{BUCKET}/{kind}-stack"
        env.update(moto.env(location))
    with fresh_database(session_database) as url:
        env["ROLLOUT_DATABASE_URL"] = url
        try:
            stack.migrate(**env)
            _, address = stack.start_server(**env)
            worker = stack.start_worker(**env)
            with grpc.insecure_channel(address) as channel:
                yield StoreStack(kind, stack, url, channel, env, location, worker, moto)
        finally:
            stack.stop_all()
