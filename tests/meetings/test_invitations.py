"""Invitations through the outbox: a real SMTP server (aiosmtpd) on loopback, a recording SMS sender.

The service's own outbox worker is paused; each test runs the outbox once itself, when it wants to,
and says what "now" is where it matters (backoff, due times), so no test depends on how long the
steps between took. A run that the worker began before the pause took its "now" before this test's
messages existed, so it cannot send them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from sip_service.auth.principal import CitizenPrincipal
from sip_service.kit import clock
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.notify import MessageStatus, OutboxMessage
from sip_service.models.plans import Participant, ParticipantKind, Plan
from sip_service.notify import ics
from sip_service.notify import service as outbox
from sip_service.notify.senders import Senders, SmtpSender
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, free_port, op
from helpers import RecordingSms, Smtp, add_family, big_plan, citizen_id, schedule_video_meeting
from helpers import staff as staff_principal

LINK = re.compile(r"https?://\S+/join#t=([A-Za-z0-9_-]+)")


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
    """Elsa's plan with two relatives (one with e-mail, one with only a phone) and Johan (staff, with
    his work e-mail); a VIDEO meeting starting in 10 minutes, to which Anna invites all four over
    GraphQL by e-mail (the relative without one gets an SMS instead)."""
    plan_id = await big_plan(world, relatives=2, goals=0, actions=0, meeting_count=0)
    async with world.db.write() as s:
        participants = list(await s.scalars(select(Participant).where(Participant.plan_id == plan_id)))
        patient = next(p for p in participants if p.kind is ParticipantKind.PATIENT)
        relatives = sorted((p for p in participants if p.kind is ParticipantKind.RELATIVE), key=lambda p: str(p.id))
        johan = await staff_principal(world, "Johan")
        staff = next(p for p in participants if p.staff_member_id == johan.staff_id)
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
    assert {d["status"] for d in (await deliveries(gql, invited)).values()} == {"PENDING"}
    async with world.db.read() as s:
        bodies = [m.body for m in await s.scalars(select(OutboxMessage))]
    assert len(bodies) == 4

    result = await invited.run(world)
    assert (result.sent, result.retrying, result.failed) == (4, 0, 0)

    assert sorted(m["To"] for m in smtp.mails) == ["elsa@example.se", "johan.ek@ekby.example", "rel@example.se"]
    tokens = []
    for mail in smtp.mails:
        if mail["To"] == "johan.ek@ekby.example":
            continue  # staff: below
        cal = calendar_of(mail)
        event = event_of(cal)
        assert str(cal["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == ics.uid(uuid.UUID(invited.meeting["id"]))
        assert event.decoded("DTSTART") == invited.start
        assert event.decoded("DTEND") == invited.start + timedelta(hours=1)
        assert int(event["SEQUENCE"]) == 0
        assert str(event["SUMMARY"]) == (
            "SIP-möte om din plan" if mail["To"] == "elsa@example.se" else "SIP-möte om Elsas plan"
        )
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        match = LINK.search(text.get_content())
        assert match, text.get_content()
        tokens.append(match.group(1))
        assert match.group(1) not in cal.to_ical().decode()  # the token is in the body only
    assert len(set(tokens)) == 2  # personal links

    # Staff: their work e-mail, with the calendar file and the meeting page (they sign in), no personal link.
    (staff_mail,) = mail_to(smtp, "johan.ek@ekby.example")
    staff_text = staff_mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"/video/?m={invited.meeting['id']}" in staff_text and "#t=" not in staff_text
    staff_event = event_of(calendar_of(staff_mail))
    assert str(staff_event["SUMMARY"]) == "SIP-möte (planering)"
    assert str(staff_event["URL"]).endswith(f"/video/?m={invited.meeting['id']}")
    assert "Elsa" not in staff_text and "Elsa" not in str(staff_event["DESCRIPTION"])  # no patient data by e-mail

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
    for name in ("patient", "relative_email", "relative_sms", "staff"):
        assert state[name]["status"] == "SENT" and state[name]["attempts"] == 1 and state[name]["sentAt"]
    # E-mail was chosen; the relative without an address for it got an SMS, and the page data says so.
    assert (state["relative_sms"]["channel"], state["relative_sms"]["fallback"]) == ("SMS", True)
    assert (state["patient"]["channel"], state["patient"]["fallback"]) == ("EMAIL", False)
    assert (state["staff"]["channel"], state["staff"]["fallback"]) == ("EMAIL", False)

    # Nothing is sent twice.
    assert (await invited.run(world)).sent == 0
    assert len(smtp.mails) == 3


async def test_smtp_down_is_retried_later_and_visible(gql: GraphQLClient, world: Service, smtp: Smtp) -> None:
    smtp.stop()
    invited = await invite_everyone(gql, world, smtp.port)
    now = datetime.now(UTC)  # after the messages were written: they are due
    result = await invited.run(world, now=now)
    assert (result.sent, result.retrying, result.failed) == (1, 3, 0)  # the SMS went

    state = await deliveries(gql, invited)
    for name in ("patient", "relative_email", "staff"):
        d = state[name]
        assert d["status"] == "PENDING" and d["attempts"] == 1 and d["lastError"] and d["sentAt"] is None
        assert datetime.fromisoformat(d["nextAttemptAt"]) == now + outbox.backoff(1)
    async with world.db.read() as s:
        pending = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.status == MessageStatus.PENDING)))
    assert len(pending) == 3

    smtp.start()
    not_yet = now + outbox.backoff(1) - timedelta(seconds=1)
    assert (await invited.run(world, now=not_yet)).sent == 0  # not due yet
    result = await invited.run(world, now=now + outbox.backoff(1))
    assert (result.sent, result.retrying) == (3, 0)
    assert sorted(m["To"] for m in smtp.mails) == ["elsa@example.se", "johan.ek@ekby.example", "rel@example.se"]
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
    assert (await invited.run(world)).sent == 4

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
    assert (await invited.run(world)).sent == 4
    for address in ("elsa@example.se", "rel@example.se", "johan.ek@ekby.example"):
        last = mail_to(smtp, address)[-1]
        cal = calendar_of(last)
        assert str(cal["METHOD"]) == "CANCEL"
        assert int(event_of(cal)["SEQUENCE"]) == 2
        assert "#t=" not in last.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "inställt" in invited.sms.sent[-1].body.lower()


# ---- As a person would write them (issue 10, item 4) ----

SV_MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]
EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def a_tuesday_at_ten() -> datetime:
    """A Tuesday at least a week ahead, 10.00 Swedish time."""
    day = clock.today() + timedelta(days=7)
    day += timedelta(days=(1 - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 10, tzinfo=clock.STOCKHOLM).astimezone(UTC)


def plain(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


async def test_each_reads_one_language_with_the_time_in_words_who_invites_and_whom_to_call(
    gql: GraphQLClient, world: Service, smtp: Smtp
) -> None:
    """Elsa (Swedish) and Lena (English) by SMS, Per by e-mail, Johan (staff) in the same SMS
    invitation: he gets his work e-mail with the calendar file all the same."""
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    anna, elsa = await staff_principal(world, "Anna"), CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa")
    johan_id = (await staff_principal(world, "Johan")).staff_id
    async with world.db.write() as s:
        plan = await plans.editable_plan(s, anna, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        plan = await add_family(s, world, anna, plan)
        await s.flush()
        relatives = [p for p in plan.participants if p.kind is ParticipantKind.RELATIVE]
        await plans.record_relatives_decision(s, elsa, plan_id, plan.version, [p.id for p in relatives])
        by_citizen = {p.citizen_id: p.id for p in plan.participants if p.citizen_id}
        johan = next(p.id for p in plan.participants if p.staff_member_id == johan_id)
    person = {name: str(by_citizen[await citizen_id(world, name)]) for name in ("Elsa", "Per", "Lena")}
    start = a_tuesday_at_ten()
    meeting = await schedule_video_meeting(gql, plan_id, start)
    for who, channel in (([person["Elsa"], person["Lena"], str(johan)], "SMS"), ([person["Per"]], "EMAIL")):
        variables = {"meetingId": meeting["id"], "expectedVersion": meeting["version"], "participantIds": who}
        meeting = (await gql(op("InviteToMeeting"), variables | {"channel": channel}, as_="staff-anna"))[
            "inviteToMeeting"
        ]
    sms = RecordingSms()
    senders = Senders(SmtpSender("127.0.0.1", smtp.port, "SIP-tjänsten <noreply@sip.test>"), sms)
    result = await outbox.run_once(world.db, senders, max_attempts=3)
    assert (result.sent, result.failed) == (4, 0)

    local = start.astimezone(clock.STOCKHOLM)
    year = "" if local.year == clock.today().year else f" {local.year}"
    sv_day, en_day = (
        f"tisdag {local.day} {SV_MONTHS[local.month - 1]}{year}",
        f"Tuesday {local.day} {EN_MONTHS[local.month - 1]}{year}",
    )
    texts_to = {m.address: m.body for m in sms.sent}
    assert set(texts_to) == {"+46701234501", "+46701234503"}  # Elsa's and Lena's phones: SMS as chosen

    elsa_sms, lena_sms = texts_to["+46701234501"], texts_to["+46701234503"]
    assert f"{sv_day} kl. 10.00-11.00" in elsa_sms and "din plan" in elsa_sms
    assert "Anna Lind" in elsa_sms and "070-174 06 05" in elsa_sms and LINK.search(elsa_sms)
    assert not any(w in elsa_sms for w in ("Invitation", "meeting", "Questions", "Tuesday", "link"))
    assert len(elsa_sms) <= 2 * 153
    assert f"{en_day}, 10:00-11:00" in lena_sms and "Elsa's plan" in lena_sms
    assert "Anna Lind" in lena_sms and "070-174 06 05" in lena_sms and LINK.search(lena_sms)
    assert not any(w in lena_sms for w in ("Kallelse", "möte", "Frågor", "tisdag", "länken", "väntrum"))
    for body in (elsa_sms, lena_sms):
        assert "19400312" not in body  # never the personal number

    (per_mail,) = mail_to(smtp, "per.andersson@example.se")
    per_text = plain(per_mail)
    for said in (
        "Hej Per!",
        "planeringsmöte om Elsas samordnade individuella plan (SIP)",
        "Elsa vill att du är med.",
        f"När: {sv_day} kl. 10.00–11.00",
        "Öppna länken i mobilen eller datorn några minuter före mötet; ingen app behövs",
        "Du väntar i ett väntrum tills personalen släpper in dig",
        "Kallad av: Anna Lind, distriktssköterska, Vårdcentralen Norrbacka.",
        "Ring Anna Lind på 070-174 06 05.",
        "Vad händer sedan:",
    ):
        assert said in per_text, said
    assert not any(w in per_text for w in ("Invitation", "meeting", "Questions", "Tuesday", "Hello"))
    assert "19400312" not in per_text
    per_event = event_of(calendar_of(per_mail))
    assert str(per_event["SUMMARY"]) == "SIP-möte om Elsas plan"
    assert sv_day in str(per_event["DESCRIPTION"]) and "#t=" not in str(per_event["DESCRIPTION"])
    assert per_mail["Subject"] == f"Kallelse till möte om Elsas plan: {sv_day} kl. 10.00"

    (johan_mail,) = mail_to(smtp, "johan.ek@ekby.example")
    johan_text = plain(johan_mail)
    assert f"När: {sv_day} kl. 10.00–11.00" in johan_text and f"/video/?m={meeting['id']}" in johan_text
    assert "#t=" not in johan_text and "Elsa" not in johan_text
    assert str(event_of(calendar_of(johan_mail))["SUMMARY"]) == "SIP-möte (planering)"

    data = await gql(op("MeetingDeliveries"), {"planId": str(plan_id)}, as_="staff-anna")
    (m,) = data["plan"]["meetings"]
    invitations = {i["participantId"]: i for i in m["invitations"]}
    assert invitations[str(johan)]["channel"] == "EMAIL"  # staff: by work e-mail, whatever was chosen
    assert invitations[person["Elsa"]]["channel"] == "SMS"
    for i in invitations.values():
        assert i["delivery"]["status"] == "SENT" and i["delivery"]["fallback"] is False
        assert i["delivery"]["channel"] == ("SMS" if i["channel"] == "SMS" else "EMAIL")


async def test_the_chosen_channel_the_other_one_or_visibly_none(gql: GraphQLClient, world: Service, smtp: Smtp) -> None:
    plan_id = await big_plan(world, relatives=4, goals=0, actions=0, meeting_count=0)
    johan = await staff_principal(world, "Johan")
    async with world.db.write() as s:
        participants = list(await s.scalars(select(Participant).where(Participant.plan_id == plan_id)))
        patient = next(p for p in participants if p.kind is ParticipantKind.PATIENT)
        only_mail, only_phone, nothing, both = sorted(
            (p for p in participants if p.kind is ParticipantKind.RELATIVE), key=lambda p: str(p.id)
        )
        contacts = [
            (patient, "elsa@example.se", "+46701234501"),
            (only_mail, "mail@example.se", None),
            (only_phone, None, "+46701230002"),
            (nothing, None, None),
            (both, "both@example.se", "+46701230004"),
        ]
        for p, mail, phone in contacts:
            await s.execute(update(Citizen).where(Citizen.id == p.citizen_id).values(email=mail, phone=phone))
        await s.execute(update(StaffMember).where(StaffMember.id == johan.staff_id).values(email=None))
        staff_part = next(p for p in participants if p.staff_member_id == johan.staff_id)
    meeting = await schedule_video_meeting(gql, plan_id, a_tuesday_at_ten())
    for who, channel in (
        ([patient, only_mail, nothing, staff_part], "SMS"),
        ([only_phone], "EMAIL"),
        ([both], "LETTER"),
    ):
        variables = {"meetingId": meeting["id"], "expectedVersion": meeting["version"], "channel": channel}
        variables["participantIds"] = [str(p.id) for p in who]
        meeting = (await gql(op("InviteToMeeting"), variables, as_="staff-anna"))["inviteToMeeting"]
    sms = RecordingSms()
    senders = Senders(SmtpSender("127.0.0.1", smtp.port, "SIP-tjänsten <noreply@sip.test>"), sms)
    assert (await outbox.run_once(world.db, senders, max_attempts=3)).sent == 3

    assert sorted(m.address for m in sms.sent) == ["+46701230002", "+46701234501"]  # chosen; the other way
    assert [m["To"] for m in smtp.mails] == ["mail@example.se"]  # SMS chosen, no phone: e-mail, with the .ics
    assert calendar_of(smtp.mails[0])
    data = await gql(op("MeetingDeliveries"), {"planId": str(plan_id)}, as_="staff-anna")
    (m,) = data["plan"]["meetings"]
    got = {i["participantId"]: (i["channel"], i["delivery"]) for i in m["invitations"]}

    def seen(p: Participant) -> tuple[str, str, str | None, bool, str | None]:
        chosen, d = got[str(p.id)]
        return chosen, d["status"], d["channel"], d["fallback"], d["lastError"]

    assert seen(patient) == ("SMS", "SENT", "SMS", False, None)
    assert seen(only_mail) == ("SMS", "SENT", "EMAIL", True, None)
    assert seen(only_phone) == ("EMAIL", "SENT", "SMS", True, None)
    assert seen(nothing)[:4] == ("SMS", "NOT_SENT", None, False) and "telefonnummer" in str(seen(nothing)[4])
    assert seen(both)[:4] == ("LETTER", "NOT_SENT", None, False) and "brev" in str(seen(both)[4])
    assert seen(staff_part)[:4] == ("EMAIL", "NOT_SENT", None, False) and "e-postadress" in str(seen(staff_part)[4])
