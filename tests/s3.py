"""A real S3-compatible HTTP server for the suite: moto's server mode on 127.0.0.1, started and stopped by pid.

The suite reaches it with boto3, as CI or an operator would; rollout
processes reach it through the standard AWS variables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from server.embedded import free_port

# moto accepts any credentials; these only have to be there, so that no client goes looking elsewhere.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rollout-test", "AWS_SECRET_ACCESS_KEY": "rollout-test-secret-key"}
REGION = "us-east-1"
# The bucket the session's moto server has; each stack on it has a prefix of its own.
BUCKET = "rollout-test"


@dataclass
class MotoServer:
    log: Path
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.port = self.port or free_port()
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto did not start:\n{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.popen is None:
            return
        self._signal(signal.SIGCONT)  # a paused server cannot stop
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.popen.wait()
        self.popen = None

    def pause(self) -> None:
        """The endpoint stops answering (connections are accepted, nothing comes back): requests time out."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def env(self, store: str) -> dict[str, str]:
        """What a rollout process needs to use `store` (an s3:// URI) on this server."""
        return {"ROLLOUT_ARTIFACT_STORE": store, "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": REGION, **CREDENTIALS}

    def client(self) -> Any:
        """A boto3 S3 client of this server: the suite's own view of the bucket, as CI or an operator has it."""
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def put_object(self, bucket: str, key: str, content: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=content)

    def delete_object(self, bucket: str, key: str) -> None:
        self.client().delete_object(Bucket=bucket, Key=key)

    def has_object(self, bucket: str, key: str) -> bool:
        found = self.client().list_objects_v2(Bucket=bucket, Prefix=key)
        return any(item["Key"] == key for item in found.get("Contents", []))
