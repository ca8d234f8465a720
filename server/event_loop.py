"""Which asyncio event loop rollout's processes run: ROLLOUT_EVENT_LOOP.

`uvloop` (the default) or `asyncio` (the standard library's). The bench's floor
runs the same loop, so the ratios compare like with like (README, Performance).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

CHOICES = ("uvloop", "asyncio")


def install(env: Mapping[str, str] = os.environ) -> str:
    """Makes the chosen loop the one asyncio creates from now on, in this process; returns its name.
    SystemExit for an unknown choice."""
    choice = env.get("ROLLOUT_EVENT_LOOP") or CHOICES[0]
    if choice not in CHOICES:
        raise SystemExit(f"rollout: ROLLOUT_EVENT_LOOP={choice!r} must be one of {', '.join(CHOICES)}")
    if choice == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return choice
