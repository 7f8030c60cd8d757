"""A plan changed: told to everyone who has the plan open, after the change is committed, so that
their pages read it again (the event carries no plan data; the read that follows is audited)."""

from __future__ import annotations

import uuid
from typing import Any

PlanChange = dict[str, Any]


def channel(plan_id: uuid.UUID) -> str:
    return f"sip:plan:{plan_id}"


def changed(plan_id: uuid.UUID, version: int, change: str) -> PlanChange:
    return {"plan": str(plan_id), "version": version, "change": change}
