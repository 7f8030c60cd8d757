"""GraphQL mutations of meetings: each hands one use case to `mutate` (the use-case runner)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import AnyError, capped, mutate
from sip_service.api.meetings.inputs import ScheduleMeetingInput
from sip_service.api.meetings.types import InvitationChannel, MeetingType
from sip_service.meetings import invites, service
from sip_service.meetings.invitations import Letterhead
from sip_service.models import meetings as models
from sip_service.settings import Settings
from sip_service.video import channel

MeetingResult = Annotated[MeetingType | AnyError, strawberry.union("MeetingResult")]


@strawberry.type(name="IssuedInviteLink", description="Give the URL to the participant now: it is never shown again.")
class IssuedInviteLinkType:
    url: str = strawberry.field(description="The token is in the fragment (#t=…), which never reaches a server.")
    participant_id: uuid.UUID
    valid_from: datetime
    expires_at: datetime
    meeting: MeetingType


IssueInviteLinkResult = Annotated[IssuedInviteLinkType | AnyError, strawberry.union("IssueInviteLinkResult")]


def letterhead(settings: Settings) -> Letterhead:
    return Letterhead(public_url=settings.public_url, mail_from=settings.mail_from)


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
        result = await mutate(
            info, lambda s: service.cancel_meeting(s, p, meeting_id, expected_version, letterhead=head), _meeting
        )
        if isinstance(result, MeetingType):  # after the commit: whoever is still in its room goes
            await channel.close_room(info.context.live.broker, meeting_id)
        return result
