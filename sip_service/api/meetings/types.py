"""GraphQL object types of a meeting: invitations and their delivery, attendance, invite links."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.identity import StaffMemberType, staff_member
from sip_service.api.plans import PlanType, aggregate
from sip_service.meetings.invitations import not_sent_reason
from sip_service.models import meetings as models
from sip_service.models import notify as notify_models
from sip_service.models.plans import ParticipantKind
from sip_service.plans import service as plans_service

MeetingKind = strawberry.enum(models.MeetingKind)
MeetingPurpose = strawberry.enum(models.MeetingPurpose)
MeetingStatus = strawberry.enum(models.MeetingStatus)
InvitationChannel = strawberry.enum(models.InvitationChannel)
AttendanceMethod = strawberry.enum(models.AttendanceMethod)


@strawberry.enum(name="DeliveryStatus")
class DeliveryStatus(Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    NOT_SENT = "NOT_SENT"
    WAITING_FOR_CONSENT = "WAITING_FOR_CONSENT"


@strawberry.type(
    name="Delivery",
    description="How the latest message to this participant about the meeting fared. PENDING with attempts > 0 "
    "and a lastError: it is being retried; FAILED: it was given up; NOT_SENT: no message was written "
    "(lastError says why: no address, a letter or in person, an external party); "
    "WAITING_FOR_CONSENT: staff of an organisation the patient's consent does not cover yet, "
    "told nothing until it does.",
)
class DeliveryType:
    status: DeliveryStatus
    channel: str | None = strawberry.field(description="The channel the message really goes by (EMAIL or SMS).")
    fallback: bool = strawberry.field(
        description="True when it goes by the other channel than the invitation's: the person has no address "
        "for the one chosen (say so to staff)."
    )
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None


def delivery(
    message: notify_models.OutboxMessage | None,
    chosen: models.InvitationChannel,
    kind: ParticipantKind | None,
    waiting_for_consent: bool = False,
) -> DeliveryType:
    fallback = message is not None and message.channel.value != chosen.value
    if waiting_for_consent and (message is None or message.status is notify_models.MessageStatus.PENDING):
        return DeliveryType(
            status=DeliveryStatus.WAITING_FOR_CONSENT,
            channel=message.channel.value if message else None,
            fallback=fallback,
            attempts=message.attempts if message else 0,
            last_error=None,
            next_attempt_at=None,
            sent_at=None,
        )
    if message is None:
        return DeliveryType(
            status=DeliveryStatus.NOT_SENT,
            channel=None,
            fallback=False,
            attempts=0,
            last_error=not_sent_reason(kind, chosen),
            next_attempt_at=None,
            sent_at=None,
        )
    return DeliveryType(
        status=DeliveryStatus(message.status.value),
        channel=message.channel.value,
        fallback=fallback,
        attempts=message.attempts,
        last_error=message.last_error,
        next_attempt_at=message.next_attempt_at if message.status is notify_models.MessageStatus.PENDING else None,
        sent_at=message.sent_at,
    )


@strawberry.type(name="Invitation")
class InvitationType:
    participant_id: uuid.UUID
    channel: InvitationChannel = strawberry.field(  # type: ignore[valid-type]
        description="How the invitation goes: as chosen for a citizen, EMAIL for staff (their work e-mail); "
        "see delivery { channel fallback } for the channel really used."
    )
    invited_at: datetime
    meeting_id: strawberry.Private[uuid.UUID]
    participant_kind: strawberry.Private[ParticipantKind | None]
    waiting_for_consent: strawberry.Private[bool] = False

    @strawberry.field(description="The invitation message, and any update since.")
    async def delivery(self, info: Info[Context, None]) -> DeliveryType:
        latest = await info.context.loaders.deliveries.load(self.meeting_id) or {}
        message = latest.get(self.participant_id)
        return delivery(message, self.channel, self.participant_kind, self.waiting_for_consent)


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


@strawberry.type(
    name="InviteLinkStatus", description="A participant's working invite link; the link itself is shown once."
)
class InviteLinkStatusType:
    participant_id: uuid.UUID
    issued_at: datetime
    valid_from: datetime
    expires_at: datetime
    last_used_at: datetime | None


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
        plan = await aggregate(info, self._m.plan_id)
        meeting = next(m for m in plan.meetings if m.id == self._m.id)
        waiting = plans_service.staff_awaiting_consent(plan, info.context.today)
        kinds = {p.id: p.kind for p in plan.participants}  # not the removed: they keep their invitation
        return [
            InvitationType(
                participant_id=i.participant_id,
                channel=i.channel,
                invited_at=i.invited_at,
                meeting_id=self._m.id,
                participant_kind=kinds.get(i.participant_id),
                waiting_for_consent=i.participant_id in waiting,
            )
            for i in meeting.invitations
        ]

    @strawberry.field
    async def attendances(self, info: Info[Context, None]) -> list[AttendanceType]:
        return [AttendanceType(a) for a in (await self._fresh(info)).attendances]

    @strawberry.field(description="Participants with an invite link that still works (never the link itself).")
    async def invite_links(self, info: Info[Context, None]) -> list[InviteLinkStatusType]:
        return [
            InviteLinkStatusType(
                participant_id=link.participant_id,
                issued_at=link.issued_at,
                valid_from=link.valid_from,
                expires_at=link.expires_at,
                last_used_at=link.last_used_at,
            )
            for link in await info.context.loaders.invite_links.load(self._m.id) or []
        ]

    @strawberry.field
    async def plan(self, info: Info[Context, None]) -> Annotated[PlanType, strawberry.lazy("sip_service.api.plans")]:
        return PlanType(await aggregate(info, self._m.plan_id))

    async def _fresh(self, info: Info[Context, None]) -> models.Meeting:
        plan = await aggregate(info, self._m.plan_id)
        return next(m for m in plan.meetings if m.id == self._m.id)
