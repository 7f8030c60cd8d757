"""Invitations through the outbox: a real SMTP server (aiosmtpd) on loopback, a recording SMS sender.

The service's own outbox worker is paused; each test runs the outbox once itself, when it wants to,
and says what "now" is where it matters (backoff, due times), so no test depends on how long the
steps between took. A run that the worker began before the pause took its "now" before this test's
messages existed, so it cannot send them.
"""

from __future__ import annotations

import email
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select, update

from sip_service.identity.models import Citizen
from sip_service.notify import ics
from sip_service.notify import service as outbox
from sip_service.notify.models import MessageStatus, OutboxMessage
from sip_service.notify.senders import Outgoing, Senders, SmtpSender
from sip_service.plans.models import Participant, ParticipantKind

from conftest import GraphQLClient, Service, free_port, op
from helpers import WAIT_S, big_plan, schedule_video_meeting

LINK = re.compile(r"https?://\S+/join#t=([A-Za-z0-9_-]+)")


class Recorder:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class Smtp:
    """An SMTP server that can be stopped and started again on the same port."""

    port: int
    recorder: Recorder = field(default_factory=Recorder)
    controller: Controller | None = None

    def start(self) -> None:
        # aiosmtpd gives its thread 5 s to answer by default ("the system is too busy"); we wait longer.
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=WAIT_S)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def mails(self) -> list[EmailMessage]:
        return self.recorder.mails


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp(free_port())
    server.start()
    with outbox.paused():
        yield server
    server.stop()


@dataclass
class Invited:
    plan_id: str
    meeting: dict[str, Any]
    start: datetime
    people: dict[str, str]  # patient, relative_email, relative_sms, staff → participant id
    sms: RecordingSms
    senders: Senders

    async def run(self, world: Service, now: datetime | None = None) -> outbox.RunResult:
        return await outbox.run_once(world.db, self.senders, max_attempts=3, now=now)


async def invite_everyone(gql: GraphQLClient, world: Service, smtp_port: int) -> Invited:
    """Elsa's plan with two relatives (one with e-mail, one with only a phone) and a second staff member;
    a VIDEO meeting starting in 10 minutes, to which all four are invited over GraphQL."""
    plan_id = await big_plan(world, relatives=2, goals=0, actions=0, meeting_count=0)
    async with world.db.write() as s:
        participants = list(await s.scalars(select(Participant).where(Participant.plan_id == plan_id)))
        patient = next(p for p in participants if p.kind is ParticipantKind.PATIENT)
        relatives = sorted((p for p in participants if p.kind is ParticipantKind.RELATIVE), key=lambda p: str(p.id))
        staff = next(p for p in participants if p.kind is ParticipantKind.STAFF)
        contacts = [(patient, "elsa@example.se", None), (relatives[0], "rel@example.se", None)]
        contacts.append((relatives[1], None, "+46701234567"))
        for p, mail, phone in contacts:
            await s.execute(update(Citizen).where(Citizen.id == p.citizen_id).values(email=mail, phone=phone))
    people = {
        "patient": str(patient.id),
        "relative_email": str(relatives[0].id),
        "relative_sms": str(relatives[1].id),
        "staff": str(staff.id),
    }
    start = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    meeting = await schedule_video_meeting(gql, plan_id, start)
    variables = {
        "meetingId": meeting["id"],
        "expectedVersion": meeting["version"],
        "participantIds": list(people.values()),
        "channel": "EMAIL",
    }
    meeting = (await gql(op("InviteToMeeting"), variables, as_="staff-anna"))["inviteToMeeting"]
    assert [i["participantId"] for i in meeting["invitations"]] == list(people.values())
    sms = RecordingSms()
    senders = Senders(SmtpSender("127.0.0.1", smtp_port, "SIP-tjänsten <noreply@sip.test>"), sms)
    return Invited(str(plan_id), meeting, start, people, sms, senders)


async def deliveries(gql: GraphQLClient, invited: Invited) -> dict[str, dict[str, Any]]:
    data = await gql(op("MeetingDeliveries"), {"planId": invited.plan_id}, as_="staff-anna")
    (meeting,) = [m for m in data["plan"]["meetings"] if m["id"] == invited.meeting["id"]]
    by_participant = {i["participantId"]: i["delivery"] for i in meeting["invitations"]}
    return {name: by_participant[pid] for name, pid in invited.people.items()}


def calendar_of(mail: EmailMessage) -> Calendar:
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    content = parts[0].get_content()
    return Calendar.from_ical(content if isinstance(content, str) else content.decode())


def event_of(cal: Calendar) -> Any:
    (event,) = cal.walk("VEVENT")
    return event


def mail_to(smtp: Smtp, address: str) -> list[EmailMessage]:
    return [m for m in smtp.mails if m["To"] == address]


async def test_invitations_are_sent_with_calendar_and_working_link(
    gql: GraphQLClient, world: Service, smtp: Smtp
) -> None:
    invited = await invite_everyone(gql, world, smtp.port)
    # Written with the invitation, not yet sent.
    assert {d["status"] for d in (await deliveries(gql, invited)).values()} == {"PENDING", "NOT_SENT"}
    async with world.db.read() as s:
        bodies = [m.body for m in await s.scalars(select(OutboxMessage))]
    assert len(bodies) == 3

    result = await invited.run(world)
    assert (result.sent, result.retrying, result.failed) == (3, 0, 0)

    assert sorted(m["To"] for m in smtp.mails) == ["elsa@example.se", "rel@example.se"]
    tokens = []
    for mail in smtp.mails:
        cal = calendar_of(mail)
        event = event_of(cal)
        assert str(cal["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == ics.uid(uuid.UUID(invited.meeting["id"]))
        assert event.decoded("DTSTART") == invited.start
        assert event.decoded("DTEND") == invited.start + timedelta(hours=1)
        assert int(event["SEQUENCE"]) == 0
        assert "SIP-möte" in str(event["SUMMARY"])
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        match = LINK.search(text.get_content())
        assert match, text.get_content()
        tokens.append(match.group(1))
        assert match.group(1) not in cal.to_ical().decode()  # the token is in the body only
    assert len(set(tokens)) == 2  # personal links

    (sms,) = invited.sms.sent
    assert sms.address == "+46701234567" and sms.attachment is None
    sms_link = LINK.search(sms.body)
    assert sms_link

    # The links work: the guest's browser exchanges the token for a meeting token.
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        for token in [*tokens, sms_link.group(1)]:
            response = await http.post("/auth/invite", json={"token": token})
            assert response.status_code == 200, response.text

    state = await deliveries(gql, invited)
    for name in ("patient", "relative_email", "relative_sms"):
        assert state[name]["status"] == "SENT" and state[name]["attempts"] == 1 and state[name]["sentAt"]
    assert state["relative_sms"]["channel"] == "SMS"
    # Staff have no contact data in the service: visibly not sent.
    assert state["staff"]["status"] == "NOT_SENT" and state["staff"]["lastError"]

    # Nothing is sent twice.
    assert (await invited.run(world)).sent == 0
    assert len(smtp.mails) == 2


async def test_smtp_down_is_retried_later_and_visible(gql: GraphQLClient, world: Service, smtp: Smtp) -> None:
    smtp.stop()
    invited = await invite_everyone(gql, world, smtp.port)
    now = datetime.now(UTC)  # after the messages were written: they are due
    result = await invited.run(world, now=now)
    assert (result.sent, result.retrying, result.failed) == (1, 2, 0)  # the SMS went

    state = await deliveries(gql, invited)
    for name in ("patient", "relative_email"):
        d = state[name]
        assert d["status"] == "PENDING" and d["attempts"] == 1 and d["lastError"] and d["sentAt"] is None
        assert datetime.fromisoformat(d["nextAttemptAt"]) == now + outbox.backoff(1)
    async with world.db.read() as s:
        pending = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.status == MessageStatus.PENDING)))
    assert len(pending) == 2

    smtp.start()
    not_yet = now + outbox.backoff(1) - timedelta(seconds=1)
    assert (await invited.run(world, now=not_yet)).sent == 0  # not due yet
    result = await invited.run(world, now=now + outbox.backoff(1))
    assert (result.sent, result.retrying) == (2, 0)
    assert sorted(m["To"] for m in smtp.mails) == ["elsa@example.se", "rel@example.se"]
    state = await deliveries(gql, invited)
    assert state["patient"]["status"] == "SENT" and state["patient"]["attempts"] == 2


async def test_gives_up_after_the_last_attempt(gql: GraphQLClient, world: Service, smtp: Smtp) -> None:
    smtp.stop()
    invited = await invite_everyone(gql, world, smtp.port)
    now = datetime.now(UTC)
    for attempt in range(1, 4):
        await invited.run(world, now=now)
        now += outbox.backoff(attempt) + timedelta(seconds=1)
    state = await deliveries(gql, invited)
    assert state["patient"]["status"] == "FAILED" and state["patient"]["attempts"] == 3
    assert state["patient"]["nextAttemptAt"] is None


async def test_reschedule_and_cancel_tell_everyone(gql: GraphQLClient, world: Service, smtp: Smtp) -> None:
    invited = await invite_everyone(gql, world, smtp.port)
    await invited.run(world)
    new_start = invited.start + timedelta(minutes=20)
    moved = (
        await gql(
            op("RescheduleMeeting"),
            {
                "meetingId": invited.meeting["id"],
                "expectedVersion": invited.meeting["version"],
                "startsAt": new_start.isoformat(),
                "endsAt": (new_start + timedelta(minutes=45)).isoformat(),
            },
            as_="staff-anna",
        )
    )["rescheduleMeeting"]
    assert datetime.fromisoformat(moved["startsAt"]) == new_start
    assert (await invited.run(world)).sent == 3

    (first, second) = mail_to(smtp, "elsa@example.se")
    event = event_of(calendar_of(second))
    assert int(event["SEQUENCE"]) == 1 and str(calendar_of(second)["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == new_start
    assert str(event["UID"]) == str(event_of(calendar_of(first))["UID"])
    old_token = LINK.search(first.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    new_token = LINK.search(second.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert old_token and new_token and old_token.group(1) != new_token.group(1)
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        assert (await http.post("/auth/invite", json={"token": old_token.group(1)})).status_code == 401
        assert (await http.post("/auth/invite", json={"token": new_token.group(1)})).status_code == 200
    assert "ny tid" in invited.sms.sent[-1].body.lower()

    cancelled = (
        await gql(
            op("CancelMeeting"),
            {"meetingId": moved["id"], "expectedVersion": moved["version"]},
            as_="staff-anna",
        )
    )["cancelMeeting"]
    assert cancelled["status"] == "CANCELLED"
    assert (await invited.run(world)).sent == 3
    for address in ("elsa@example.se", "rel@example.se"):
        last = mail_to(smtp, address)[-1]
        cal = calendar_of(last)
        assert str(cal["METHOD"]) == "CANCEL"
        assert int(event_of(cal)["SEQUENCE"]) == 2
        assert "#t=" not in last.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "inställt" in invited.sms.sent[-1].body
