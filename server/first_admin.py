"""`python -m server.first_admin`: the first organization admin, so a new install can be used at once.

Creates the organization (ROLLOUT_ORGANIZATION, default `acme`), a principal
`admin` in group `admins`, the policy granting `admins` every action, and a
token written to `<data dir>/admin.token` (mode 0600). Likewise the edge
router's SERVICE principal `router` (group `routers`, allowed only
`instance:read`) and `<data dir>/router.token`. Does nothing for a file that
holds a token that still works. `make run` calls it on every start.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from server.app.identity import new_token
from server.authz import ADMINS_POLICY
from server.domain.audit import AuditEntry
from server.domain.models import PrincipalKind
from server.domain.tokens import hash_token
from server.store import audit as audit_store
from server.store import identity as store
from server.store.db import create_engine

ADMIN_GROUP = "admins"
ROUTER_GROUP = "routers"
# WatchRoutes reads every instance's route: `instance:read` on the organization, nothing else.
ROUTERS_POLICY = 'permit(principal in Rollout::Group::"routers", action == Rollout::Action::"instance:read", resource);'


async def create_admin(
    engine: AsyncEngine,
    organization_id: str,
    name: str = "admin",
    ttl: timedelta = timedelta(days=365),
    *,
    kind: PrincipalKind = PrincipalKind.USER,
    group: str = ADMIN_GROUP,
    policy: str = ADMINS_POLICY,
) -> str:
    """A new token of the organization's admin, or of another principal of `group` that `policy` allows
    what it needs (created with the organization if need be)."""
    token, token_hash = new_token()
    async with engine.begin() as conn:
        await store.ensure_organization(conn, organization_id)
        existing = [p for p in await store.list_principals(conn, organization_id, None, 10_000) if p.name == name]
        principal = existing[0] if existing else await store.insert_principal(
            conn,
            {
                "id": str(uuid.uuid4()),
                "organization_id": organization_id,
                "name": name,
                "kind": kind.value,
                "groups": [group],
            },
        )
        if not any(p["name"] == group for p in await store.list_policies(conn, organization_id)):
            await store.put_policy(conn, organization_id, group, policy)
        await store.insert_token(
            conn,
            {
                "id": str(uuid.uuid4()),
                "organization_id": organization_id,
                "principal_id": principal.id,
                "hash": token_hash,
                "expire_time": datetime.now(UTC) + ttl,
            },
        )
        await audit_store.append(
            conn, organization_id, AuditEntry("organization.bootstrap", f"principals/{principal.id}"),
            actor="bootstrap", actor_kind="service", request_id="", attribution="", outcome="ok",
        )
    return token


async def _still_valid(engine: AsyncEngine, token: str) -> bool:
    async with engine.connect() as conn:
        found = await store.by_token(conn, hash_token(token))
    return found is not None and not (found.expired or found.revoked or found.principal.disabled)


async def ensure_admin_token(database_url: str, organization_id: str, token_file: Path, router: bool = False) -> bool:
    """True if a new admin token (or with `router`, a new router token) was written."""
    engine = create_engine(database_url, 1)
    try:
        if token_file.exists() and await _still_valid(engine, token_file.read_text().strip()):
            return False
        token = await (
            create_admin(engine, organization_id, "router", kind=PrincipalKind.SERVICE, group=ROUTER_GROUP, policy=ROUTERS_POLICY)
            if router
            else create_admin(engine, organization_id)
        )
    finally:
        await engine.dispose()
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    os.chmod(token_file, 0o600)
    return True


def main() -> None:
    url = os.environ.get("ROLLOUT_DATABASE_URL")
    if not url:
        raise SystemExit("rollout: set ROLLOUT_DATABASE_URL to create the first admin")
    organization_id = os.environ.get("ROLLOUT_ORGANIZATION") or "acme"
    data = Path(os.environ.get("ROLLOUT_DATA_DIR") or ".rollout")
    for who, token_file in (("admin", data / "admin.token"), ("router", data / "router.token")):
        created = asyncio.run(ensure_admin_token(url, organization_id, token_file, router=who == "router"))
        state = f"wrote a new {who} token to" if created else f"{who} token in"
        # The launcher prints how to use it, with the address it really serves on.
        print(f"rollout: organization {organization_id!r}: {state} {token_file}", file=sys.stderr)


if __name__ == "__main__":
    main()
