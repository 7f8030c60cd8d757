"""The daily e-mail digest of each staff member's inbox ("Att göra"), so that no one has to sign in
to find out whether something waits for them.

Once a day, from `Settings.digest_at` (Stockholm), each staff member with a work e-mail who has not
opted out is looked at once (`inbox_digests` records the day): if their inbox holds anything new
that no digest told them of before (`inbox.rules.news`), one e-mail goes into the outbox, which
sends it like any other message. E-mail is not a secure channel: the message holds counts and a
link to sign in, never a patient's name or personal number. Each staff member is one unit of work;
two processes at once look at each person only once (the day is claimed in the row).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from sip_service.auth.principal import AuthMethod, StaffPrincipal
from sip_service.inbox import rules
from sip_service.inbox import service as inbox
from sip_service.inbox.rules import Count, ItemKind
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.models.identity import StaffMember
from sip_service.models.inbox import InboxDigest
from sip_service.models.notify import Channel, MessageKind
from sip_service.notify.service import enqueue

log = logging.getLogger("sip_service.notify")

# What each kind is, counted, in Swedish and English: no names, no numbers but the count.
KIND_WORDS: dict[ItemKind, tuple[str, str]] = {
    ItemKind.DISCHARGE: ("Utskrivningar där SIP-möte ska kallas", "Discharges where a SIP meeting must be called"),
    ItemKind.NEW_PLAN: ("Nya planer där du är med", "New plans you take part in"),
    ItemKind.TO_FINALIZE: ("Planer som är klara att fastställa", "Plans ready to finalize"),
    ItemKind.ACTION: ("Insatser som ska vara klara snart", "Actions due soon"),
    ItemKind.MEETING: ("Möten du är kallad till", "Meetings you are invited to"),
    ItemKind.FOLLOW_UP_DUE: ("Planer att följa upp", "Plans to follow up"),
}


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str


def compose(name: str, counts: Sequence[Count], link: str) -> Composed:
    """The digest as one person reads it: Swedish, then the same in English; only counts."""
    unread = [c for c in counts if c.unread]
    total = sum(c.unread for c in unread)
    sv = "\n".join(f"  {KIND_WORDS[c.kind][0]}: {c.unread}" for c in unread)
    en = "\n".join(f"  {KIND_WORDS[c.kind][1]}: {c.unread}" for c in unread)
    body = f"""Hej {name}!

Det här väntar på dig i SIP-tjänsten:

{sv}

Logga in för att se vad det gäller:
{link}

Brevet säger inte vilka patienter det gäller: e-post är inte en säker kanal.
Du får brevet högst en gång om dagen, och bara när något nytt har kommit.
Vill du inte ha det? Stäng av det på sidan Att göra i tjänsten.

-- In English --

Hello {name},

This is waiting for you in the SIP service:

{en}

Sign in to see what it is about:
{link}

This e-mail does not name any patient: e-mail is not a secure channel.
You get it at most once a day, and only when something new has come.
Do not want it? Turn it off on the To do page of the service.
"""
    return Composed(f"Att göra i SIP-tjänsten: {total} nya / To do in the SIP service: {total} new", body)


@dataclass
class DigestRun:
    looked_at: int = 0  # staff members whose inbox was looked at for this day
    queued: int = 0  # e-mails put in the outbox


async def run_once(db: Database, *, public_url: str, at: time = time(7, 0), now: datetime | None = None) -> DigestRun:
    """Look at each staff member due a digest today (none before `at`), and queue the e-mails."""
    now = now or clock.now()
    result = DigestRun()
    day = rules.digest_day(now, at)
    if day is None:
        return result
    async with db.read() as session:
        stmt = (
            select(StaffMember, InboxDigest)
            .outerjoin(InboxDigest, InboxDigest.staff_member_id == StaffMember.id)
            .where(
                StaffMember.email.is_not(None),
                StaffMember.email != "",
                StaffMember.digest_opt_out.is_(False),
                or_(InboxDigest.day.is_(None), InboxDigest.day < day),
            )
            .order_by(StaffMember.id)
        )
        due = [(member, digest.told if digest else None) for member, digest in (await session.execute(stmt)).all()]
    link = f"{public_url.rstrip('/')}/app/#/inbox"
    for member, told in due:
        try:
            queued = await _one(db, member, told, day, now, link)
        except IntegrityError:  # another process looked at this person first
            continue
        if queued is None:
            continue
        result.looked_at += 1
        result.queued += queued
    return result


async def _one(
    db: Database, member: StaffMember, told: list[str] | None, day: date, now: datetime, link: str
) -> int | None:
    """One staff member, in one unit of work: the day claimed, the inbox read, the e-mail queued
    if there is news. None if someone else claimed the day first."""
    async with db.write() as session:
        principal = StaffPrincipal(member.id, member.organisation_id, member.hsa_id, member.name, AuthMethod.SYSTEM)
        box = await inbox.inbox(session, principal, day, now)
        unread = [i.key for i in box.items if not i.read]
        news = rules.news(unread, told or [])
        sent_at = now if news else None
        if told is None:
            session.add(InboxDigest(staff_member_id=member.id, day=day, checked_at=now, sent_at=sent_at, told=unread))
            await session.flush()  # a row made meanwhile by another process: IntegrityError
        else:
            values: dict[str, object] = {"day": day, "checked_at": now, "told": unread}
            if sent_at is not None:
                values["sent_at"] = sent_at
            claimed = await session.execute(
                update(InboxDigest)
                .where(InboxDigest.staff_member_id == member.id, InboxDigest.day < day)
                .values(**values)
            )
            if claimed.rowcount == 0:  # type: ignore[attr-defined]
                return None
        if not news:
            return 0
        assert member.email is not None
        message = compose(member.name, box.counts, link)
        enqueue(
            session,
            participant_id=None,
            staff_member_id=member.id,
            meeting_id=None,
            kind=MessageKind.DIGEST,
            channel=Channel.EMAIL,
            address=member.email,
            subject=message.subject,
            body=message.body,
            now=now,
        )
        log.info("digest for staff member %s queued (%d new)", member.id, len(news))
        return 1
