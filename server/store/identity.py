"""Queries on organizations, principals, tokens, policies and approval rules (approvals are read with the
lock, server/store/locking.py, and recorded with their events, server/store/deployments.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.listing import Cursor
from server.domain.models import ApprovalRule, Principal, PrincipalKind
from server.store import sql
from server.store.db import unique
from server.store.paging import keyset
from server.store.tables import (
    approval_rules,
    deployments,
    instances,
    organizations,
    policies,
    principals,
    releases,
    tokens,
)


def to_principal(row: Any) -> Principal:
    m = row._mapping if isinstance(row, sa.Row) else row
    return Principal(
        id=m["id"],
        organization_id=m["organization_id"],
        name=m["name"],
        kind=PrincipalKind(m["kind"]),
        groups=tuple(m["groups"]),
        disabled=m["disabled"],
        create_time=m["create_time"],
    )


@dataclass(frozen=True)
class TokenRow:
    id: str
    principal_id: str
    expire_time: datetime
    revoked: bool
    create_time: datetime


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    expired: bool
    revoked: bool
    policy_version: int


_BY_TOKEN = (
    sa.select(
        principals,
        (tokens.c.expire_time <= sa.func.now()).label("expired"),
        tokens.c.revoked,
        organizations.c.policy_version,
    )
    .select_from(
        tokens.join(principals, principals.c.id == tokens.c.principal_id).join(
            organizations, organizations.c.id == principals.c.organization_id
        )
    )
    .where(tokens.c.hash == sa.bindparam("hash"))
)


async def by_token(conn: AsyncConnection, token_hash: str) -> Authenticated | None:
    """The principal a token hash belongs to, with the token's state, in one query."""
    row = (await conn.execute(_BY_TOKEN, {"hash": token_hash})).first()
    if row is None:
        return None
    return Authenticated(to_principal(row), bool(row.expired), bool(row.revoked), int(row.policy_version))


# The guard's two lookups in one round trip (plain asyncpg, server/store/sql.py): the token's
# principal, and the attributes of the instance the call names, directly or through a deployment.
_RESOURCE_OF = {
    "instance": "SELECT x.id::text AS id, x.project, x.environment, x.labels, x.bundle FROM instances x"
    " WHERE x.organization_id = $2 AND x.id = $3::uuid",
    "deployment": "SELECT x.id::text AS id, x.project, x.environment, x.labels, x.bundle"
    " FROM deployments d JOIN instances x ON x.id = d.instance_id WHERE d.organization_id = $2 AND d.id = $3::uuid",
}
_BY_TOKEN_WITH = {
    kind: f"""
    SELECT {sql.columns(principals, "p")}, t.expire_time <= now() AS expired, t.revoked, o.policy_version,
           r.id AS r_id, r.project AS r_project, r.environment AS r_environment, r.labels AS r_labels,
           r.bundle AS r_bundle
    FROM tokens t JOIN principals p ON p.id = t.principal_id JOIN organizations o ON o.id = p.organization_id
    LEFT JOIN LATERAL ({resource}) r ON true
    WHERE t.hash = $1
    """
    for kind, resource in _RESOURCE_OF.items()
}


@dataclass(frozen=True)
class InstanceAttrs:
    id: str
    project: str
    environment: str
    labels: dict[str, str]
    bundle: str


async def by_token_with_instance(
    conn: sql.Conn, token_hash: str, kind: str, organization_id: str, target_id: str
) -> tuple[Authenticated, InstanceAttrs | None] | None:
    """`by_token`, and in the same round trip what `instance_for` (kind "instance") or
    `instance_of_deployment` (kind "deployment") would find. `target_id` must be a UUID."""
    row = await (await sql.raw(conn)).fetchrow(_BY_TOKEN_WITH[kind], token_hash, organization_id, target_id)
    if row is None:
        return None
    who = Authenticated(to_principal(row), bool(row["expired"]), bool(row["revoked"]), int(row["policy_version"]))
    attrs = None
    if row["r_id"] is not None:
        attrs = InstanceAttrs(row["r_id"], row["r_project"], row["r_environment"], row["r_labels"], row["r_bundle"])
    return who, attrs


async def by_name(conn: AsyncConnection, organization_id: str, name: str) -> Authenticated | None:
    """For mTLS: the principal a client certificate names."""
    row = (
        await conn.execute(
            sa.select(principals, organizations.c.policy_version)
            .select_from(principals.join(organizations, organizations.c.id == principals.c.organization_id))
            .where(principals.c.organization_id == organization_id, principals.c.name == name)
        )
    ).first()
    return Authenticated(to_principal(row), False, False, int(row.policy_version)) if row else None


async def ensure_organization(conn: AsyncConnection, organization_id: str) -> None:
    await conn.execute(pg_insert(organizations).values(id=organization_id).on_conflict_do_nothing())


async def bump_policy_version(conn: AsyncConnection, organization_id: str) -> None:
    await conn.execute(
        organizations.update()
        .where(organizations.c.id == organization_id)
        .values(policy_version=organizations.c.policy_version + 1)
    )


async def insert_principal(conn: AsyncConnection, values: dict[str, Any]) -> Principal:
    """Taken if the organization has a principal of that name."""
    with unique("uq_principals_name"):
        row = (await conn.execute(principals.insert().values(**values).returning(principals))).one()
    return to_principal(row)


async def get_principal(conn: AsyncConnection, organization_id: str, principal_id: str) -> Principal | None:
    row = (
        await conn.execute(
            sa.select(principals).where(principals.c.organization_id == organization_id, principals.c.id == principal_id)
        )
    ).first()
    return to_principal(row) if row else None


async def list_principals(
    conn: AsyncConnection, organization_id: str, after: Cursor | None, limit: int
) -> list[Principal]:
    query = sa.select(principals).where(principals.c.organization_id == organization_id)
    rows = await conn.execute(keyset(query, principals, False, after, limit))
    return [to_principal(r) for r in rows]


async def update_principal(conn: AsyncConnection, principal_id: str, values: dict[str, Any]) -> Principal:
    row = (
        await conn.execute(principals.update().where(principals.c.id == principal_id).values(**values).returning(principals))
    ).one()
    return to_principal(row)


def _token(row: Any) -> TokenRow:
    m = row._mapping
    return TokenRow(m["id"], m["principal_id"], m["expire_time"], m["revoked"], m["create_time"])


async def insert_token(conn: AsyncConnection, values: dict[str, Any]) -> TokenRow:
    return _token((await conn.execute(tokens.insert().values(**values).returning(tokens))).one())


async def revoke_token(conn: AsyncConnection, organization_id: str, token_id: str) -> TokenRow | None:
    row = (
        await conn.execute(
            tokens.update()
            .where(tokens.c.organization_id == organization_id, tokens.c.id == token_id)
            .values(revoked=True)
            .returning(tokens)
        )
    ).first()
    return _token(row) if row else None


async def policy_texts(conn: AsyncConnection, organization_id: str) -> list[str]:
    rows = await conn.execute(
        sa.select(policies.c.cedar).where(policies.c.organization_id == organization_id).order_by(policies.c.name)
    )
    return [r.cedar for r in rows]


async def list_policies(conn: AsyncConnection, organization_id: str) -> list[Any]:
    rows = await conn.execute(
        sa.select(policies).where(policies.c.organization_id == organization_id).order_by(policies.c.name)
    )
    return [r._mapping for r in rows]


async def put_policy(conn: AsyncConnection, organization_id: str, name: str, cedar: str) -> Any:
    stmt = pg_insert(policies).values(organization_id=organization_id, name=name, cedar=cedar)
    row = (
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[policies.c.organization_id, policies.c.name],
                set_={"cedar": stmt.excluded.cedar, "update_time": sa.func.now()},
            ).returning(policies)
        )
    ).one()
    await bump_policy_version(conn, organization_id)
    return row._mapping


async def delete_policy(conn: AsyncConnection, organization_id: str, name: str) -> Any | None:
    row = (
        await conn.execute(
            policies.delete()
            .where(policies.c.organization_id == organization_id, policies.c.name == name)
            .returning(policies)
        )
    ).first()
    if row is not None:
        await bump_policy_version(conn, organization_id)
    return row._mapping if row else None


async def rules(conn: AsyncConnection, organization_id: str) -> list[ApprovalRule]:
    rows = await conn.execute(
        sa.select(approval_rules)
        .where(approval_rules.c.organization_id == organization_id)
        .order_by(approval_rules.c.environment)
    )
    return [ApprovalRule(r.environment, r.required_approvals, r.proposer_may_approve) for r in rows]


async def put_rule(conn: AsyncConnection, organization_id: str, rule: ApprovalRule) -> None:
    stmt = pg_insert(approval_rules).values(
        organization_id=organization_id,
        environment=rule.environment,
        required_approvals=rule.required_approvals,
        proposer_may_approve=rule.proposer_may_approve,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[approval_rules.c.organization_id, approval_rules.c.environment],
            set_={"required_approvals": stmt.excluded.required_approvals, "proposer_may_approve": stmt.excluded.proposer_may_approve},
        )
    )


# Attributes of the resource an RPC acts on, for policy conditions.

_INSTANCE_ATTRS = (instances.c.id, instances.c.project, instances.c.environment, instances.c.labels, instances.c.bundle)


# Built once: every call is authorized, so these run on every RPC.
_INSTANCE_FOR = sa.select(*_INSTANCE_ATTRS).where(
    instances.c.organization_id == sa.bindparam("org"), instances.c.id == sa.bindparam("id")
)
_INSTANCE_OF_DEPLOYMENT = (
    sa.select(*_INSTANCE_ATTRS)
    .select_from(deployments.join(instances, instances.c.id == deployments.c.instance_id))
    .where(deployments.c.organization_id == sa.bindparam("org"), deployments.c.id == sa.bindparam("id"))
)
_RELEASE_FOR = sa.select(releases.c.id, releases.c.bundle, releases.c.release_channel).where(
    releases.c.organization_id == sa.bindparam("org"), releases.c.id == sa.bindparam("id")
)


async def instance_for(conn: AsyncConnection, organization_id: str, instance_id: str) -> Any | None:
    return (await conn.execute(_INSTANCE_FOR, {"org": organization_id, "id": instance_id})).first()


async def instance_of_deployment(conn: AsyncConnection, organization_id: str, deployment_id: str) -> Any | None:
    return (await conn.execute(_INSTANCE_OF_DEPLOYMENT, {"org": organization_id, "id": deployment_id})).first()


async def release_for(conn: AsyncConnection, organization_id: str, release_id: str) -> Any | None:
    return (await conn.execute(_RELEASE_FOR, {"org": organization_id, "id": release_id})).first()
