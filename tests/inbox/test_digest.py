"""The daily e-mail digest of the staff inbox, through the outbox to a real SMTP server (aiosmtpd),
on an injected clock ("now" is given to each run): from the time of day on, at most once a day,
only when something new has come, counts and a link only (no patient's name or number), and not
to whoever opted out or has no work e-mail."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from sip_service.cli import app as cli
from sip_service.inbox import digest
from sip_service.kit import clock
from sip_service.models.identity import StaffMember
from sip_service.models.notify import MessageKind, MessageStatus, OutboxMessage
from sip_service.models.plans import ParticipantKind, Plan
from sip_service.notify import service as outbox
from sip_service.notify.senders import Senders, SmtpSender
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, free_port, op
from helpers import RecordingSms, Smtp, consent_for_both, plan_added_to, staff, until, within

AT = time(7, 0)
JOHAN = "johan.ek@ekby.example"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Stockholm, as the injected "now"."""
    return datetime.combine(day, time(hour, minute), tzinfo=clock.STOCKHOLM)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp(free_port())
    server.start()
    yield server
    server.stop()


def senders(smtp: Smtp) -> Senders:
    return Senders(SmtpSender("127.0.0.1", smtp.port, "SIP-tjänsten <noreply@sip.test>"), RecordingSms())


async def run(world: Service, now: datetime) -> digest.DigestRun:
    return await digest.run_once(world.db, public_url=world.url, at=AT, now=now)


async def send(world: Service, smtp: Smtp, now: datetime) -> list[EmailMessage]:
    """Send what the outbox holds (as the worker would, at `now`); the mails that arrived."""
    before = len(smtp.mails)
    await outbox.run_once(world.db, senders(smtp), max_attempts=3, now=now)
    return smtp.mails[before:]


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def add_omar(world: Service, plan_id: uuid.UUID) -> None:
    """Omar (Anna's colleague) takes part too: the plan is new to him."""
    anna, omar = await staff(world, "Anna"), await staff(world, "Omar")
    async with world.db.write() as s:
        current = await s.get(Plan, plan_id)
        assert current is not None
        plan = await plans.editable_plan(s, anna, plan_id, current.version)
        new = plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=omar.staff_id)
        await plans.add_participant(s, anna, plan_id, plan.version, new)


async def test_a_digest_a_day_with_counts_only_and_only_when_something_is_new(
    gql: GraphQLClient, world: Service, smtp: Smtp
) -> None:
    first = await plan_added_to(world, consent=True)  # new to Johan; Anna made it
    await add_omar(world, first)
    off = await gql(op("SetInboxDigest"), {"receive": False}, as_="staff-omar")
    assert off["setInboxDigest"] == {
        "__typename": "InboxDigest",
        "email": "omar.haddad@norrbacka.example",
        "receives": False,
        "optedOut": True,
        "sendsAt": "07:00",
    }
    today = clock.today()

    # not before the time of day
    assert (await run(world, at(today, 6, 59))).looked_at == 0
    assert await send(world, smtp, at(today, 6, 59)) == []

    # from then on: everyone with a work e-mail who did not opt out is looked at; Johan has news
    ran = await run(world, at(today, 7, 30))
    assert (ran.looked_at, ran.queued) == (
        10,
        1,
    )  # Anna, Karin, Johan, Sara, Ulla, Lisa, Erik, Maja, Henrik, Eva; not Omar
    (mail,) = await send(world, smtp, at(today, 7, 30))
    assert mail["To"] == JOHAN and mail["Subject"] == (
        "Att göra i SIP-tjänsten: 1 nya / To do in the SIP service: 1 new"
    )
    text = text_of(mail)
    assert "Hej Johan Ek!" in text and "Nya planer där du är med: 1" in text
    assert "New plans you take part in: 1" in text
    assert f"{world.url}/app/#/inbox" in text and "Logga in" in text
    # e-mail is not a secure channel: nobody is named, no number, no plan
    for secret in ("Elsa", "Andersson", "194003122388", "19400312", str(first)):
        assert secret not in text and secret not in mail["Subject"], secret
    async with world.db.read() as s:
        (row,) = await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == MessageKind.DIGEST))
        assert row.status is MessageStatus.SENT and row.participant_id is None and row.staff_member_id

    # at most once a day
    assert (await run(world, at(today, 12, 0))).looked_at == 0
    # the next day: Johan has not looked, but nothing is new, so no e-mail
    tomorrow = today + timedelta(days=1)
    ran = await run(world, at(tomorrow, 7, 0))
    assert (ran.looked_at, ran.queued) == (10, 0)
    assert await send(world, smtp, at(tomorrow, 7, 0)) == []

    # something new comes (another plan, for Per): the day after, an e-mail counting both
    await plan_added_to(world, consent=True, patient="Per")
    later = today + timedelta(days=2)
    assert (await run(world, at(later, 8, 0))).queued == 1
    (mail,) = await send(world, smtp, at(later, 8, 0))
    assert mail["To"] == JOHAN and "Nya planer där du är med: 2" in text_of(mail) and "Per" not in text_of(mail)

    # Johan turns it off: a new plan brings no e-mail any more
    off = await gql(op("SetInboxDigest"), {"receive": False}, as_="staff-johan")
    assert off["setInboxDigest"]["receives"] is False
    third = await plan_added_to(world, consent=False, patient="Lena")
    async with world.db.write() as s:
        await consent_for_both(s, world, third)
    assert (await run(world, at(today + timedelta(days=3), 8, 0))).queued == 0
    on = await gql(op("SetInboxDigest"), {"receive": True}, as_="staff-johan")
    assert on["setInboxDigest"]["receives"] is True
    assert (await run(world, at(today + timedelta(days=4), 8, 0))).queued == 1  # the Lena plan is news to him
    assert [m["To"] for m in await send(world, smtp, at(today + timedelta(days=4), 8, 0))] == [JOHAN]


async def test_no_digest_without_a_work_email_and_the_setting_says_so(gql: GraphQLClient, world: Service) -> None:
    await plan_added_to(world, consent=True)
    async with world.db.write() as s:
        await s.execute(update(StaffMember).where(StaffMember.name == "Johan Ek").values(email=None))
    box = (await gql(op("Inbox"), as_="staff-johan"))["inbox"]
    assert box["unread"] == 1
    assert box["digest"] == {"email": None, "receives": False, "optedOut": False, "sendsAt": "07:00"}
    assert (await run(world, at(clock.today(), 9, 0))).queued == 0
    answer = (await gql.raw(op("SetInboxDigest"), {"receive": False}, as_="citizen-elsa")).json()
    assert answer["data"]["setInboxDigest"]["__typename"] == "ForbiddenError"


async def test_two_workers_at_once_send_one_digest(world: Service) -> None:
    await plan_added_to(world, consent=True)
    now = at(clock.today(), 7, 5)
    runs = await asyncio.gather(run(world, now), run(world, now), run(world, now))
    assert sum(r.queued for r in runs) == 1 and sum(r.looked_at for r in runs) == 11  # each one once
    async with world.db.read() as s:
        digests = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == MessageKind.DIGEST)))
    assert [m.address for m in digests] == [JOHAN]


async def test_the_outbox_worker_sends_the_digest_of_its_own_accord(world: Service, smtp: Smtp) -> None:
    """The server's background loop: before each round it queues the digests that are due."""
    await plan_added_to(world, consent=True)
    job = [lambda: digest.run_once(world.db, public_url=world.url, at=time(0, 0))]
    stop = asyncio.Event()
    worker = asyncio.create_task(
        outbox.run_forever(world.db, senders(smtp), interval_s=0.05, max_attempts=3, before=job, stop=stop)
    )
    try:

        async def arrived() -> bool:
            return any(m["To"] == JOHAN for m in smtp.mails)

        await until(arrived, "the digest sent by the worker")
    finally:
        stop.set()  # as the app stops it
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await within(worker, "the worker to stop")
    assert [m["To"] for m in smtp.mails] == [JOHAN]


async def test_the_digest_command(world: Service) -> None:
    await plan_added_to(world, consent=True)
    env = {"SIP_DATABASE_URL": world.settings.database_url, "SIP_PUBLIC_URL": world.url}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["digest", "--any-time"], env=env)
    assert result.exit_code == 0, result.output
    assert "queued 1 digests" in result.output
    again = await asyncio.to_thread(CliRunner().invoke, cli, ["digest", "--any-time"], env=env)
    assert "looked at 0 staff members, queued 0 digests" in again.output
