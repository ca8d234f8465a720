"""Sealing instance secrets: server/keyring (AES-256-GCM, key ids, rotation, key lists and files)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import grpc
import pytest

from server.api.errors import to_status
from server.keyring import (
    Key,
    Keyring,
    KeyringError,
    SecretsKeyUnavailable,
    create_key_file,
    derived_id,
    load,
    new_key,
    parse,
    parse_file,
)

INSTANCE = "0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10"
OTHER_INSTANCE = "7d1f6a52-94a8-4b8e-b0d4-2c5a6c1b9e33"
SECRET = b"hunter2-correct-horse"


def key(key_id: str = "k1") -> Key:
    return Key(key_id, os.urandom(32))


def ring(*keys: Key) -> Keyring:
    return Keyring(keys)


def leaks(text: str, *values: bytes) -> bool:
    return any(
        v.hex() in text or base64.b64encode(v).decode() in text or v.decode(errors="ignore") in text
        for v in values
        if v
    )


# --- sealing -------------------------------------------------------------------------------


def test_round_trip_records_the_key_id_and_hides_the_value() -> None:
    keyring = ring(key("k1"))
    sealed = keyring.encrypt(INSTANCE, "db", SECRET)
    assert sealed.key_id == "k1"
    assert SECRET not in sealed.value
    assert keyring.decrypt("k1", INSTANCE, "db", sealed.value) == SECRET


def test_each_seal_uses_a_fresh_nonce() -> None:
    keyring = ring(key())
    first, second = (keyring.encrypt(INSTANCE, "db", SECRET).value for _ in range(2))
    assert first != second and first[:12] != second[:12]


def test_wrong_key_under_the_same_id_is_refused_clearly() -> None:
    sealed = ring(key("k1")).encrypt(INSTANCE, "db", SECRET)
    other = key("k1")
    with pytest.raises(SecretsKeyUnavailable) as caught:
        ring(other).decrypt("k1", INSTANCE, "db", sealed.value)
    assert "k1" in caught.value.message
    assert not leaks(caught.value.message, sealed.value, other.material, SECRET)


def test_unknown_key_id_is_refused_clearly() -> None:
    sealed = ring(key("old")).encrypt(INSTANCE, "db", SECRET)
    with pytest.raises(SecretsKeyUnavailable, match="'old'"):
        ring(key("new")).decrypt("old", INSTANCE, "db", sealed.value)


def test_tampered_ciphertext_does_not_decrypt() -> None:
    keyring = ring(key())
    sealed = bytearray(keyring.encrypt(INSTANCE, "db", SECRET).value)
    sealed[len(sealed) // 2] ^= 0x01
    with pytest.raises(SecretsKeyUnavailable, match="altered"):
        keyring.decrypt("k1", INSTANCE, "db", bytes(sealed))


@pytest.mark.parametrize("instance_id, name", [(OTHER_INSTANCE, "db"), (INSTANCE, "api")])
def test_a_ciphertext_moved_to_another_row_does_not_decrypt(instance_id: str, name: str) -> None:
    keyring = ring(key())
    sealed = keyring.encrypt(INSTANCE, "db", SECRET)
    with pytest.raises(SecretsKeyUnavailable):
        keyring.decrypt("k1", instance_id, name, sealed.value)


def test_without_keys_nothing_is_sealed() -> None:
    with pytest.raises(SecretsKeyUnavailable, match="no secrets key is configured"):
        Keyring().encrypt(INSTANCE, "db", SECRET)


def test_the_error_is_unavailable_with_its_reason_not_internal() -> None:
    status = to_status(SecretsKeyUnavailable("no key"))
    assert status.code is grpc.StatusCode.UNAVAILABLE
    assert b"SECRETS_KEY_UNAVAILABLE" in dict(status.trailing_metadata)["grpc-status-details-bin"]


# --- rotation --------------------------------------------------------------------------------


def test_rotation_seals_again_under_the_first_key_and_the_old_key_can_go() -> None:
    old, new = key("old"), key("new")
    sealed = ring(old).encrypt(INSTANCE, "db", SECRET)
    rotated = ring(new, old).reseal(sealed.key_id, INSTANCE, "db", sealed.value)
    assert rotated.key_id == "new"
    assert ring(new).decrypt(rotated.key_id, INSTANCE, "db", rotated.value) == SECRET
    with pytest.raises(SecretsKeyUnavailable):
        ring(old).decrypt("old", INSTANCE, "db", rotated.value)


def test_new_values_use_the_first_key_and_every_key_decrypts() -> None:
    old, new = key("old"), key("new")
    before = ring(old).encrypt(INSTANCE, "db", SECRET)
    both = ring(new, old)
    assert both.primary == "new" and both.ids == ("new", "old")
    assert both.encrypt(INSTANCE, "db", SECRET).key_id == "new"
    assert both.decrypt("old", INSTANCE, "db", before.value) == SECRET


def test_a_key_id_given_twice_is_refused() -> None:
    with pytest.raises(KeyringError, match="given twice"):
        ring(key("k1"), key("k1"))


# --- key lists and files ---------------------------------------------------------------------


def test_keys_parse_with_and_without_ids() -> None:
    material = os.urandom(32)
    encoded = base64.b64encode(material).decode()
    named, anonymous = parse([f"prod-2026:{encoded}", f" {encoded} "], "test")
    assert (named.id, named.material) == ("prod-2026", material)
    assert anonymous.id == derived_id(material) and len(anonymous.id) == 12
    assert material.hex()[:12] != anonymous.id  # the id is a hash, not a piece of the key


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "not base64!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(os.urandom(33)).decode(),
        "bad id:" + base64.b64encode(os.urandom(32)).decode(),
    ],
)
def test_malformed_keys_are_refused_without_quoting_them(entry: str) -> None:
    with pytest.raises(KeyringError) as caught:
        parse([entry], "ROLLOUT_SECRETS_KEY")
    assert "ROLLOUT_SECRETS_KEY" in str(caught.value)
    assert not entry or entry.split(":")[-1] not in str(caught.value)


def test_key_file_skips_comments_and_blank_lines() -> None:
    first, second = new_key(), new_key()
    keys = parse_file(f"# keys\n\n{first}\n  \nold:{second}\n", "secrets.key")
    assert [k.id for k in keys] == [derived_id(base64.b64decode(first)), "old"]


def test_load_prefers_the_variable_then_the_file(tmp_path: Path) -> None:
    a, b = new_key(), new_key()
    file = tmp_path / "secrets.key"
    file.write_text(f"from-file:{b}\n")
    assert load(f"env:{a}, other:{b}", None, file).ids == ("env", "other")
    assert load("", None, file).ids == ("from-file",)
    assert load("", None, tmp_path / "absent").primary is None  # no default file: no keys
    with pytest.raises(KeyringError, match="does not exist"):
        load("", tmp_path / "absent", file)


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    assert create_key_file(path)
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not create_key_file(path)
    assert path.read_text() == first
    assert load("", path, path).primary is not None


def test_blinding_tells_values_apart_only_with_the_key() -> None:
    k = key()
    keyring = ring(k)
    digest = keyring.blind(INSTANCE, "db", SECRET)
    assert digest == ring(k).blind(INSTANCE, "db", SECRET)
    assert digest not in (
        keyring.blind(INSTANCE, "db", SECRET + b"!"),
        keyring.blind(INSTANCE, "api", SECRET),
        keyring.blind(OTHER_INSTANCE, "db", SECRET),
        ring(key()).blind(INSTANCE, "db", SECRET),
    )
    assert Keyring().blind(INSTANCE, "db", SECRET) == b""
