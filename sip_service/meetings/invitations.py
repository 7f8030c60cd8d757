"""The messages about a meeting: invitation, new time, cancellation — one per invited participant,
by the channel chosen for them (or the other one, when they have no address for it), in their
language; what they say is in `notify.texts`.

Called by the meeting use cases in their transaction, so the messages are written with the change.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.kit import clock
from sip_service.meetings import invites
from sip_service.models.identity import Citizen, Language, Organisation, StaffMember
from sip_service.models.meetings import InvitationChannel, InviteLink, Meeting, MeetingKind
from sip_service.models.notify import Channel, MessageKind
from sip_service.models.plans import Participant, ParticipantKind, Plan
from sip_service.notify import ics, texts
from sip_service.notify.service import Attachment, enqueue
from sip_service.plans import participation

# Citizens join with a personal invite link; staff sign in and open the meeting page.
LINK_KINDS = frozenset({ParticipantKind.PATIENT, ParticipantKind.RELATIVE, ParticipantKind.REPRESENTATIVE})
NO_CONTACT = "Ingen e-postadress eller inget telefonnummer / no e-mail address or phone number"
NO_WORK_EMAIL = "Ingen e-postadress i tjänsten / no work e-mail address"
BY_HAND = {
    InvitationChannel.LETTER: "Skickas inte automatiskt: kallelsen går som brev / not sent automatically: by letter",
    InvitationChannel.IN_PERSON: "Skickas inte automatiskt: kallelsen ges muntligt / not sent automatically: in person",
}
NOT_AUTOMATIC = "Externa parter kallas inte automatiskt / external parties are not invited automatically"
_OTHER = {Channel.EMAIL: Channel.SMS, Channel.SMS: Channel.EMAIL}


@dataclass(frozen=True)
class Letterhead:
    """What messages need from the settings."""

    public_url: str
    mail_from: str


def contact(
    participant: Participant,
    chosen: InvitationChannel,
    citizens: dict[uuid.UUID, Citizen],
    staff: dict[uuid.UUID, StaffMember],
) -> tuple[Channel, str] | None:
    """Where the message goes: the channel chosen if the person has an address for it, else the
    other one (the delivery then shows the channel really used), else nowhere (NOT_SENT, with
    `not_sent_reason`). A letter or a word in person is not sent by the service."""
    if participant.kind is ParticipantKind.STAFF:
        member = staff.get(participant.staff_member_id) if participant.staff_member_id else None
        return (Channel.EMAIL, member.email) if member is not None and member.email else None
    citizen = citizens.get(participant.citizen_id) if participant.citizen_id else None
    if citizen is None or chosen not in (InvitationChannel.EMAIL, InvitationChannel.SMS):
        return None
    addresses = {Channel.EMAIL: citizen.email, Channel.SMS: citizen.phone}
    first = Channel(chosen.value)
    for channel in (first, _OTHER[first]):
        address = addresses[channel]
        if address:
            return channel, address
    return None


def not_sent_reason(kind: ParticipantKind | None, chosen: InvitationChannel) -> str:
    """Why no message was written to this participant (for staff: the delivery's lastError)."""
    if kind is ParticipantKind.STAFF:
        return NO_WORK_EMAIL
    if kind is ParticipantKind.EXTERNAL:
        return NOT_AUTOMATIC
    return BY_HAND.get(chosen, NO_CONTACT)


def _new_link(session: AsyncSession, meeting: Meeting, participant_id: uuid.UUID, staff_id: uuid.UUID) -> str | None:
    """A personal invite link (stored hashed) for the message; the raw token goes only into the body
    of this participant's outbox message, which is how it is delivered. Earlier links stop working."""
    now = clock.now()
    valid_from, expires_at = invites.link_window(meeting.starts_at, meeting.ends_at, now)
    if expires_at <= now:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        InviteLink(
            meeting_id=meeting.id,
            participant_id=participant_id,
            token_hash=invites.hash_token(token),
            issued_at=now,
            issued_by_staff_id=staff_id,
            valid_from=valid_from,
            expires_at=expires_at,
        )
    )
    return token


async def _revoke_links(session: AsyncSession, meeting_id: uuid.UUID, participant_ids: Iterable[uuid.UUID]) -> None:
    stmt = select(InviteLink).where(
        InviteLink.meeting_id == meeting_id,
        InviteLink.participant_id.in_(list(participant_ids)),
        InviteLink.revoked_at.is_(None),
    )
    for link in await session.scalars(stmt):
        link.revoked_at = clock.now()


async def _inviter(session: AsyncSession, staff: dict[uuid.UUID, StaffMember], staff_id: uuid.UUID) -> texts.Inviter:
    member = staff[staff_id]
    organisation = await session.get(Organisation, member.organisation_id)
    assert organisation is not None
    return texts.Inviter(member.name, member.title, organisation.name, member.phone or organisation.phone)


async def queue(
    session: AsyncSession,
    plan: Plan,
    meeting: Meeting,
    participant_ids: Iterable[uuid.UUID],
    kind: MessageKind,
    *,
    letterhead: Letterhead,
    staff_id: uuid.UUID,
) -> None:
    """One message to each of these invited participants that can be reached, from `staff_id`."""
    by_id = {p.id: p for p in plan.participants}
    participants = [by_id[pid] for pid in participant_ids if pid in by_id]
    chosen = {i.participant_id: i.channel for i in meeting.invitations}
    citizen_ids = {p.citizen_id for p in participants if p.citizen_id is not None} | {plan.patient_id}
    citizens = {c.id: c for c in await session.scalars(select(Citizen).where(Citizen.id.in_(citizen_ids)))}
    staff_ids = {p.staff_member_id for p in participants if p.staff_member_id is not None} | {staff_id}
    staff = {m.id: m for m in await session.scalars(select(StaffMember).where(StaffMember.id.in_(staff_ids)))}
    inviter = await _inviter(session, staff, staff_id)
    patient_first_name = texts.first_name(citizens[plan.patient_id].name)
    if kind is MessageKind.UPDATE:  # a new time needs new links (cancelling already stops the old ones)
        await _revoke_links(session, meeting.id, [p.id for p in participants if p.kind in LINK_KINDS])
    organizer = parseaddr(letterhead.mail_from)[1] or "noreply@localhost"
    public = letterhead.public_url.rstrip("/")
    for participant in participants:
        if not participation.takes_part(participant.kind, participant.wanted_by_patient):
            continue  # a relative the patient has not chosen (or no longer wants) is told nothing
        channel_chosen = chosen.get(participant.id, InvitationChannel.EMAIL)
        reach = contact(participant, channel_chosen, citizens, staff)
        if reach is None:
            continue  # shown to staff as NOT_SENT on the invitation, with `not_sent_reason`
        channel, address = reach
        is_staff = participant.kind is ParticipantKind.STAFF
        link: str | None = None
        if kind is not MessageKind.CANCELLATION and meeting.kind is not MeetingKind.IN_PERSON:
            if participant.kind in LINK_KINDS:
                token = _new_link(session, meeting, participant.id, staff_id)
                link = invites.join_url(letterhead.public_url, token) if token else None
            elif is_staff:
                link = f"{public}/video/?m={meeting.id}"  # they sign in there
        if is_staff:
            member = staff[participant.staff_member_id]  # type: ignore[index]
            reader = texts.Reader(participant.kind, texts.first_name(member.name), Language.SV, patient_first_name)
        else:
            person = citizens[participant.citizen_id]  # type: ignore[index]
            reader = texts.Reader(participant.kind, texts.first_name(person.name), person.language, patient_first_name)
        occasion = texts.Occasion(
            message=kind,
            kind=meeting.kind,
            purpose=meeting.purpose,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            location=meeting.location,
            link=link,
            plan_url=f"{public}/app/#/plans/{plan.id}" if is_staff else None,
        )
        text = texts.compose(occasion, reader, inviter, sms=channel is Channel.SMS)
        attachment = None
        if channel is Channel.EMAIL:
            calendar = ics.calendar(
                meeting_id=meeting.id,
                starts_at=meeting.starts_at,
                ends_at=meeting.ends_at,
                sequence=meeting.sequence,
                cancelled=kind is MessageKind.CANCELLATION,
                stamp=clock.now(),
                summary=text.summary,
                description=text.description,
                location=meeting.location,
                organizer=organizer,
                organizer_name=f"{inviter.name}, {inviter.organisation}",
                attendee_email=address,
                url=(link or occasion.plan_url) if is_staff else None,  # never a personal link
            )
            method = "CANCEL" if kind is MessageKind.CANCELLATION else "REQUEST"
            attachment = Attachment(
                "invite.ics" if method == "REQUEST" else "cancel.ics",
                f"text/calendar; method={method}; charset=utf-8",
                calendar.decode(),
            )
        enqueue(
            session,
            participant_id=participant.id,
            meeting_id=meeting.id,
            kind=kind,
            channel=channel,
            address=address,
            subject=text.subject,
            body=text.body,
            attachment=attachment,
        )
