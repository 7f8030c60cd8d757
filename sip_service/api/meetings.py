"""GraphQL types and mutations for meetings."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import AnyError, capped, mutate
from sip_service.api.identity import StaffMemberType, staff_member
from sip_service.api.plans import PlanType, aggregate
from sip_service.meetings import invites, service
from sip_service.meetings.invitations import Letterhead, not_sent_reason
from sip_service.models import meetings as models
from sip_service.models import notify as notify_models
from sip_service.models.plans import ParticipantKind
from sip_service.plans import service as plans_service
from sip_service.settings import Settings

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


def _delivery(
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
        return _delivery(message, self.channel, self.participant_kind, self.waiting_for_consent)


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


def letterhead(settings: Settings) -> Letterhead:
    return Letterhead(public_url=settings.public_url, mail_from=settings.mail_from)


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


MeetingResult = Annotated[MeetingType | AnyError, strawberry.union("MeetingResult")]


@strawberry.type(name="IssuedInviteLink", description="Give the URL to the participant now: it is never shown again.")
class IssuedInviteLinkType:
    url: str = strawberry.field(description="The token is in the fragment (#t=…), which never reaches a server.")
    participant_id: uuid.UUID
    valid_from: datetime
    expires_at: datetime
    meeting: MeetingType


IssueInviteLinkResult = Annotated[IssuedInviteLinkType | AnyError, strawberry.union("IssueInviteLinkResult")]


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

    @strawberry.mutation(
        description="Invite participants (each once) to the meeting. Citizens are sent an invitation by the "
        "channel chosen (EMAIL or SMS; the other one when they have no address for it; nothing for LETTER or "
        "IN_PERSON), with their personal join link; staff by work e-mail, with the meeting page; e-mail with a "
        "calendar file. See `invitations { delivery { channel fallback } }`."
    )
    async def invite_to_meeting(
        self,
        info: Info[Context, None],
        meeting_id: uuid.UUID,
        expected_version: int,
        participant_ids: list[uuid.UUID],
        channel: InvitationChannel,  # type: ignore[valid-type]
    ) -> MeetingResult:
        p, head = info.context.principal, letterhead(info.context.settings)
        return await mutate(
            info,
            lambda s: service.invite(
                s, p, meeting_id, expected_version, capped(participant_ids), channel, letterhead=head
            ),
            _meeting,
        )

    @strawberry.mutation(description="Move the meeting; everyone invited is sent the new time.")
    async def reschedule_meeting(
        self,
        info: Info[Context, None],
        meeting_id: uuid.UUID,
        expected_version: int,
        starts_at: datetime,
        ends_at: datetime,
    ) -> MeetingResult:
        p, head = info.context.principal, letterhead(info.context.settings)
        return await mutate(
            info,
            lambda s: service.reschedule_meeting(
                s, p, meeting_id, expected_version, starts_at=starts_at, ends_at=ends_at, letterhead=head
            ),
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

    @strawberry.mutation(
        description="A personal link with which an invited patient, relative, representative or external party "
        "joins this meeting without an account, from an hour before it until an hour after. "
        "Their previous link for the meeting stops working."
    )
    async def issue_invite_link(
        self, info: Info[Context, None], meeting_id: uuid.UUID, expected_version: int, participant_id: uuid.UUID
    ) -> IssueInviteLinkResult:
        p, public_url = info.context.principal, info.context.settings.public_url
        return await mutate(
            info,
            lambda s: invites.issue_link(s, p, meeting_id, expected_version, participant_id),
            lambda issued: IssuedInviteLinkType(
                url=invites.join_url(public_url, issued.token),
                participant_id=issued.participant_id,
                valid_from=issued.valid_from,
                expires_at=issued.expires_at,
                meeting=MeetingType(issued.meeting),
            ),
        )

    @strawberry.mutation(description="The participant's invite link for this meeting stops working at once.")
    async def revoke_invite_link(
        self, info: Info[Context, None], meeting_id: uuid.UUID, expected_version: int, participant_id: uuid.UUID
    ) -> MeetingResult:
        p = info.context.principal
        return await mutate(
            info, lambda s: invites.revoke_link(s, p, meeting_id, expected_version, participant_id), _meeting
        )

    @strawberry.mutation(description="Cancel the meeting; everyone invited is told.")
    async def cancel_meeting(
        self, info: Info[Context, None], meeting_id: uuid.UUID, expected_version: int
    ) -> MeetingResult:
        p, head = info.context.principal, letterhead(info.context.settings)
        return await mutate(
            info, lambda s: service.cancel_meeting(s, p, meeting_id, expected_version, letterhead=head), _meeting
        )
