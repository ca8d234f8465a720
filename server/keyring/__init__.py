"""Instance secrets at rest: AES-256-GCM under named keys, so keys can be rotated (ADR 009).

A key is written `<base64 of 32 bytes>` or `<key id>:<base64 of 32 bytes>`;
without an id, the id is derived from the key. ROLLOUT_SECRETS_KEY holds a
comma-separated list of keys, a key file one key per line (`#` comments and
blank lines ignored). The first key encrypts new values; every key decrypts.

Each value is sealed with a random 96-bit nonce, and with its instance id and
secret name as associated data: a ciphertext copied onto another row does not
decrypt. Neither keys nor values nor ciphertexts appear in any message here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.config import Settings
from server.domain.errors import Unavailable

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE_NAME = "secrets.key"
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_AAD_PREFIX = b"rollout/instance-secret/v1\0"


class KeyringError(ValueError):
    """A key list or key file that cannot be used (never quotes the keys)."""


class SecretsKeyUnavailable(Unavailable):
    """This process lacks the key a secret needs. UNAVAILABLE, not FAILED_PRECONDITION (ADR 009):
    the fault is this process's configuration, another replica or a restart with the key may
    succeed with the very same request, and it must not burn the request's idempotency key."""

    reason = "SECRETS_KEY_UNAVAILABLE"


@dataclass(frozen=True)
class Key:
    id: str
    material: bytes = field(repr=False)


@dataclass(frozen=True)
class Sealed:
    key_id: str
    value: bytes = field(repr=False)


def derived_id(material: bytes) -> str:
    """A stable id for a key given without one: a short hash, which reveals nothing about the key."""
    return hashlib.sha256(b"rollout-secrets-key-id\0" + material).hexdigest()[:12]


def parse(entries: Sequence[str], source: str) -> list[Key]:
    """Keys from `<base64>` or `<id>:<base64>` entries; `source` names them in errors."""
    keys: list[Key] = []
    for number, entry in enumerate(entries, start=1):
        key_id, _, encoded = entry.strip().rpartition(":")
        try:
            material = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            material = b""
        if len(material) != KEY_BYTES:
            raise KeyringError(f"key {number} of {source} is not the base64 of {KEY_BYTES} bytes")
        if key_id and not _KEY_ID.fullmatch(key_id):
            raise KeyringError(f"key {number} of {source}: a key id is 1-64 letters, digits, '.', '_' or '-'")
        keys.append(Key(key_id or derived_id(material), material))
    if not keys:
        raise KeyringError(f"{source} holds no key")
    return keys


def parse_file(text: str, source: str) -> list[Key]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return parse(lines, source)


class Keyring:
    """Keys by id: the first one seals new values, any of them opens a value it sealed."""

    def __init__(self, keys: Sequence[Key] = ()) -> None:
        self._ciphers: dict[str, AESGCM] = {}
        for key in keys:
            if key.id in self._ciphers:
                raise KeyringError(f"key id {key.id!r} is given twice")
            self._ciphers[key.id] = AESGCM(key.material)
        self.primary: str | None = keys[0].id if keys else None
        self._blinding = (
            HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=b"rollout/request-fingerprint/v1").derive(keys[0].material)
            if keys else b""
        )

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids!r})"

    def encrypt(self, instance_id: str, name: str, plaintext: bytes) -> Sealed:
        if self.primary is None:
            raise SecretsKeyUnavailable(
                "no secrets key is configured (ROLLOUT_SECRETS_KEY or ROLLOUT_SECRETS_KEY_FILE): "
                "secret values cannot be stored"
            )
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary].encrypt(nonce, plaintext, _aad(instance_id, name))
        return Sealed(self.primary, nonce + sealed)

    def decrypt(self, key_id: str, instance_id: str, name: str, value: bytes) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretsKeyUnavailable(
                f"secret {name!r} of instance {instance_id} is encrypted with key {key_id!r}, "
                "which this process is not configured with"
            )
        try:
            return cipher.decrypt(value[:NONCE_BYTES], value[NONCE_BYTES:], _aad(instance_id, name))
        except InvalidTag:
            raise SecretsKeyUnavailable(
                f"secret {name!r} of instance {instance_id} does not decrypt with key {key_id!r}: "
                "that key is not the one it was encrypted with, or the stored value was altered"
            ) from None

    def blind(self, instance_id: str, name: str, value: bytes) -> bytes:
        """A keyed digest that tells two values apart without being a hash anyone can test guesses against:
        what an idempotency fingerprint keeps instead of the value. Empty without a key (nothing is stored then)."""
        if not self._blinding:
            return b""
        return hmac.new(self._blinding, _aad(instance_id, name) + b"\0" + value, hashlib.sha256).digest()

    def reseal(self, key_id: str, instance_id: str, name: str, value: bytes) -> Sealed:
        """The same secret sealed again under the primary key (rotation)."""
        return self.encrypt(instance_id, name, self.decrypt(key_id, instance_id, name, value))


def _aad(instance_id: str, name: str) -> bytes:
    # Names are [A-Za-z][A-Za-z0-9_-]* and ids UUIDs: the NUL separator is unambiguous.
    return _AAD_PREFIX + instance_id.encode() + b"\0" + name.encode()


def load(key: str, key_file: Path | None, default_file: Path) -> Keyring:
    """ROLLOUT_SECRETS_KEY if set, else the key file. A missing default file means no keys;
    a missing file that was named explicitly is an error."""
    if key:
        return Keyring(parse(key.split(","), "ROLLOUT_SECRETS_KEY"))
    path = key_file or default_file
    try:
        text = path.read_text()
    except FileNotFoundError:
        if key_file is not None:
            raise KeyringError(f"ROLLOUT_SECRETS_KEY_FILE {path} does not exist") from None
        return Keyring()
    except OSError as exc:
        raise KeyringError(f"cannot read the secrets key file {path}: {exc.strerror}") from None
    return Keyring(parse_file(text, str(path)))


def from_settings(settings: Settings) -> Keyring:
    """The process's keyring; a key list or file that is set but unusable stops the process."""
    try:
        keyring = load(settings.secrets_key, settings.secrets_key_file, settings.data_dir / KEY_FILE_NAME)
    except KeyringError as exc:
        raise SystemExit(f"rollout: {exc}") from None
    if keyring.primary is None:
        log.warning("no secrets key configured: SetInstanceSecrets refuses values (ADR 009)")
    else:
        log.info("secrets key %s encrypts new values (%d keys loaded)", keyring.primary, len(keyring.ids))
    return keyring


def new_key() -> str:
    """A fresh key, as written in ROLLOUT_SECRETS_KEY or a key file."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def create_key_file(path: Path) -> bool:
    """Write a new key file (mode 0600) at `path` unless one exists; True if it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(
            "# rollout instance-secrets keys, one per line: `<base64>` or `<key id>:<base64>`.\n"
            "# The first encrypts new values; keep older ones until `python -m server.keyring rotate` ran.\n"
            f"{new_key()}\n"
        )
    return True
