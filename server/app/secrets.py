"""Instance secrets in clear, for the code that must use them, and their rotation to a new key.

Writing them is SetInstanceSecrets (server/app/instances.py); no RPC reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.keyring import Keyring, SecretsKeyUnavailable
from server.store import secrets as store

ROTATION_BATCH = 100  # instances per transaction: at most 100 × 64 values, a few ms of locks


async def current(conn: AsyncConnection, keyring: Keyring, organization_id: str, instance_id: str) -> dict[str, str]:
    """The instance's secrets now, decrypted (name → value); SecretsKeyUnavailable if a key is missing."""
    stored = await store.of_instance(conn, organization_id, instance_id)
    return {s.name: keyring.decrypt(s.key_id, s.instance_id, s.name, s.value).decode() for s in stored}


@dataclass(frozen=True)
class Rotation:
    key_id: str
    reencrypted: int
    # Values per key id after the run; anything beside `key_id` was written meanwhile by a
    # process that still has the old key list first.
    by_key: dict[str, int]


async def rotate(engine: AsyncEngine, keyring: Keyring, batch: int = ROTATION_BATCH) -> Rotation:
    """Seal every value not under the keyring's first key again under it, `batch` instances per transaction.

    Safe to run again, and alongside servers: each batch locks its instances as SetInstanceSecrets does.
    """
    primary = keyring.primary
    if primary is None:
        raise SecretsKeyUnavailable("no secrets key is configured: nothing to rotate to")
    done, after = 0, None
    while True:
        async with engine.begin() as conn:
            ids = await store.instances_not_under(conn, primary, after, batch)
            if not ids:
                break
            stale = await store.lock_not_under(conn, primary, ids)
            resealed = []
            for s in stale:
                sealed = keyring.reseal(s.key_id, s.instance_id, s.name, s.value)
                resealed.append(store.StoredSecret(s.instance_id, s.name, sealed.key_id, sealed.value))
            await store.replace_sealed(conn, resealed)
        done += len(resealed)
        after = ids[-1]
    async with engine.connect() as conn:
        by_key = await store.count_by_key(conn)
    return Rotation(primary, done, by_key)
