"""Instance secrets at rest (ADR 009): sealed in the database, readable only with the key, rotatable."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import make_url

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.api.errors import to_status
from server.api.servicer import fingerprint
from server.app import secrets
from server.embedded.postgres import client_binary
from server.keyring import Key, Keyring, SecretsKeyUnavailable, new_key, parse
from server.migrate import upgrade
from server.store import secrets as secret_store
from server.store.db import create_engine
from tests.auth import as_principal
from tests.integration.databases import fresh_database
from tests.integration.helpers import Stub, create_instance, failure, sql
from tests.stack import TEST_SECRETS_KEY, Stack

STACK_KEYS = Keyring(parse([TEST_SECRETS_KEY], "test"))


def _set(stub: Stub, org: str, instance_id: str, values: dict[str, str], remove: list[str] | None = None,
         request_id: str = "") -> pb.Instance:
    return stub.SetInstanceSecrets(api.SetInstanceSecretsRequest(
        organization_id=org, id=instance_id, secrets=values, remove_names=remove or [], request_id=request_id))


def _current(url: str, keyring: Keyring, org: str, instance_id: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        engine = create_engine(url, 1)
        try:
            async with engine.connect() as conn:
                return await secrets.current(conn, keyring, org, instance_id)
        finally:
            await engine.dispose()

    return asyncio.run(read())



def _pg_dump(url: str) -> str:
    parsed = make_url(url)
    argv = [str(client_binary("pg_dump")), "-h", str(parsed.host), "-p", str(parsed.port), "-U", str(parsed.username),
            "-d", str(parsed.database), "--no-owner"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=120).stdout


def _forms(value: bytes) -> list[str]:
    """How a value could show in a dump: itself, bytea hex (pg_dump's format), base64."""
    return [value.decode(errors="ignore"), value.hex(), base64.b64encode(value).decode(),
            base64.urlsafe_b64encode(value).decode().rstrip("=")]


def test_pg_dump_of_a_stack_with_secrets_holds_none_of_their_values(
    stub: Stub, org: str, backends: tuple[str, str]
) -> None:
    values = {"db_password": f"pw-{uuid.uuid4().hex}", "api_token": f"tok-{uuid.uuid4().hex}-{org}"}
    instance = create_instance(stub, org, labels={"marker": f"m{uuid.uuid4().hex[:20]}"})
    _set(stub, org, instance.id, values)
    rows = sql(backends[0], "SELECT value, key_id FROM instance_secrets WHERE instance_id = $1::uuid",
                              instance.id)

    dump = _pg_dump(backends[0])

    # The dump has the rows: the instance's label, and the sealed values as stored.
    assert instance.labels["marker"] in dump
    assert len(rows) == 2 and all(bytes(r["value"]).hex() in dump for r in rows)
    assert {r["key_id"] for r in rows} == {STACK_KEYS.primary}
    for value in values.values():
        for form in _forms(value.encode()):
            assert form not in dump
    assert TEST_SECRETS_KEY not in dump


def test_secrets_read_back_decrypted_per_instance_and_organization(
    stub: Stub, org: str, other: Stub, backends: tuple[str, str]
) -> None:
    instance = create_instance(stub, org)
    _set(stub, org, instance.id, {"a": "one", "b": "two", "c": "three"})
    _set(stub, org, instance.id, {"b": "deux"}, remove=["c"])
    assert _current(backends[0], STACK_KEYS, org, instance.id) == {"a": "one", "b": "deux"}
    # The same instance asked for from another organization reads nothing.
    assert _current(backends[0], STACK_KEYS, org + "-other", instance.id) == {}


def test_a_process_with_another_key_or_none_gets_a_clear_error(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org)
    value = f"v-{uuid.uuid4().hex}"
    _set(stub, org, instance.id, {"db": value})
    [row] = sql(backends[0], "SELECT value FROM instance_secrets WHERE instance_id = $1::uuid", instance.id)
    stored = bytes(row["value"])
    same_id_other_key = Keyring([Key(str(STACK_KEYS.primary), os.urandom(32))])
    for keyring in (Keyring(), Keyring(parse([new_key()], "test")), same_id_other_key):
        with pytest.raises(SecretsKeyUnavailable) as caught:
            _current(backends[0], keyring, org, instance.id)
        message = caught.value.message
        assert "'db'" in message and str(STACK_KEYS.primary) in message
        assert not any(form in message for form in [*_forms(value.encode()), *_forms(stored)[1:]])
        status = to_status(caught.value)
        assert status.code is grpc.StatusCode.UNAVAILABLE
        assert b"SECRETS_KEY_UNAVAILABLE" in dict(status.trailing_metadata)["grpc-status-details-bin"]


def test_a_server_without_a_key_refuses_values_stores_nothing_and_burns_no_request_id(
    stub: Stub, org: str, org_token: str, stack: Stack, tmp_path: Path
) -> None:
    instance = create_instance(stub, org)
    _set(stub, org, instance.id, {"kept": "k"})
    # A data folder with no key file in it, and the session's artifact store (its default is under the data folder).
    process, address = stack.start_server(
        ROLLOUT_SECRETS_KEY="",
        ROLLOUT_DATA_DIR=str(tmp_path / "no-key"),
        ROLLOUT_ARTIFACT_STORE=(stack.workdir / "data" / "artifacts").as_uri(),
    )
    value = f"v-{uuid.uuid4().hex}"
    try:
        with grpc.insecure_channel(address) as channel:
            keyless = as_principal(channel, org_token)
            found = failure(lambda: _set(keyless, org, instance.id, {"db": value}, request_id="rid-1"))
            assert (found.code, found.reason) == (grpc.StatusCode.UNAVAILABLE, "SECRETS_KEY_UNAVAILABLE")
            assert value not in found.message
            # Removing needs no key.
            assert list(_set(keyless, org, instance.id, {}, remove=["kept"]).secret_names) == []
    finally:
        process.stop()
    assert "no secrets key configured" in process.log.read_text()
    assert value not in process.log.read_text()
    # A server with the key accepts the very same request: the refusal was not remembered for its request_id.
    assert list(_set(stub, org, instance.id, {"db": value}, request_id="rid-1").secret_names) == ["db"]


def test_the_idempotency_fingerprint_is_no_hash_of_the_values(stub: Stub, org: str, backends: tuple[str, str]) -> None:
    instance = create_instance(stub, org)
    request = api.SetInstanceSecretsRequest(organization_id=org, id=instance.id, secrets={"db": "pw"}, request_id="set-1")
    first = stub.SetInstanceSecrets(request)
    rows = sql(backends[0], "SELECT fingerprint FROM idempotency_keys WHERE organization_id = $1", org)
    assert [r["fingerprint"] for r in rows] != [fingerprint(request)] and len(rows) == 1
    # Still a fingerprint: the same request replays, the same key with another value is refused.
    again, call = stub.SetInstanceSecrets.with_call(request)
    assert again == first and ("idempotent-replayed", "true") in (call.initial_metadata() or ())
    other = api.SetInstanceSecretsRequest(organization_id=org, id=instance.id, secrets={"db": "pw2"}, request_id="set-1")
    found = failure(lambda: stub.SetInstanceSecrets(other))
    assert (found.code, found.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    assert _current(backends[0], STACK_KEYS, org, instance.id) == {"db": "pw"}


@pytest.mark.parametrize(
    "setting, value, says",
    [
        ("ROLLOUT_SECRETS_KEY", "prod:bm90LWEta2V5", "not the base64 of 32 bytes"),
        ("ROLLOUT_SECRETS_KEY_FILE", "/nonexistent/secrets.key", "does not exist"),
    ],
)
def test_a_server_with_an_unusable_key_setting_does_not_start(stack: Stack, setting: str, value: str, says: str) -> None:
    env = stack.env(**{"ROLLOUT_LISTEN": "127.0.0.1:0", "ROLLOUT_SECRETS_KEY": "", setting: value})
    result = subprocess.run([sys.executable, "-m", "server"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert says in result.stderr and setting in result.stderr
    assert "bm90LWEta2V5" not in result.stderr


# --- rotation, on a database of its own: it touches every row ---------------------------------


def _seed(url: str, keyring: Keyring, values: dict[str, dict[str, str]]) -> None:
    async def run() -> None:
        engine = create_engine(url, 1)
        try:
            async with engine.begin() as conn:
                for instance_id, named in values.items():
                    await conn.exec_driver_sql(
                        "INSERT INTO instances (id, organization_id, name, project, environment, bundle, kind)"
                        f" VALUES ('{instance_id}', 'rot', 'i-{instance_id[:8]}', 'p', 'e', 'b', 'STATIC')"
                    )
                    sealed = {name: keyring.encrypt(instance_id, name, v.encode()) for name, v in named.items()}
                    await secret_store.put(conn, instance_id, sealed, [])
        finally:
            await engine.dispose()

    asyncio.run(run())


def _key_ids(url: str) -> dict[str, int]:
    rows = sql(url, "SELECT key_id, count(*) AS n FROM instance_secrets GROUP BY key_id")
    return {r["key_id"]: r["n"] for r in rows}


def test_rotate_command_seals_every_value_under_the_new_key(backends: tuple[str, str], stack: Stack) -> None:
    old, new = f"old:{new_key()}", f"new:{new_key()}"
    values = {str(uuid.uuid4()): {"a": f"a-{n}", "b": f"b-{n}"} for n in range(3)}
    with fresh_database(backends[0]) as url:
        upgrade(url)
        _seed(url, Keyring(parse([old], "test")), values)
        env = stack.env(ROLLOUT_DATABASE_URL=url, ROLLOUT_SECRETS_KEY=f"{new},{old}")
        command = [sys.executable, "-m", "server.keyring"]

        rotated = subprocess.run([*command, "rotate"], env=env, capture_output=True, text=True, timeout=120)
        assert rotated.returncode == 0, rotated.stderr
        assert "6 values sealed again under key new" in rotated.stdout
        assert _key_ids(url) == {"new": 6}
        only_new = Keyring(parse([new], "test"))
        for instance_id, named in values.items():
            assert _current(url, only_new, "rot", instance_id) == named
        again = subprocess.run([*command, "rotate"], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "0 values sealed again" in again.stdout
        status = subprocess.run([*command, "status"], env=env, capture_output=True, text=True, timeout=120)
        assert status.stdout.split() == ["new", "6"]
        for output in (rotated, again, status):
            assert not any(v in output.stdout + output.stderr for named in values.values() for v in named.values())


def test_rotation_in_batches_stops_clearly_at_a_value_whose_key_is_gone(backends: tuple[str, str]) -> None:
    gone, old, new = (parse([f"{name}:{new_key()}"], "test")[0] for name in ("gone", "old", "new"))
    ids = sorted(str(uuid.uuid4()) for _ in range(4))
    with fresh_database(backends[0]) as url:
        upgrade(url)
        _seed(url, Keyring([old]), {ids[0]: {"s": "0"}, ids[1]: {"s": "1"}})
        _seed(url, Keyring([gone]), {ids[2]: {"s": "2"}})
        _seed(url, Keyring([old]), {ids[3]: {"s": "3"}})
        both = Keyring([new, old])

        async def run() -> None:
            engine = create_engine(url, 1)
            try:
                await secrets.rotate(engine, both, batch=1)
            finally:
                await engine.dispose()

        with pytest.raises(SecretsKeyUnavailable, match="'gone'"):
            asyncio.run(run())
        # One instance per transaction: the two before the unreadable one stay rotated, the rest is untouched.
        assert _key_ids(url) == {"new": 2, "gone": 1, "old": 1}
        assert _current(url, Keyring([new]), "rot", ids[1]) == {"s": "1"}
