"""Attendance in video meetings, as the media relay observes it: a row opens when a participant's
media first arrives and closes when it stops. Each is its own audited write (the relay is not a
request, so it runs its own unit of work)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import AuthMethod, CitizenPrincipal, GuestPrincipal, Principal, StaffPrincipal
from sip_service.kit.db import Database
from sip_service.models.audit import AuditAccess
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import Attendance, AttendanceMethod, Meeting
from sip_service.models.plans import Participant, Plan
from sip_service.plans import events
from sip_service.plans.events import PlanChange

NO_LINK = uuid.UUID(int=0)


async def _actor(session: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID) -> tuple[Principal, Plan]:
    """Who the audit event is by: the participant whose media it is, with auth method SYSTEM.

    The audit module knows staff, citizens and guests (no separate system actor), and nobody signed in
    made this write: the relay saw the participant's media. So the actor is the participant as who
    they are in the plan (a staff member, a citizen, or an external party as a guest), and SYSTEM
    says that the service recorded it, not a request of theirs."""
    row = (
        await session.execute(
            select(Participant, Plan)
            .join(Plan, Plan.id == Participant.plan_id)
            .join(Meeting, Meeting.plan_id == Plan.id)
            .where(Participant.id == participant_id, Meeting.id == meeting_id)
        )
    ).one()
    participant, plan = row
    method = AuthMethod.SYSTEM
    if participant.staff_member_id is not None:
        staff = await session.get_one(StaffMember, participant.staff_member_id)
        return StaffPrincipal(staff.id, staff.organisation_id, staff.hsa_id, staff.name, method), plan
    if participant.citizen_id is not None:
        citizen = await session.get_one(Citizen, participant.citizen_id)
        return CitizenPrincipal(citizen.id, citizen.name, method), plan
    name = participant.external_name or "Gäst"
    return GuestPrincipal(None, participant.id, meeting_id, plan.id, name, NO_LINK, method), plan


async def media_arrived(
    db: Database, meeting_id: uuid.UUID, participant_id: uuid.UUID, at: datetime
) -> tuple[uuid.UUID, PlanChange]:
    """The first media from a participant arrived: they attend from now on. Returns the row's id, and
    the news for those who have the plan open (its readiness may have changed)."""
    async with db.write() as session:
        actor, plan = await _actor(session, meeting_id, participant_id)
        row = Attendance(
            meeting_id=meeting_id,
            participant_id=participant_id,
            method=AttendanceMethod.MEDIA,
            attested_by_staff_id=None,
            joined_at=at,
            left_at=None,
        )
        session.add(row)
        await session.flush()
        await audit.append(session, actor, [Access(AuditAccess.WRITE, "attendance.media", plan.id, plan.patient_id)])
        return row.id, events.changed(plan.id, plan.version, "attendance")


async def media_stopped(db: Database, attendance_id: uuid.UUID, at: datetime) -> PlanChange | None:
    """Their media stopped (left, connection lost, no frames for a while): the row closes."""
    async with db.write() as session:
        row = await session.get(Attendance, attendance_id)
        if row is None or row.left_at is not None:  # the meeting was deleted, or closed already
            return None
        row.left_at = at
        actor, plan = await _actor(session, row.meeting_id, row.participant_id)
        await audit.append(session, actor, [Access(AuditAccess.WRITE, "attendance.mediaEnd", plan.id, plan.patient_id)])
        return events.changed(plan.id, plan.version, "attendance")
