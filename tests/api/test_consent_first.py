"""Consent first, visibly: staff of an organisation the patient's consent does not cover yet are
named on the plan (organisationsAwaitingConsent), cannot see it, and their invitations wait
(WAITING_FOR_CONSENT; the outbox holds their messages) until consent covers their organisation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from sip_service.kit import clock
from sip_service.models.notify import MessageStatus, OutboxMessage
from sip_service.models.plans import ParticipantKind
from sip_service.notify import service as outbox
from sip_service.notify.senders import Outgoing, Senders
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, op
from helpers import citizen_id, schedule_video_meeting, staff


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


async def test_consent_first_for_another_organisations_staff(gql: GraphQLClient, world: Service) -> None:
    anna, johan = await staff(world, "Anna"), await staff(world, "Johan")
    async with world.db.write() as s:
        plan = await plans.create_plan(
            s, anna, patient_id=await citizen_id(world, "Elsa"), follow_up_date=clock.today() + timedelta(days=30),
            allow_another_open_plan=True,
        )  # fmt: skip
        await s.flush()
        await plans.add_participant(
            s, anna, plan.id, plan.version, plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=johan.staff_id)
        )
        plan_id = plan.id
    detail = await _detail(gql, plan_id)
    # Anna's organisation created the plan and sees it anyway; Johan's waits for the consent
    assert detail["organisationsAwaitingConsent"] == [str(johan.organisation_id)]
    johan_part = next(p for p in detail["participants"] if p["kind"] == "STAFF" and p["name"].startswith("Johan"))
    before = await gql.raw(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-johan")
    assert "NOT_FOUND" in str(before.json()["errors"])

    with outbox.paused():
        start = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
        meeting = await schedule_video_meeting(gql, plan_id, start)
        variables = {
            "meetingId": meeting["id"],
            "expectedVersion": meeting["version"],
            "participantIds": [johan_part["id"]],
            "channel": "EMAIL",
        }
        await gql(op("InviteToMeeting"), variables, as_="staff-anna")
        assert (await _delivery(gql, plan_id, johan_part["id"]))["status"] == "WAITING_FOR_CONSENT"
        # his invitation to his work e-mail is written, and held
        mail, sms = RecordingSender(), RecordingSender()
        senders = Senders(mail, sms)
        result = await outbox.run_once(world.db, senders, max_attempts=3)
        assert (result.sent, result.failed, mail.sent, sms.sent) == (0, 0, [], [])
        async with world.db.read() as s:
            (held,) = await s.scalars(select(OutboxMessage).where(OutboxMessage.meeting_id == uuid.UUID(meeting["id"])))
            assert held.status is MessageStatus.PENDING and held.attempts == 0
        assert (await _delivery(gql, plan_id, johan_part["id"]))["status"] == "WAITING_FOR_CONSENT"

        patient = next(p for p in detail["participants"] if p["kind"] == "PATIENT")
        consent = {
            "organisationIds": [str(anna.organisation_id), str(johan.organisation_id)],
            "givenById": patient["id"],
        }
        fresh = await _detail(gql, plan_id)
        answer = await gql(
            op("RecordConsent"),
            {"planId": str(plan_id), "expectedVersion": fresh["version"], "input": consent},
            as_="staff-anna",
        )
        assert answer["recordConsent"]["consent"]["id"]
        assert (await _detail(gql, plan_id))["organisationsAwaitingConsent"] == []
        # the held message is looked at again within a minute, and now sent
        result = await outbox.run_once(world.db, senders, max_attempts=3, now=clock.now() + outbox.CONSENT_HOLD)
        assert result.sent == 1 and [m.address for m in mail.sent] == ["johan.ek@ekby.example"] and not sms.sent
        assert (await _delivery(gql, plan_id, johan_part["id"]))["status"] == "SENT"

    after = await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-johan")
    assert after["plan"]["id"] == str(plan_id)


async def _detail(gql: GraphQLClient, plan_id: uuid.UUID) -> dict[str, Any]:
    return dict((await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-anna"))["plan"])


async def _delivery(gql: GraphQLClient, plan_id: uuid.UUID, participant_id: str) -> dict[str, Any]:
    data = await gql(op("MeetingDeliveries"), {"planId": str(plan_id)}, as_="staff-anna")
    invitations = [i for m in data["plan"]["meetings"] for i in m["invitations"]]
    return dict(next(i["delivery"] for i in invitations if i["participantId"] == participant_id))
