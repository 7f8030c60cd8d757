"""Discharge notices in (lag 2017:612): a hospital's record system says a patient is ready for
discharge and names the primary-care unit (by HSA-id) that must call a SIP meeting within 3 days.
Never commits; run through `usecases.run` with the record system's `SystemPrincipal`.

- If the patient has an open plan the unit takes part in (a staff participant of it now) or made,
  that plan gets the notice time (`discharge_ready_at`, the later of the old and the new): its
  DISCHARGE item and "needs attention" follow from it. The time is not content the patient approved,
  so the version does not move on (the approval holds) and an active plan is not put into revision.
- Otherwise a discharge plan is started for the unit: a DRAFT with the patient, made by the unit's
  organisation (`created_by_org_id`, so the unit's staff see it) and by no staff member
  (`created_by_staff_id` is None). Until one of the unit's staff joins it, every staff member of the
  unit has it in their inbox as a DISCHARGE item (`inbox.repository.discharges`); whoever joins
  (as coordinator) takes it on, and it is then theirs as any plan they take part in.

A notice is kept (`DischargeNotice`) under the poster's organisation and its identifier: the same
notice again is the same row, and creates nothing (the caller looks it up first; two at the same
moment meet the unique key, and the second's transaction writes nothing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.models.discharge import DischargeNotice, NoticeOutcome
from sip_service.models.identity import Citizen, Organisation
from sip_service.models.plans import Participant, ParticipantKind, Plan, PlanStatus
from sip_service.plans import policy
from sip_service.plans import repository as repo
from sip_service.plans.rules import Refusal, Refused

CLOCK_SKEW = timedelta(minutes=5)  # a notice time this far ahead of ours is still taken as now-ish
UNKNOWN_PATIENT = "UNKNOWN_PATIENT"
UNKNOWN_UNIT = "UNKNOWN_UNIT"
NOTICE_IN_FUTURE = "NOTICE_IN_FUTURE"


@dataclass(frozen=True)
class Notice:
    """A discharge notice as the record system gave it (checked for form by the caller)."""

    identifier_system: str
    identifier_value: str
    personal_number: str  # 12 digits
    unit_hsa_id: str
    ready_at: datetime | None  # None: now
    intent: str


def unknown_patient() -> Refusal:
    return Refusal(
        UNKNOWN_PATIENT,
        "Patienten finns inte i SIP-tjänsten (okänt personnummer).",
        "The patient is not known to the SIP service (unknown personal identity number).",
    )


def unknown_unit(hsa_id: str) -> Refusal:
    return Refusal(
        UNKNOWN_UNIT,
        f"Enheten {hsa_id} finns inte i SIP-tjänstens register (HSA-id).",
        f"The unit {hsa_id} is not in the SIP service's register (HSA-id).",
    )


def notice_in_future() -> Refusal:
    return Refusal(
        NOTICE_IN_FUTURE,
        "Tiden för utskrivningsklar (authoredOn) ligger i framtiden.",
        "The ready-for-discharge time (authoredOn) is in the future.",
    )


@dataclass(frozen=True)
class Received:
    """What the notice found or made, before anything is written."""

    patient: Citizen
    unit: Organisation
    ready_at: datetime


async def check_notice(session: AsyncSession, principal: Principal, notice: Notice) -> Received:
    """Who and what the notice names, or the refusal: nothing is written."""
    policy.require_system_writer(principal, "Task")
    patient = await identity_repo.citizen_by_personal_number(session, notice.personal_number)
    if patient is None:
        raise Refused(unknown_patient())
    unit = await identity_repo.organisation_by_hsa_id(session, notice.unit_hsa_id)
    if unit is None:
        raise Refused(unknown_unit(notice.unit_hsa_id))
    now = clock.now()
    if notice.ready_at is not None and notice.ready_at > now + CLOCK_SKEW:
        raise Refused(notice_in_future())
    return Received(patient, unit, min(notice.ready_at, now) if notice.ready_at else now)


async def receive_discharge_notice(
    session: AsyncSession, principal: Principal, notice: Notice
) -> tuple[Plan, DischargeNotice]:
    """Flag the unit's open plan of the patient, or start one for the unit (see the module)."""
    system = policy.require_system_writer(principal, "Task")
    found = await check_notice(session, principal, notice)
    now = clock.now()
    plan_id = await repo.open_plan_of_organisation(session, found.patient.id, found.unit.id)
    if plan_id is not None:
        # A set statement, not the ORM: the plan's version (its optimistic lock, which the patient's
        # approval names) stays, since the notice time is no content of the plan.
        await session.execute(
            update(Plan)
            .where(
                Plan.id == plan_id,
                (Plan.discharge_ready_at.is_(None)) | (Plan.discharge_ready_at < found.ready_at),
            )
            .values(discharge_ready_at=found.ready_at)
            .execution_options(synchronize_session=False)
        )
        plan = await session.get(Plan, plan_id, populate_existing=True)
        assert plan is not None
        outcome = NoticeOutcome.FLAGGED
    else:
        plan = _discharge_plan(found, now)
        session.add(plan)
        await session.flush()  # the plan before the notice that names it (no relationship orders them)
        outcome = NoticeOutcome.STARTED
    row = DischargeNotice(
        id=uuid.uuid4(),
        poster_org_id=system.organisation_id,
        client_id=system.client_id,
        identifier_system=notice.identifier_system,
        identifier_value=notice.identifier_value,
        patient_id=found.patient.id,
        unit_org_id=found.unit.id,
        plan_id=plan.id,
        outcome=outcome,
        ready_at=found.ready_at,
        intent=notice.intent,
        received_at=now,
    )
    session.add(row)
    return plan, row


def _discharge_plan(found: Received, now: datetime) -> Plan:
    return Plan(
        id=uuid.uuid4(),
        patient_id=found.patient.id,
        status=PlanStatus.DRAFT,
        background="",
        discharge_ready_at=found.ready_at,
        created_by_org_id=found.unit.id,
        created_by_staff_id=None,
        created_at=now,
        updated_at=now,
        participants=[
            Participant(kind=ParticipantKind.PATIENT, citizen_id=found.patient.id, role="Patient", created_at=now)
        ],
        goals=[],
        actions=[],
        consents=[],
        approvals=[],
        revisions=[],
        meetings=[],
    )
