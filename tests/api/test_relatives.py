"""Relatives take part only as the patient decided (issue 10, item 3).

A relative the patient (or representative) has not chosen — not decided yet, or refused — gets no
invitation, no personal link, no message, no place in the lobby and no plan: the pure rule
(`plans.participation.takes_part`), the readable scope that says it in SQL, and every entry point over
GraphQL, on both backends. A legal representative is not a relative and is not subject to it.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from sip_service.auth.principal import CitizenPrincipal
from sip_service.demo import seed
from sip_service.kit import clock, migrations
from sip_service.kit.db import Database
from sip_service.meetings import invites
from sip_service.models.identity import Citizen
from sip_service.models.meetings import Invitation, InvitationChannel, InviteLink
from sip_service.models.notify import MessageStatus, OutboxMessage
from sip_service.models.plans import Participant, ParticipantKind, Plan
from sip_service.notify import service as outbox
from sip_service.notify.senders import Outgoing, Senders
from sip_service.plans import participation
from sip_service.plans import repository as plans_repo
from sip_service.settings import Settings

from conftest import GraphQLClient, Service, op
from helpers import add_family, big_plan, citizen_id, schedule_video_meeting, staff, token_of

# ---- The rule itself: pure ----


@pytest.mark.parametrize("wanted", [None, True, False])
@pytest.mark.parametrize("role", list(ParticipantKind))
def test_only_a_relative_the_patient_chose_takes_part(role: ParticipantKind, wanted: bool | None) -> None:
    expected = role is not ParticipantKind.RELATIVE or wanted is True
    assert participation.takes_part(role, wanted) is expected


def test_a_representative_is_not_a_relative() -> None:
    # A god man acts for the patient; the patient's choice of relatives does not concern them.
    assert participation.takes_part(ParticipantKind.REPRESENTATIVE, None)
    assert participation.takes_part(ParticipantKind.REPRESENTATIVE, False)


@dataclass(frozen=True)
class Party:
    id: uuid.UUID
    kind: ParticipantKind
    wanted_by_patient: bool | None = None


def test_require_chosen_refuses_the_whole_list_with_a_stable_code() -> None:
    patient, undecided, refused, chosen = (
        Party(uuid.uuid4(), ParticipantKind.PATIENT),
        Party(uuid.uuid4(), ParticipantKind.RELATIVE),
        Party(uuid.uuid4(), ParticipantKind.RELATIVE, False),
        Party(uuid.uuid4(), ParticipantKind.RELATIVE, True),
    )
    participation.require_chosen([patient, chosen], field="participantIds")  # nothing to refuse
    assert participation.not_chosen([patient, undecided, chosen, refused]) == [undecided.id, refused.id]
    with pytest.raises(participation.RelativeNotChosen) as caught:
        participation.require_chosen([patient, undecided, chosen, refused], field="participantIds")
    error = caught.value
    assert error.code == "RELATIVE_NOT_CHOSEN" and error.field == "participantIds"
    assert error.participant_ids == [undecided.id, refused.id]
    swedish, english = error.message.split(" / ")
    assert "inte valt" in swedish and "närstående" in swedish
    assert english == "The patient has not chosen this relative to take part."


# ---- Through the service and GraphQL ----


@dataclass
class Family:
    plan_id: str
    ids: dict[str, str]  # Elsa, Per, Lena, Maria, Anna → participant id
    meeting: dict[str, Any]


EMAIL = {"Elsa": "elsa@example.se", "Per": "per@example.se", "Lena": "lena@example.se", "Maria": "maria@example.se"}


async def elsa_and_family(gql: GraphQLClient, world: Service) -> Family:
    """Elsa's plan (consent covers both organisations) with her son Per and daughter Lena as
    relatives she has not decided about, and Maria as her god man; everyone has an e-mail address,
    so that an invitation would write a message; a video meeting in ten minutes, nobody invited."""
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    anna = await staff(world, "Anna")
    async with world.db.write() as s:
        plan = await s.get(Plan, plan_id)
        assert plan is not None
        plan = await add_family(s, world, anna, plan)
        for name, address in EMAIL.items():
            await s.execute(update(Citizen).where(Citizen.name.startswith(name)).values(email=address))
    async with world.db.read() as s:
        rows = (
            await s.execute(
                select(Participant.id, Participant.staff_member_id, Citizen.name)
                .outerjoin(Citizen, Citizen.id == Participant.citizen_id)
                .where(Participant.plan_id == plan_id)
            )
        ).all()
    ids = {name.split()[0]: str(pid) for pid, _, name in rows if name}
    ids["Anna"] = next(str(pid) for pid, staff_id, _ in rows if staff_id == anna.staff_id)
    meeting = await schedule_video_meeting(gql, plan_id, datetime.now(UTC) + timedelta(minutes=10))
    return Family(str(plan_id), ids, meeting)


async def invite(gql: GraphQLClient, family: Family, *names: str) -> dict[str, Any]:
    variables = {
        "meetingId": family.meeting["id"],
        "expectedVersion": family.meeting["version"],
        "participantIds": [family.ids[n] for n in names],
        "channel": "EMAIL",
    }
    result: dict[str, Any] = (await gql(op("InviteToMeeting"), variables, as_="staff-anna"))["inviteToMeeting"]
    if "version" in result:
        family.meeting = result
    return result


async def issue(gql: GraphQLClient, family: Family, name: str) -> dict[str, Any]:
    variables = {
        "meetingId": family.meeting["id"],
        "expectedVersion": family.meeting["version"],
        "participantId": family.ids[name],
    }
    result: dict[str, Any] = (await gql(op("IssueInviteLink"), variables, as_="staff-anna"))["issueInviteLink"]
    if "url" in result:
        family.meeting = result["meeting"]
    return result


async def decide(gql: GraphQLClient, family: Family, *wanted: str, as_: str = "citizen-elsa") -> dict[str, Any]:
    """The patient (or representative) records which relatives take part."""
    plan = (await gql(op("PlanDetail"), {"id": family.plan_id}, as_="staff-anna"))["plan"]
    variables = {
        "planId": family.plan_id,
        "expectedVersion": plan["version"],
        "relativeIds": [family.ids[n] for n in wanted],
    }
    result: dict[str, Any] = (await gql(op("RecordRelativesDecision"), variables, as_=as_))["recordRelativesDecision"]
    assert "version" in result, result
    return result


def not_chosen(result: dict[str, Any], field: str) -> None:
    """The typed error a page can show: a ValidationError with the stable code, never a crash."""
    assert result["__typename"] == "ValidationError", result
    assert result["code"] == "RELATIVE_NOT_CHOSEN" and result["field"] == field, result
    assert " / " in result["message"]  # Swedish / English


async def written(world: Service, family: Family) -> tuple[int, int, int]:
    """Invitations, outbox messages and invite links of the meeting."""
    meeting_id = uuid.UUID(family.meeting["id"])
    async with world.db.read() as s:
        counts = []
        for table, column in (
            (Invitation, Invitation.meeting_id),
            (OutboxMessage, OutboxMessage.meeting_id),
            (InviteLink, InviteLink.meeting_id),
        ):
            counts.append(await s.scalar(select(func.count()).select_from(table).where(column == meeting_id)) or 0)
    return counts[0], counts[1], counts[2]


async def exchange(world: Service, token: str) -> str:
    """What POST /auth/invite does with the link ("OK", or the refusal's code), without its
    per-address rate limit, which the other tests of the session share."""
    try:
        async with world.db.write() as s:
            await invites.exchange(s, token, clock.now())
    except invites.Refused as refused:
        return refused.code
    return "OK"


async def reads_plan(gql: GraphQLClient, family: Family, who: str) -> bool:
    body = (await gql.raw(op("PlanDetail"), {"id": family.plan_id}, as_=who)).json()
    if "errors" in body:
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body  # as for any outsider
        return False
    return bool(body["data"]["plan"]["id"] == family.plan_id)


async def test_an_undecided_relative_is_not_invited_given_a_link_or_shown_the_plan(
    gql: GraphQLClient, world: Service
) -> None:
    family = await elsa_and_family(gql, world)
    before = family.meeting["version"]

    # Inviting a list with an undecided relative fails as a whole: nobody is invited, nothing is sent.
    not_chosen(await invite(gql, family, "Elsa", "Per", "Anna"), "participantIds")
    assert await written(world, family) == (0, 0, 0)
    # No link either, and no plan.
    not_chosen(await issue(gql, family, "Per"), "participantId")
    assert await written(world, family) == (0, 0, 0)
    assert not await reads_plan(gql, family, "citizen-per")

    # The rest of the list, without him, goes through at the meeting's same version; the god man,
    # who is not a relative, is invited without any choice by the patient.
    assert family.meeting["version"] == before
    invited = await invite(gql, family, "Elsa", "Maria", "Anna")
    assert {i["participantId"] for i in invited["invitations"]} == {family.ids[n] for n in ("Elsa", "Maria", "Anna")}
    assert (await issue(gql, family, "Maria"))["url"]

    # A relative invited before the rule held (an old row) still gets no link.
    async with world.db.write() as s:
        s.add(
            Invitation(
                meeting_id=uuid.UUID(family.meeting["id"]),
                participant_id=uuid.UUID(family.ids["Per"]),
                channel=InvitationChannel.EMAIL,
                invited_at=clock.now(),
                invited_by_staff_id=(await staff(world, "Anna")).staff_id,
            )
        )
    not_chosen(await issue(gql, family, "Per"), "participantId")


async def test_once_chosen_the_relative_is_invited_and_given_a_link_and_a_refused_one_is_not(
    gql: GraphQLClient, world: Service
) -> None:
    family = await elsa_and_family(gql, world)
    await decide(gql, family, "Per")  # Per yes, Lena no

    invited = await invite(gql, family, "Elsa", "Per")
    assert {i["participantId"] for i in invited["invitations"]} == {family.ids["Elsa"], family.ids["Per"]}
    async with world.db.read() as s:
        messages = {str(m.participant_id): m.address for m in await s.scalars(select(OutboxMessage))}
    assert messages == {family.ids["Elsa"]: EMAIL["Elsa"], family.ids["Per"]: EMAIL["Per"]}
    link = await issue(gql, family, "Per")
    assert await exchange(world, token_of(link["url"])) == "OK"
    assert await reads_plan(gql, family, "citizen-per")

    # Lena, whom Elsa refused: no invitation, no link, no plan.
    counts = await written(world, family)
    not_chosen(await invite(gql, family, "Lena"), "participantIds")
    not_chosen(await issue(gql, family, "Lena"), "participantId")
    assert await written(world, family) == counts
    assert not await reads_plan(gql, family, "citizen-lena")


async def test_the_god_man_chooses_as_the_patient_does(gql: GraphQLClient, world: Service) -> None:
    family = await elsa_and_family(gql, world)
    await decide(gql, family, "Lena", as_="citizen-maria")
    assert {i["participantId"] for i in (await invite(gql, family, "Lena"))["invitations"]} == {family.ids["Lena"]}
    not_chosen(await invite(gql, family, "Per"), "participantIds")


class Recording:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


async def test_refusing_an_invited_relative_stops_the_link_the_message_and_the_lobby(
    gql: GraphQLClient, world: Service
) -> None:
    with outbox.paused():  # this test runs the outbox itself
        family = await elsa_and_family(gql, world)
        await decide(gql, family, "Per")
        await invite(gql, family, "Elsa", "Per", "Anna")  # his message (with a link) waits in the outbox
        token = token_of((await issue(gql, family, "Per"))["url"])
        meeting_id = family.meeting["id"]
        # Per, signed in, waits in the lobby; Anna is in the room.
        per_joined = (await gql(op("JoinMeeting"), {"meetingId": meeting_id}, as_="citizen-per"))["joinMeeting"]
        assert per_joined["state"] == "WAITING", per_joined
        anna_joined = (await gql(op("JoinMeeting"), {"meetingId": meeting_id}, as_="staff-anna"))["joinMeeting"]
        assert anna_joined["state"] == "IN_ROOM", anna_joined

        await decide(gql, family)  # Elsa changes her mind: no relatives

        # The link he already has stops working, and no new one is made.
        assert await exchange(world, token) == "INVITE_REVOKED"
        not_chosen(await issue(gql, family, "Per"), "participantId")
        # He is not let in from the lobby, and cannot come back to it.
        admit = {"meetingId": meeting_id, "participantId": family.ids["Per"]}
        not_chosen((await gql(op("AdmitToMeeting"), admit, as_="staff-anna"))["admitToMeeting"], "participantId")
        again = (await gql(op("JoinMeeting"), {"meetingId": meeting_id}, as_="citizen-per"))["joinMeeting"]
        assert again["__typename"] == "NotFoundError", again
        # The invitation written while Elsa wanted him is not sent; hers is, and Anna's (work e-mail).
        email, sms = Recording(), Recording()
        result = await outbox.run_once(world.db, Senders(email, sms), max_attempts=3)
        assert sorted(m.address for m in email.sent) == ["anna.lind@norrbacka.example", EMAIL["Elsa"]] and not sms.sent
        assert (result.sent, result.failed) == (2, 0)
        async with world.db.read() as s:
            held = (
                await s.scalars(
                    select(OutboxMessage).where(OutboxMessage.participant_id == uuid.UUID(family.ids["Per"]))
                )
            ).one()
        assert held.status is MessageStatus.FAILED and held.last_error == outbox.WITHHELD and held.attempts == 0
        # And he no longer sees the plan.
        assert not await reads_plan(gql, family, "citizen-per")


async def test_the_readable_scope_says_what_the_rule_says(gql: GraphQLClient, world: Service) -> None:
    """The plan's SQL scope (`readable_condition`) and `participation.takes_part` agree for every choice."""
    family = await elsa_and_family(gql, world)
    per = CitizenPrincipal(await citizen_id(world, "Per"), "Per")
    maria = CitizenPrincipal(await citizen_id(world, "Maria"), "Maria")
    plan_id = uuid.UUID(family.plan_id)
    for wanted in (None, True, False):
        async with world.db.write() as s:
            await s.execute(
                update(Participant)
                .where(Participant.kind == ParticipantKind.RELATIVE, Participant.plan_id == plan_id)
                .values(wanted_by_patient=wanted)
            )
        async with world.db.read() as s:
            sees = await plans_repo.is_readable(s, per, clock.today(), plan_id)
            assert await plans_repo.is_readable(s, maria, clock.today(), plan_id)  # the god man: always
        assert sees is participation.takes_part(ParticipantKind.RELATIVE, wanted), wanted
        assert await reads_plan(gql, family, "citizen-per") is sees, wanted


async def test_the_demo_invites_only_the_relatives_its_patients_chose(empty_database: str, tmp_path: Path) -> None:
    """The demo walks its plans through the same use cases: relatives are chosen before invitations."""
    await asyncio.to_thread(migrations.upgrade, empty_database)
    db = Database(empty_database)
    try:
        assert await seed(db, Settings(database_url=empty_database, dev_oidc_key_file=tmp_path / "k.json"))
        async with db.read() as s:
            invited = (
                await s.execute(
                    select(Participant.kind, Participant.wanted_by_patient).join(
                        Invitation, Invitation.participant_id == Participant.id
                    )
                )
            ).all()
        assert invited and all(participation.takes_part(kind, wanted) for kind, wanted in invited)
        assert (ParticipantKind.RELATIVE, True) in {(kind, wanted) for kind, wanted in invited}
    finally:
        await db.dispose()
