"""The load: clients doing what an incident makes people do, each mutating call with its own key.

Operators create instances (STATIC, and DYNAMIC with 2 replicas), publish
releases, change params, propose, plan, approve, reject, roll back to an
earlier COMPLETED PROVISION, decommission, read, and watch what they
approved. Observers follow whole instances with WatchInstance. Params carry
`rollout.simulate`: realistic delays, and on a known minority of deployments
an injected failure (`fail: provision` / `fail: health`) — those are the
expected failures, told apart from the ones a fault causes.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import field_mask_pb2, struct_pb2

from chaos.calls import Caller
from chaos.watch import Seen, watch_deployment, watch_instance
from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from tools.bundle import minimal

BUNDLE = "web"
SIMULATE = "rollout.simulate"
LAST_GOOD = "action = PROVISION AND status = COMPLETED"
MAX_INSTANCES = 4  # per operator
WATCH_SECONDS = 60.0


@dataclass
class InstanceRef:
    id: str
    kind: pb.Instance.Kind
    params: dict[str, Any]


@dataclass
class Ledger:
    """What the clients were told: the campaign's side of every invariant."""

    approved: dict[str, str] = field(default_factory=dict)  # deployment id -> organization
    not_approved: dict[str, str] = field(default_factory=dict)  # deployment id -> final code of its approval
    by_key: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (org, request_id) -> deployment ids
    watches: list[Seen] = field(default_factory=list)
    instances: dict[str, list[InstanceRef]] = field(default_factory=dict)  # org -> every instance created
    ops: Counter[str] = field(default_factory=Counter)

    def created(self, org: str, key: str, deployment_id: str) -> None:
        self.by_key.setdefault((org, key), set()).add(deployment_id)


def simulate(rng: random.Random, kind: pb.Instance.Kind, injected_failures: bool) -> dict[str, Any]:
    """Delays for the simulated driver, and sometimes a failure on purpose."""
    options: dict[str, Any] = {"delay_ms": rng.randint(50, 400)}
    if kind == pb.Instance.KIND_DYNAMIC:
        options["spawn_delay_ms"] = rng.randint(50, 300)
    if injected_failures:
        roll = rng.random()
        if roll < 0.10:
            options["fail"] = "provision"
        elif roll < 0.20 and kind == pb.Instance.KIND_DYNAMIC:
            options["fail"] = "health"
    return options


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


class Client:
    """One operator (or observer) of one organization, until `stop` is set."""

    def __init__(self, number: int, org: str, caller: Caller, ledger: Ledger, rng: random.Random,
                 stop: asyncio.Event, observer: bool = False) -> None:
        self.number, self.org, self.caller, self.ledger, self.rng = number, org, caller, ledger, rng
        self.stop, self.observer = stop, observer
        self.mine: list[InstanceRef] = []
        self.last_deployment = ""
        self._keys = itertools.count()

    def key(self, what: str) -> str:
        return f"chaos-{self.org}-c{self.number}-{next(self._keys)}-{what}"

    async def run(self) -> None:
        ops = [
            (self.deploy, 30), (self.roll_back, 20), (self.reject, 6), (self.publish, 4),
            (self.read, 20), (self.create, 3), (self.update, 6), (self.decommission, 1),
        ]
        functions, weights = [f for f, _ in ops], [w for _, w in ops]
        while not self.stop.is_set():
            if self.observer:
                await self.observe()
            elif len(self.mine) < 2:
                await self.create(self.rng.choice((pb.Instance.KIND_STATIC, pb.Instance.KIND_DYNAMIC)))
            else:
                await self.rng.choices(functions, weights)[0]()
            await asyncio.sleep(self.rng.uniform(0.01, 0.06))

    async def call(self, method: str, request: Any) -> Any:
        self.ledger.ops[method] += 1
        answer = await self.caller.call(method, request)
        return answer.response if answer.ok else None

    # Operators

    async def create(self, kind: pb.Instance.Kind | None = None) -> None:
        if len(self.mine) >= MAX_INSTANCES:
            return await self.read()
        kind = kind if kind is not None else self.rng.choice((pb.Instance.KIND_STATIC, pb.Instance.KIND_DYNAMIC))
        params = {"workers": self.rng.randint(1, 8), SIMULATE: simulate(self.rng, kind, injected_failures=False)}
        instance = pb.Instance(
            name=f"c{self.number}-{len(self.mine)}", project="chaos", environment="production", bundle=BUNDLE,
            kind=kind, replicas=2 if kind == pb.Instance.KIND_DYNAMIC else 0, version_constraint="^1",
            params=_struct(params),
        )
        created = await self.call("CreateInstance", api.CreateInstanceRequest(
            organization_id=self.org, request_id=self.key("create"), instance=instance))
        if created is not None:
            ref = InstanceRef(created.id, kind, params)
            self.mine.append(ref)
            self.ledger.instances.setdefault(self.org, []).append(ref)

    async def update(self, ref: InstanceRef | None = None) -> None:
        ref = ref or self.rng.choice(self.mine)
        params = {"workers": self.rng.randint(1, 8), SIMULATE: simulate(self.rng, ref.kind, injected_failures=True)}
        updated = await self.call("UpdateInstance", api.UpdateInstanceRequest(
            organization_id=self.org, id=ref.id, request_id=self.key("update"),
            instance=pb.Instance(params=_struct(params)), update_mask=field_mask_pb2.FieldMask(paths=["params"])))
        if updated is not None:
            ref.params = params

    async def publish(self) -> None:
        version = f"1.{self.number + 2}.{next(self._keys)}"
        await self.call("PublishRelease", api.PublishReleaseRequest(
            organization_id=self.org, request_id=self.key("publish"),
            release=pb.Release(bundle=BUNDLE, version=version), artifact_content=minimal(version)))

    async def propose(self, ref: InstanceRef) -> Any:
        key = self.key("propose")
        proposal = await self.call("ProposeDeployment", api.ProposeDeploymentRequest(
            organization_id=self.org, instance_id=ref.id, request_id=key, message="chaos"))
        if proposal is not None:
            self.ledger.created(self.org, key, proposal.id)
            self.last_deployment = proposal.id
        return proposal

    async def approve_and_watch(self, deployment_id: str, watch: float) -> None:
        if self.rng.random() < 0.3:
            await self.call("PlanDeployment", api.PlanDeploymentRequest(
                organization_id=self.org, id=deployment_id, request_id=self.key("plan")))
        self.ledger.ops["ApproveDeployment"] += 1
        answer = await self.caller.call("ApproveDeployment", api.ApproveDeploymentRequest(
            organization_id=self.org, id=deployment_id, request_id=self.key("approve")))
        if not answer.ok or answer.response.status != pb.Deployment.STATUS_PENDING:
            self.ledger.not_approved[deployment_id] = answer.code.name
            return
        self.ledger.approved[deployment_id] = self.org
        if self.rng.random() < watch:
            seen = Seen("deployment", deployment_id)
            self.ledger.watches.append(seen)
            self.ledger.ops["WatchDeployment"] += 1
            await watch_deployment(self.caller, self.org, deployment_id, seen, WATCH_SECONDS)

    async def deploy(self) -> None:
        ref = self.rng.choice(self.mine)
        if self.rng.random() < 0.4:
            await self.update(ref)
        proposal = await self.propose(ref)
        if proposal is not None:
            await self.approve_and_watch(proposal.id, watch=0.6)

    async def roll_back(self) -> None:
        ref = self.rng.choice(self.mine)
        listed = await self.call("ListDeployments", api.ListDeploymentsRequest(
            organization_id=self.org, instance_id=ref.id, filter=LAST_GOOD, order_by="create_time desc", page_size=5))
        if listed is None or len(listed.deployments) < 2:
            return await self.deploy()
        source = self.rng.choice(list(listed.deployments)[1:])  # an earlier good one, not the newest
        key = self.key("rollback")
        rollback = await self.call("RollbackDeployment", api.RollbackDeploymentRequest(
            organization_id=self.org, id=source.id, request_id=key))
        if rollback is None:
            return
        self.ledger.created(self.org, key, rollback.id)
        self.last_deployment = rollback.id
        if self.rng.random() < 0.1:
            await self._reject(rollback.id)
        else:
            await self.approve_and_watch(rollback.id, watch=0.5)

    async def reject(self) -> None:
        proposal = await self.propose(self.rng.choice(self.mine))
        if proposal is not None:
            if self.rng.random() < 0.5:
                await self.call("PlanDeployment", api.PlanDeploymentRequest(
                    organization_id=self.org, id=proposal.id, request_id=self.key("plan")))
            await self._reject(proposal.id)

    async def _reject(self, deployment_id: str) -> None:
        await self.call("RejectDeployment", api.RejectDeploymentRequest(
            organization_id=self.org, id=deployment_id, request_id=self.key("reject"), reason="chaos: not now"))

    async def decommission(self) -> None:
        ref = self.rng.choice(self.mine)
        key = self.key("decommission")
        proposal = await self.call("DecommissionInstance", api.DecommissionInstanceRequest(
            organization_id=self.org, id=ref.id, request_id=key, message="chaos"))
        if proposal is not None:
            self.ledger.created(self.org, key, proposal.id)
            await self.approve_and_watch(proposal.id, watch=0.5)

    async def read(self) -> None:
        ref = self.rng.choice(self.mine) if self.mine else None
        roll = self.rng.random()
        if self.last_deployment and roll < 0.3:
            await self.call("GetDeployment", api.GetDeploymentRequest(organization_id=self.org, id=self.last_deployment))
        elif ref is not None and roll < 0.6:
            await self.call("ListDeployments", api.ListDeploymentsRequest(
                organization_id=self.org, instance_id=ref.id, order_by="create_time desc", page_size=20))
        elif ref is not None and roll < 0.9:
            await self.call("GetInstance", api.GetInstanceRequest(organization_id=self.org, id=ref.id))
        else:
            await self.call("ListInstances", api.ListInstancesRequest(organization_id=self.org, page_size=50))

    # Observers

    async def observe(self) -> None:
        candidates = self.ledger.instances.get(self.org, [])
        if not candidates:
            await asyncio.sleep(0.5)
            return
        ref = self.rng.choice(candidates)
        seen = Seen("instance", ref.id)
        self.ledger.watches.append(seen)
        self.ledger.ops["WatchInstance"] += 1
        await watch_instance(self.caller, self.org, ref.id, seen, self.rng.uniform(4, 10))
