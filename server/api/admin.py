"""The organization administration RPCs: principals, tokens, policies, approval rules (issue #5).

A mixin of RolloutService (server/api/servicer.py): same guard, same mutation runner.
"""

from __future__ import annotations

from typing import Any

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from server.api import convert, requests
from server.api.calls import Context, mutate, unary
from server.api.guard import Guard
from server.app import identity
from server.app.context import Caller, Services
from server.domain.audit import AuditEntry


class AdminRpcs:
    svc: Services
    guard: Guard

    @unary(requests.create_principal)
    async def CreatePrincipal(
        self, request: api.CreatePrincipalRequest, context: Context, who: Caller, parsed: Any
    ) -> pb.Principal:
        name, kind, groups = parsed
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("principal.create", "principals"),
            lambda conn, who: identity.create_principal(conn, self.svc, who, name, kind, groups),
            convert.principal,
            pb.Principal,
        )

    @unary(requests.paging)
    async def ListPrincipals(
        self, request: api.ListPrincipalsRequest, context: Context, who: Caller, _: object
    ) -> api.ListPrincipalsResponse:
        rows, token = await identity.list_principals(self.svc, who, request.page_size, request.page_token)
        return api.ListPrincipalsResponse(principals=[convert.principal(p) for p in rows], next_page_token=token)

    @unary(requests.update_principal)
    async def UpdatePrincipal(
        self, request: api.UpdatePrincipalRequest, context: Context, who: Caller, changes: Any
    ) -> pb.Principal:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("principal.update", f"principals/{request.id}"),
            lambda conn, who: identity.update_principal(conn, self.svc, who, request.id, changes),
            convert.principal,
            pb.Principal,
        )

    @unary(requests.create_token)
    async def CreateToken(
        self, request: api.CreateTokenRequest, context: Context, who: Caller, _: object
    ) -> api.CreateTokenResponse:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("token.create", f"principals/{request.principal_id}"),
            lambda conn, who: identity.create_token(conn, self.svc, who, request.principal_id, request.ttl_seconds),
            lambda made: api.CreateTokenResponse(token=made[0], info=convert.token_info(made[1])),
            api.CreateTokenResponse,
        )

    @unary(requests.named)
    async def RevokeToken(
        self, request: api.RevokeTokenRequest, context: Context, who: Caller, _: object
    ) -> pb.TokenInfo:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("token.revoke", f"tokens/{request.id}"),
            lambda conn, who: identity.revoke_token(conn, self.svc, who, request.id),
            convert.token_info,
            pb.TokenInfo,
        )

    @unary(requests.put_policy)
    async def PutPolicy(self, request: api.PutPolicyRequest, context: Context, who: Caller, parsed: Any) -> pb.Policy:
        name, cedar = parsed
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("policy.put", f"policies/{name}"),
            lambda conn, who: identity.put_policy(conn, self.svc, who, name, cedar),
            convert.policy,
            pb.Policy,
        )

    @unary(requests.delete_policy)
    async def DeletePolicy(
        self, request: api.DeletePolicyRequest, context: Context, who: Caller, _: object
    ) -> pb.Policy:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("policy.delete", f"policies/{request.name}"),
            lambda conn, who: identity.delete_policy(conn, self.svc, who, request.name),
            convert.policy,
            pb.Policy,
        )

    @unary(requests.organization_only)
    async def ListPolicies(
        self, request: api.ListPoliciesRequest, context: Context, who: Caller, _: object
    ) -> api.ListPoliciesResponse:
        return api.ListPoliciesResponse(
            policies=[convert.policy(p) for p in await identity.list_policies(self.svc, who)]
        )

    @unary(requests.put_approval_rule)
    async def PutApprovalRule(
        self, request: api.PutApprovalRuleRequest, context: Context, who: Caller, rule: Any
    ) -> pb.ApprovalRule:
        return await mutate(
            self.svc,
            request,
            context,
            who,
            AuditEntry("approval_rule.put", f"approval_rules/{rule.environment}"),
            lambda conn, who: identity.put_approval_rule(conn, self.svc, who, rule),
            convert.approval_rule,
            pb.ApprovalRule,
        )

    @unary(requests.organization_only)
    async def ListApprovalRules(
        self, request: api.ListApprovalRulesRequest, context: Context, who: Caller, _: object
    ) -> api.ListApprovalRulesResponse:
        rules = await identity.list_approval_rules(self.svc, who)
        return api.ListApprovalRulesResponse(rules=[convert.approval_rule(r) for r in rules])
