"""Plan use cases: create a plan and edit what it says about itself. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import NotFound
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.plans import (
    Participant,
    ParticipantKind,
    Plan,
    PlanStatus,
)
from sip_service.plans import policy, rules
from sip_service.plans import repository as repo
from sip_service.plans.service.common import KEEP, Keep, editable_plan, touch


async def create_plan(
    session: AsyncSession,
    principal: Principal,
    *,
    patient_id: uuid.UUID,
    background: str = "",
    follow_up_date: date | None = None,
    discharge_ready_at: datetime | None = None,
    allow_another_open_plan: bool = False,
) -> Plan:
    """A new DRAFT plan, with the patient and the creating staff member (its coordinator).

    A patient normally has one open plan (`rules.another_open_plan`): a second one is refused
    (OPEN_PLAN_EXISTS, naming the open plan if the caller may see it) unless the caller says
    `allow_another_open_plan=True`, as the person can in the API, for every entry point alike.
    """
    staff = policy.require_staff(principal)
    if await session.get(Citizen, patient_id) is None:
        raise NotFound("Citizen", patient_id)
    if not allow_another_open_plan:
        open_plans = await repo.open_plans_of(session, principal, clock.today(), patient_id)
        refusal = rules.another_open_plan(open_plans, allowed=False)
        if refusal is not None:
            raise rules.Refused(refusal)
    member = await session.get(StaffMember, staff.staff_id)
    now = clock.now()
    plan = Plan(
        id=uuid.uuid4(),
        patient_id=patient_id,
        status=PlanStatus.DRAFT,
        background=text(background, "background", required=False),
        follow_up_date=follow_up_date,
        discharge_ready_at=discharge_ready_at,
        created_by_org_id=staff.organisation_id,
        created_by_staff_id=staff.staff_id,
        created_at=now,
        updated_at=now,
        participants=[
            Participant(kind=ParticipantKind.PATIENT, citizen_id=patient_id, role="Patient", created_at=now),
            Participant(
                kind=ParticipantKind.STAFF,
                staff_member_id=staff.staff_id,
                organisation_id=staff.organisation_id,
                role=member.title if member else "",
                is_coordinator=True,
                created_at=now,
            ),
        ],
        goals=[],
        actions=[],
        consents=[],
        approvals=[],
        revisions=[],
        meetings=[],
    )
    session.add(plan)
    return plan


@dataclass
class PlanEdits:
    background: str | Keep = KEEP
    follow_up_date: date | Keep | None = KEEP
    discharge_ready_at: datetime | Keep | None = KEEP


async def update_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int, edits: PlanEdits
) -> Plan:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_plan_staff(principal, plan)
    if not isinstance(edits.background, Keep):
        plan.background = text(edits.background, "background", required=False)
    if not isinstance(edits.follow_up_date, Keep):
        plan.follow_up_date = edits.follow_up_date
    if not isinstance(edits.discharge_ready_at, Keep):
        plan.discharge_ready_at = edits.discharge_ready_at
    touch(plan)
    return plan
