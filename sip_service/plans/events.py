"""A plan changed: told to everyone who has the plan open, after the change is committed, so that
their pages read it again (the event carries no plan data; the read that follows is audited).

A plan finalized (a new revision) is also noted on the unit of work's session (`note_finalized`), so
that the runner (`usecases.run`) queues the record systems' notifications in the same transaction:
they exist only if the finalization is committed, and are sent from the outbox after it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

PlanChange = dict[str, Any]
_FINALIZED = "sip.plans.finalized"


def channel(plan_id: uuid.UUID) -> str:
    return f"sip:plan:{plan_id}"


def changed(plan_id: uuid.UUID, version: int, change: str) -> PlanChange:
    return {"plan": str(plan_id), "version": version, "change": change}


def note_finalized(session: AsyncSession, plan_id: uuid.UUID) -> None:
    """The plan was finalized (first time, or a new revision) in this unit of work."""
    session.info.setdefault(_FINALIZED, []).append(plan_id)


def finalized(session: AsyncSession) -> list[uuid.UUID]:
    """The plans finalized in this unit of work so far, each once; taken, so that they are told once."""
    return list(dict.fromkeys(session.info.pop(_FINALIZED, [])))
