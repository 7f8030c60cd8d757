"""Building plans quickly through the service layer, for tests that need many of them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from sip_service.auth.principal import StaffPrincipal
from sip_service.identity.models import Citizen, StaffMember
from sip_service.kit import clock
from sip_service.meetings import service as meetings
from sip_service.meetings.models import InvitationChannel, MeetingKind
from sip_service.plans import service as plans
from sip_service.plans.models import ParticipantKind

from conftest import Service, op


async def staff(service: Service, first_name: str) -> StaffPrincipal:
    async with service.db.read() as s:
        m = (await s.scalars(select(StaffMember).where(StaffMember.name.startswith(first_name)))).one()
    return StaffPrincipal(m.id, m.organisation_id, m.hsa_id, m.name)


async def citizen_id(service: Service, first_name: str) -> uuid.UUID:
    async with service.db.read() as s:
        return (await s.scalars(select(Citizen.id).where(Citizen.name.startswith(first_name)))).one()


async def big_plan(
    service: Service, *, relatives: int, goals: int, actions: int, meeting_count: int, patient: str = "Elsa"
) -> uuid.UUID:
    """A plan with the patient, two staff, `relatives` relatives, goals, actions and meetings."""
    anna, johan = await staff(service, "Anna"), await staff(service, "Johan")
    patient_id = await citizen_id(service, patient)
    async with service.db.write() as s:
        plan = await plans.create_plan(
            s, anna, patient_id=patient_id, follow_up_date=clock.today() + timedelta(days=30)
        )
        await s.flush()
        await plans.add_participant(
            s, anna, plan.id, plan.version, plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=johan.staff_id)
        )
        for i in range(relatives):
            await s.flush()
            await plans.add_participant(
                s,
                anna,
                plan.id,
                plan.version,
                plans.NewParticipant(
                    ParticipantKind.RELATIVE, citizen=plans.NewCitizen(f"1970010{i:05d}"[:12], f"Närstående {i}")
                ),
            )
        await s.flush()
        await plans.record_consent(
            s,
            anna,
            plan.id,
            plan.version,
            given_by_id=plan.participants[0].id,
            organisation_ids=[anna.organisation_id, johan.organisation_id],
        )
        for i in range(goals):
            await s.flush()
            await plans.add_goal(
                s, anna, plan.id, plan.version, goal_text=f"Mål {i}", expressed_by_id=plan.participants[0].id
            )
        for i in range(actions):
            await s.flush()
            await plans.add_action(
                s,
                anna,
                plan.id,
                plan.version,
                plans.ActionDetails(description=f"Insats {i}", responsible_org_id=anna.organisation_id),
            )
        for i in range(meeting_count):
            await s.flush()
            start = clock.now() + timedelta(days=i + 1)
            m = await meetings.schedule_meeting(
                s, anna, plan.id, kind=MeetingKind.VIDEO, starts_at=start, ends_at=start + timedelta(hours=1)
            )
            await s.flush()
            await meetings.invite(s, anna, m.id, m.version, [p.id for p in plan.participants], InvitationChannel.EMAIL)
        return plan.id


async def schedule_video_meeting(gql: Any, plan_id: object, start: datetime) -> dict[str, Any]:
    """A one-hour VIDEO planning meeting, scheduled over GraphQL by Anna."""
    variables = {
        "planId": str(plan_id),
        "input": {"kind": "VIDEO", "startsAt": start.isoformat(), "endsAt": (start + timedelta(hours=1)).isoformat()},
    }
    meeting: dict[str, Any] = (await gql(op("ScheduleMeeting"), variables, as_="staff-anna"))["scheduleMeeting"]
    return meeting
