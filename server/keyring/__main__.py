"""`python -m server.keyring`: rotate instance secrets to a new key, show which keys hold them, make a key.

Run it with the servers' environment (ROLLOUT_DATABASE_URL, ROLLOUT_REDIS_URL and the keys):

    generate   print a new key, to put first in ROLLOUT_SECRETS_KEY or the key file
    status     how many values each key id holds
    rotate     seal every value again under the first key; exits 1 if some remain under other keys
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from server import keyring
from server.app import secrets
from server.config import Settings
from server.store import secrets as store
from server.store.db import create_engine


async def _status(settings: Settings) -> int:
    engine = create_engine(settings.database_url, 1)
    try:
        async with engine.connect() as conn:
            counts = await store.count_by_key(conn)
    finally:
        await engine.dispose()
    for key_id, count in sorted(counts.items()):
        print(f"{key_id}\t{count}")
    return 0


async def _rotate(settings: Settings) -> int:
    ring = keyring.from_settings(settings)
    engine = create_engine(settings.database_url, 1)
    try:
        result = await secrets.rotate(engine, ring)
    except keyring.SecretsKeyUnavailable as exc:
        print(f"rollout: {exc.message}; values rotated before this one stay rotated", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"{result.reencrypted} values sealed again under key {result.key_id}")
    others = {k: n for k, n in result.by_key.items() if k != result.key_id}
    if others:
        listed = ", ".join(f"{n} under {k}" for k, n in sorted(others.items()))
        print(
            f"rollout: still {listed}: a server or worker still has the old key first; "
            "restart it with the new key list and run rotate again",
            file=sys.stderr,
        )
        return 1
    print("no value is under any other key: older keys can be removed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.keyring", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["generate", "status", "rotate"])
    args = parser.parse_args(argv)
    if args.command == "generate":
        print(keyring.new_key())
        return 0
    logging.basicConfig(level=logging.INFO, format="rollout: %(message)s", stream=sys.stderr)
    settings = Settings.from_env()
    return asyncio.run(_status(settings) if args.command == "status" else _rotate(settings))


if __name__ == "__main__":
    raise SystemExit(main())
