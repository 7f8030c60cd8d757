"""Finding a meeting or plan to change: the scope, the checks and the version, the same for every
meeting change (scheduling, invitations, invite links). Never commits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.kit.errors import Invalid, NotFound, VersionConflict
from sip_service.models.meetings import Meeting, MeetingStatus
from sip_service.models.plans import Plan, PlanStatus
from sip_service.plans import policy
from sip_service.plans import repository as plans_repo


async def open_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Plan:
    plan = await plans_repo.get_aggregate(session, principal, clock.today(), plan_id)
    if plan.status is PlanStatus.CLOSED:
        raise Invalid("the plan is closed")
    policy.require_plan_staff(principal, plan)
    return plan


async def meeting_for_change(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, expected_version: int
) -> tuple[Plan, Meeting]:
    plan_id = await plans_repo.plan_id_of(session, Meeting, meeting_id)
    if plan_id is None:
        raise NotFound("Meeting", meeting_id)
    try:
        plan = await open_plan(session, principal, plan_id)
    except NotFound:
        raise NotFound("Meeting", meeting_id) from None
    meeting = next(m for m in plan.meetings if m.id == meeting_id)
    if meeting.version != expected_version:
        raise VersionConflict("Meeting", meeting_id, expected_version, meeting.version)
    if meeting.status is MeetingStatus.CANCELLED:
        raise Invalid("the meeting is cancelled")
    meeting.updated_at = clock.now()
    return plan, meeting
