"""GraphQL types and mutations for meetings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import AnyError, capped, mutate
from sip_service.api.identity import StaffMemberType, staff_member
from sip_service.api.plans import PlanType, aggregate
from sip_service.meetings import models, service

MeetingKind = strawberry.enum(models.MeetingKind)
MeetingPurpose = strawberry.enum(models.MeetingPurpose)
MeetingStatus = strawberry.enum(models.MeetingStatus)
InvitationChannel = strawberry.enum(models.InvitationChannel)
AttendanceMethod = strawberry.enum(models.AttendanceMethod)


@strawberry.type(name="Invitation")
class InvitationType:
    participant_id: uuid.UUID
    channel: InvitationChannel  # type: ignore[valid-type]
    invited_at: datetime


@strawberry.type(name="Attendance", description="Who was there, from when, and how that was established.")
class AttendanceType:
    _a: strawberry.Private[models.Attendance]

    def __init__(self, attendance: models.Attendance) -> None:
        self._a = attendance

    @strawberry.field
    def participant_id(self) -> uuid.UUID:
        return self._a.participant_id

    @strawberry.field
    def method(self) -> AttendanceMethod:  # type: ignore[valid-type]
        return self._a.method

    @strawberry.field
    def joined_at(self) -> datetime:
        return self._a.joined_at

    @strawberry.field
    def left_at(self) -> datetime | None:
        return self._a.left_at

    @strawberry.field
    async def attested_by(self, info: Info[Context, None]) -> StaffMemberType | None:
        return await staff_member(info, self._a.attested_by_staff_id)


@strawberry.type(name="Meeting")
class MeetingType:
    _m: strawberry.Private[models.Meeting]

    def __init__(self, meeting: models.Meeting) -> None:
        self._m = meeting

    @strawberry.field
    def id(self) -> uuid.UUID:
        return self._m.id

    @strawberry.field(description="Pass this as expectedVersion when you change the meeting.")
    def version(self) -> int:
        return self._m.version

    @strawberry.field
    def kind(self) -> MeetingKind:  # type: ignore[valid-type]
        return self._m.kind

    @strawberry.field
    def purpose(self) -> MeetingPurpose:  # type: ignore[valid-type]
        return self._m.purpose

    @strawberry.field
    def status(self) -> MeetingStatus:  # type: ignore[valid-type]
        return self._m.status

    @strawberry.field
    def starts_at(self) -> datetime:
        return self._m.starts_at

    @strawberry.field
    def ends_at(self) -> datetime:
        return self._m.ends_at

    @strawberry.field
    def location(self) -> str:
        return self._m.location

    @strawberry.field
    def agenda(self) -> str:
        return self._m.agenda

    @strawberry.field
    async def invitations(self, info: Info[Context, None]) -> list[InvitationType]:
        return [
            InvitationType(participant_id=i.participant_id, channel=i.channel, invited_at=i.invited_at)
            for i in (await self._fresh(info)).invitations
        ]

    @strawberry.field
    async def attendances(self, info: Info[Context, None]) -> list[AttendanceType]:
        return [AttendanceType(a) for a in (await self._fresh(info)).attendances]

    @strawberry.field
    async def plan(self, info: Info[Context, None]) -> Annotated[PlanType, strawberry.lazy("sip_service.api.plans")]:
        return PlanType(await aggregate(info, self._m.plan_id))

    async def _fresh(self, info: Info[Context, None]) -> models.Meeting:
        plan = await aggregate(info, self._m.plan_id)
        return next(m for m in plan.meetings if m.id == self._m.id)


MeetingResult = Annotated[MeetingType | AnyError, strawberry.union("MeetingResult")]


@strawberry.input
class ScheduleMeetingInput:
    kind: MeetingKind  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime
    purpose: MeetingPurpose = models.MeetingPurpose.PLANNING  # type: ignore[valid-type]
    location: str = ""
    agenda: str = ""


def _meeting(m: models.Meeting) -> MeetingType:
    return MeetingType(m)


@strawberry.type
class MeetingMutation:
    @strawberry.mutation
    async def schedule_meeting(
        self, info: Info[Context, None], plan_id: uuid.UUID, input: ScheduleMeetingInput
    ) -> MeetingResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: service.schedule_meeting(
                s,
                p,
                plan_id,
                kind=input.kind,
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                purpose=input.purpose,
                location=input.location,
                agenda=input.agenda,
            ),
            _meeting,
        )

    @strawberry.mutation(description="Invite participants (each once) to the meeting.")
    async def invite_to_meeting(
        self,
        info: Info[Context, None],
        meeting_id: uuid.UUID,
        expected_version: int,
        participant_ids: list[uuid.UUID],
        channel: InvitationChannel,  # type: ignore[valid-type]
    ) -> MeetingResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: service.invite(s, p, meeting_id, expected_version, capped(participant_ids), channel),
            _meeting,
        )

    @strawberry.mutation(description="You, a named staff member, attest that the participant was present in person.")
    async def attest_attendance(
        self, info: Info[Context, None], meeting_id: uuid.UUID, expected_version: int, participant_id: uuid.UUID
    ) -> MeetingResult:
        p = info.context.principal
        return await mutate(
            info, lambda s: service.attest_attendance(s, p, meeting_id, expected_version, participant_id), _meeting
        )

    @strawberry.mutation
    async def cancel_meeting(
        self, info: Info[Context, None], meeting_id: uuid.UUID, expected_version: int
    ) -> MeetingResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.cancel_meeting(s, p, meeting_id, expected_version), _meeting)
