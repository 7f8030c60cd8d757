"""The messages about a meeting: invitation, new time, cancellation — one per invited participant.

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

from sip_service.identity.models import Citizen
from sip_service.kit import clock
from sip_service.meetings import invites
from sip_service.meetings.models import InviteLink, Meeting, MeetingKind
from sip_service.notify import ics
from sip_service.notify.models import Channel, MessageKind
from sip_service.notify.service import Attachment, enqueue
from sip_service.plans import participation
from sip_service.plans.models import Participant, ParticipantKind, Plan

# Citizens join with a personal invite link; staff sign in and open the meeting page.
LINK_KINDS = frozenset({ParticipantKind.PATIENT, ParticipantKind.RELATIVE, ParticipantKind.REPRESENTATIVE})
NO_CONTACT = "Ingen e-postadress eller inget telefonnummer / no e-mail address or phone number"


@dataclass(frozen=True)
class Letterhead:
    """What messages need from the settings."""

    public_url: str
    mail_from: str


def contact(participant: Participant, citizens: dict[uuid.UUID, Citizen]) -> tuple[Channel, str] | None:
    """E-mail if the participant has one, else SMS to their phone, else nothing can be sent."""
    citizen = citizens.get(participant.citizen_id) if participant.citizen_id else None
    if citizen is None:  # staff and external parties have no contact data here (yet)
        return None
    if citizen.email:
        return Channel.EMAIL, citizen.email
    if citizen.phone:
        return Channel.SMS, citizen.phone
    return None


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


def _when(meeting: Meeting) -> str:
    start, end = meeting.starts_at.astimezone(clock.STOCKHOLM), meeting.ends_at.astimezone(clock.STOCKHOLM)
    return f"{start:%Y-%m-%d} kl. {start:%H:%M}–{end:%H:%M} (svensk tid / Swedish time)"


def _text(kind: MessageKind, meeting: Meeting, link: str | None) -> tuple[str, str]:
    when = _when(meeting)
    if kind is MessageKind.CANCELLATION:
        subject = "Inställt: SIP-möte / Cancelled: SIP meeting"
        lines = [f"SIP-mötet {when} är inställt.", f"The SIP meeting {when} has been cancelled."]
    else:
        if kind is MessageKind.UPDATE:
            subject = "Ny tid: SIP-möte / New time: SIP meeting"
            lines = [f"SIP-mötet har fått en ny tid: {when}.", f"The SIP meeting has a new time: {when}."]
        else:
            subject = "Kallelse till SIP-möte / Invitation to a SIP meeting"
            lines = [
                f"Du är kallad till ett SIP-möte (samordnad individuell plan) {when}.",
                f"You are invited to a SIP meeting (coordinated individual plan) {when}.",
            ]
        if meeting.location:
            lines.append(f"Plats / Place: {meeting.location}")
        if link:
            lines += ["", "Anslut till mötet / Join the meeting:", link]
            if "#t=" in link:
                lines.append("Länken är personlig – dela den inte. / The link is personal: do not share it.")
    return subject, "\n".join(lines) + "\n"


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
    """One message to each of these invited participants that can be reached."""
    by_id = {p.id: p for p in plan.participants}
    participants = [by_id[pid] for pid in participant_ids if pid in by_id]
    citizen_ids = [p.citizen_id for p in participants if p.citizen_id is not None]
    citizens = {c.id: c for c in await session.scalars(select(Citizen).where(Citizen.id.in_(citizen_ids)))}
    if kind is MessageKind.UPDATE:  # a new time needs new links (cancelling already stops the old ones)
        await _revoke_links(session, meeting.id, [p.id for p in participants if p.kind in LINK_KINDS])
    organizer = parseaddr(letterhead.mail_from)[1] or "noreply@localhost"
    for participant in participants:
        if not participation.takes_part(participant.kind, participant.wanted_by_patient):
            continue  # a relative the patient has not chosen (or no longer wants) is told nothing
        reach = contact(participant, citizens)
        if reach is None:
            continue  # shown to staff as NOT_SENT on the invitation
        channel, address = reach
        link: str | None = None
        if kind is not MessageKind.CANCELLATION and meeting.kind is not MeetingKind.IN_PERSON:
            if participant.kind in LINK_KINDS:
                token = _new_link(session, meeting, participant.id, staff_id)
                link = invites.join_url(letterhead.public_url, token) if token else None
            else:
                link = f"{letterhead.public_url.rstrip('/')}/meetings/{meeting.id}"
        subject, body = _text(kind, meeting, link)
        attachment = None
        if channel is Channel.EMAIL:
            calendar = ics.calendar(
                meeting_id=meeting.id,
                starts_at=meeting.starts_at,
                ends_at=meeting.ends_at,
                sequence=meeting.sequence,
                cancelled=kind is MessageKind.CANCELLATION,
                stamp=clock.now(),
                description=subject,
                location=meeting.location,
                organizer=organizer,
                attendee_email=address,
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
            subject=subject,
            body=body,
            attachment=attachment,
        )
