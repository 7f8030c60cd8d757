"""What every plan use case shares: loading the plan to change at the version the caller saw, recording
an edit (`touch`), finding a part of a plan, and the input checks. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.kit.errors import Invalid, NotFound, VersionConflict
from sip_service.models.plans import (
    Participant,
    Plan,
    PlanStatus,
)
from sip_service.plans import repository as repo

MAX_NAME = 200


class Keep:
    """Marks an edit field the caller left out (as opposed to setting it to nothing)."""


KEEP = Keep()


# ---- input checks -------------------------------------------------------------------------


def personal_number(value: str) -> str:
    digits = value.replace("-", "").replace("+", "").strip()
    if len(digits) != 12 or not digits.isdigit():
        raise Invalid("a personal identity number has 12 digits (ÅÅÅÅMMDDNNNN)", field="personalNumber")
    return digits


def check_version(kind: str, obj_id: uuid.UUID, actual: int, expected: int) -> None:
    if actual != expected:
        raise VersionConflict(kind, obj_id, expected, actual)


async def editable_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int) -> Plan:
    """Load a plan the principal can see, at the version they saw, that is still open."""
    plan = await repo.get_aggregate(session, principal, clock.today(), plan_id)
    check_version("Plan", plan.id, plan.version, expected_version)
    if plan.status is PlanStatus.CLOSED:
        raise Invalid("the plan is closed and can no longer be changed")
    return plan


def touch(plan: Plan) -> None:
    """Record a content edit: the version moves on (so the approval no longer matches), and an
    ACTIVE plan goes into revision, which must be ready again before it is finalized."""
    if plan.status is PlanStatus.ACTIVE:
        plan.status = PlanStatus.REVISING
    plan.updated_at = clock.now()


def participant_in(plan: Plan, participant_id: uuid.UUID) -> Participant:
    for p in plan.participants:
        if p.id == participant_id:
            return p
    raise NotFound("Participant", participant_id)


def child_in(items: Sequence[Any], kind: str, item_id: uuid.UUID) -> Any:
    for item in items:
        if item.id == item_id:
            return item
    raise NotFound(kind, item_id)


async def plan_of(
    session: AsyncSession,
    principal: Principal,
    model: type[repo.PlanChild],
    object_id: uuid.UUID,
    expected_version: int,
) -> Plan:
    """The editable plan an object belongs to; not found if the principal cannot see that plan."""
    plan_id = await repo.plan_id_of(session, model, object_id)
    if plan_id is None:
        raise NotFound(model.__name__, object_id)
    try:
        return await editable_plan(session, principal, plan_id, expected_version)
    except NotFound:
        raise NotFound(model.__name__, object_id) from None
