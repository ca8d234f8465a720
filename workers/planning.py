"""The plan job: PlanDeployment hands planning to a worker."""

from __future__ import annotations

from typing import Any

from server.app import planning


async def plan_deployment(ctx: dict[str, Any], deployment_id: str) -> None:
    await planning.plan_deployment(ctx["services"], deployment_id)
