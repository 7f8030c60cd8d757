"""Meeting use cases: schedule, invite, attest in-person attendance, cancel. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import Invalid, NotFound
from sip_service.meetings import invitations
from sip_service.meetings.access import meeting_for_change, open_plan
from sip_service.meetings.invitations import Letterhead
from sip_service.models.meetings import (
    Attendance,
    AttendanceMethod,
    Invitation,
    InvitationChannel,
    Meeting,
    MeetingKind,
    MeetingPurpose,
    MeetingStatus,
)
from sip_service.models.notify import MessageKind
from sip_service.models.plans import ParticipantKind, Plan
from sip_service.plans import participation, policy

MAX_MEETING_LENGTH = timedelta(hours=8)
# In-person attendance can be attested once the meeting is about to start, not days ahead.
ATTEST_EARLIEST = timedelta(minutes=30)


def invited_by(kind: ParticipantKind, chosen: InvitationChannel) -> InvitationChannel:
    """How an invitation goes: staff by work e-mail (with the calendar file), whatever was chosen for
    the citizens in the same invitation; everyone else as chosen (`meetings.invitations.contact`)."""
    return InvitationChannel.EMAIL if kind is ParticipantKind.STAFF else chosen


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid("give times with a time zone", field="startsAt")
    if not starts_at < ends_at <= starts_at + MAX_MEETING_LENGTH:
        raise Invalid("the meeting must end after it starts, within 8 hours", field="endsAt")


async def _notify(
    session: AsyncSession,
    principal: Principal,
    plan: Plan,
    meeting: Meeting,
    participant_ids: Iterable[uuid.UUID],
    kind: MessageKind,
    letterhead: Letterhead | None,
) -> None:
    """Messages to these participants, in this transaction (the outbox sends them after commit).
    Without a letterhead (bulk tools, tests of other things) nobody is told."""
    if letterhead is None:
        return
    staff = policy.require_staff(principal)
    await invitations.queue(
        session, plan, meeting, participant_ids, kind, letterhead=letterhead, staff_id=staff.staff_id
    )


async def schedule_meeting(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    kind: MeetingKind,
    starts_at: datetime,
    ends_at: datetime,
    purpose: MeetingPurpose = MeetingPurpose.PLANNING,
    location: str = "",
    agenda: str = "",
) -> Meeting:
    plan = await open_plan(session, principal, plan_id)
    staff = policy.require_staff(principal)
    _check_times(starts_at, ends_at)
    if kind is not MeetingKind.VIDEO and not location.strip():
        raise Invalid("say where the meeting is held", field="location")
    now = clock.now()
    meeting = Meeting(
        kind=kind,
        purpose=purpose,
        status=MeetingStatus.SCHEDULED,
        starts_at=starts_at,
        ends_at=ends_at,
        location=text(location, "location", max_len=300, required=False),
        agenda=text(agenda, "agenda", required=False),
        created_by_staff_id=staff.staff_id,
        created_at=now,
        updated_at=now,
        invitations=[],
        attendances=[],
    )
    plan.meetings.append(meeting)
    return meeting


async def invite(
    session: AsyncSession,
    principal: Principal,
    meeting_id: uuid.UUID,
    expected_version: int,
    participant_ids: Sequence[uuid.UUID],
    channel: InvitationChannel,
    *,
    letterhead: Letterhead | None = None,
) -> Meeting:
    """Invite participants; each newly invited one who can be reached gets an invitation message:
    citizens by `channel` (or the other one when they have no address for it; none for a letter or
    in person), with a personal join link; staff by work e-mail, with the meeting page; e-mail with
    a calendar file.

    All or nothing: a relative the patient has not chosen (`participation.takes_part`) refuses the
    whole list with RELATIVE_NOT_CHOSEN, before anything is written."""
    plan, meeting = await meeting_for_change(session, principal, meeting_id, expected_version)
    staff = policy.require_staff(principal)
    if not participant_ids:
        raise Invalid("choose whom to invite", field="participantIds")
    members = {p.id: p for p in plan.participants}
    wanted = list(dict.fromkeys(participant_ids))
    for pid in wanted:
        if pid not in members:
            raise NotFound("Participant", pid)
    participation.require_chosen((members[pid] for pid in wanted), field="participantIds")
    already = {i.participant_id for i in meeting.invitations}
    new: list[uuid.UUID] = []
    for pid in wanted:
        if pid not in already:
            new.append(pid)
            meeting.invitations.append(
                Invitation(
                    participant_id=pid,
                    channel=invited_by(members[pid].kind, channel),
                    invited_at=clock.now(),
                    invited_by_staff_id=staff.staff_id,
                )
            )
    await _notify(session, principal, plan, meeting, new, MessageKind.INVITATION, letterhead)
    return meeting


async def reschedule_meeting(
    session: AsyncSession,
    principal: Principal,
    meeting_id: uuid.UUID,
    expected_version: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    letterhead: Letterhead | None = None,
) -> Meeting:
    """A new time; everyone invited is told (calendar SEQUENCE + 1, new personal links)."""
    plan, meeting = await meeting_for_change(session, principal, meeting_id, expected_version)
    policy.require_staff(principal)
    _check_times(starts_at, ends_at)
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    meeting.sequence += 1
    await _notify(
        session,
        principal,
        plan,
        meeting,
        [i.participant_id for i in meeting.invitations],
        MessageKind.UPDATE,
        letterhead,
    )
    return meeting


async def attest_attendance(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, expected_version: int, participant_id: uuid.UUID
) -> Meeting:
    """A named staff member attests that a participant was present in the room."""
    plan, meeting = await meeting_for_change(session, principal, meeting_id, expected_version)
    staff = policy.require_staff(principal)
    if meeting.kind is MeetingKind.VIDEO:
        raise Invalid("attendance in a video meeting is recorded from the video itself", field="meetingId")
    if clock.now() < meeting.starts_at - ATTEST_EARLIEST:
        raise Invalid("attendance can be attested when the meeting takes place", field="meetingId")
    participant = next((p for p in plan.participants if p.id == participant_id), None)
    if participant is None:
        raise NotFound("Participant", participant_id)
    participation.require_chosen([participant], field="participantId")  # a relative only if chosen
    if not any(a.participant_id == participant_id for a in meeting.attendances):
        meeting.attendances.append(
            Attendance(
                participant_id=participant_id,
                method=AttendanceMethod.ATTESTED,
                attested_by_staff_id=staff.staff_id,
                joined_at=min(clock.now(), meeting.starts_at),
            )
        )
    return meeting


async def cancel_meeting(
    session: AsyncSession,
    principal: Principal,
    meeting_id: uuid.UUID,
    expected_version: int,
    *,
    letterhead: Letterhead | None = None,
) -> Meeting:
    """Cancel; everyone invited is told (a calendar CANCEL), and their links stop working."""
    plan, meeting = await meeting_for_change(session, principal, meeting_id, expected_version)
    meeting.status = MeetingStatus.CANCELLED
    meeting.sequence += 1
    await _notify(
        session,
        principal,
        plan,
        meeting,
        [i.participant_id for i in meeting.invitations],
        MessageKind.CANCELLATION,
        letterhead,
    )
    return meeting
