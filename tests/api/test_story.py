"""The whole story over HTTP: from an empty plan to ACTIVE, every blocker reached and cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sip_service.kit import clock

from conftest import GraphQLClient, op
from helpers import ALL_BUT_INVITED


def codes(plan: dict[str, Any]) -> set[str]:
    return {b["code"] for b in plan["readiness"]["blockers"]}


class Story:
    """Keeps the plan's current version, the way a browser client would."""

    def __init__(self, gql: GraphQLClient) -> None:
        self.gql = gql
        self.plan: dict[str, Any] = {}

    async def mutate(self, name: str, as_: str, **variables: Any) -> dict[str, Any]:
        variables.setdefault("planId", self.plan.get("id"))
        variables.setdefault("expectedVersion", self.plan.get("version"))
        data = await self.gql(op(name), variables, as_=as_)
        result: dict[str, Any] = next(iter(data.values()))
        found = result.get("plan") or (result if result.get("__typename") is None and "readiness" in result else None)
        if found:
            self.plan = found
        return result

    async def detail(self, as_: str) -> dict[str, Any]:
        data = await self.gql(op("PlanDetail"), {"id": self.plan["id"]}, as_=as_)
        return dict(data["plan"])


async def org_ids(gql: GraphQLClient) -> dict[str, str]:
    data = await gql(op("Organisations"), as_="staff-anna")
    return {o["name"]: o["id"] for o in data["organisations"]}


async def test_from_empty_plan_to_active_and_back(gql: GraphQLClient) -> None:
    orgs = await org_ids(gql)
    vcn, soc = orgs["Vårdcentralen Norrbacka"], orgs["Socialtjänsten Ekby"]
    elsa = (await gql(op("FindPatient"), {"personalNumber": "19400312-2388"}, as_="staff-anna"))["patient"]
    story = Story(gql)

    created = await story.mutate(
        "CreatePlan", "staff-anna", input={"patientId": elsa["id"], "background": "Fallit två gånger."}
    )
    assert created["status"] == "DRAFT"
    assert codes(created) == ALL_BUT_INVITED
    plan_id = created["id"]

    # The municipality does not see the plan before it takes part and the consent covers it.
    hidden = await gql.raw(op("PlanDetail"), {"id": plan_id}, as_="staff-johan")
    assert hidden.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    johan_id = (await gql(op("StaffMembers"), {"organisationId": soc}, as_="staff-anna"))["staffMembers"][0]["id"]
    await story.mutate("AddParticipant", "staff-anna", input={"kind": "STAFF", "staffMemberId": johan_id})
    assert "CROSS_ORGANISATION" not in codes(story.plan)
    per = await story.mutate(
        "AddParticipant",
        "staff-anna",
        input={"kind": "RELATIVE", "newCitizen": {"personalNumber": "196805141234", "name": "Per Andersson"}},
    )
    lena = await story.mutate(
        "AddParticipant",
        "staff-anna",
        input={"kind": "RELATIVE", "newCitizen": {"personalNumber": "197101262345", "name": "Lena Andersson"}},
    )
    per_id, lena_id = per["participant"]["id"], lena["participant"]["id"]

    detail = await story.detail("staff-anna")
    patient_participant = next(p["id"] for p in detail["participants"] if p["kind"] == "PATIENT")
    await story.mutate(
        "RecordConsent", "staff-anna", input={"organisationIds": [vcn, soc], "givenById": patient_participant}
    )
    assert "CONSENT" not in codes(story.plan)
    assert (await story.detail("staff-johan"))["consent"]["method"] == "ORAL"

    await story.mutate("SetOverallResponsibility", "staff-johan", organisationId=soc)
    assert "OVERALL_RESPONSIBILITY" not in codes(story.plan)

    bad = await story.mutate("AddAction", "staff-johan", input={"description": "Hemtjänst"})
    assert bad["__typename"] == "ValidationError" and bad["field"] == "responsible"
    await story.mutate(
        "AddAction",
        "staff-johan",
        input={"description": "Hemtjänst morgon och kväll", "responsibleOrganisationId": soc},
    )
    added = await story.mutate(
        "AddAction", "staff-anna", input={"description": "Läkemedelsgenomgång", "responsibleOrganisationId": vcn}
    )
    assert "ACTIONS" not in codes(story.plan)
    # Only the responsible organisation changes its own action.
    denied = await story.mutate(
        "UpdateAction", "staff-johan", actionId=added["action"]["id"], input={"status": "ONGOING"}
    )
    assert denied["__typename"] == "ForbiddenError"

    # The service's today (Europe/Stockholm), not this machine's time zone.
    await story.mutate("UpdatePlan", "staff-anna", input={"followUpDate": str(clock.today() - timedelta(days=1))})
    assert "FOLLOW_UP" in codes(story.plan)
    await story.mutate("UpdatePlan", "staff-anna", input={"followUpDate": str(clock.today() + timedelta(days=60))})
    assert "FOLLOW_UP" not in codes(story.plan)

    await story.mutate("AddGoal", "citizen-elsa", input={"text": "Jag vill kunna gå till affären själv."})
    assert "PATIENT_GOALS" not in codes(story.plan)

    # Staff cannot decide about relatives on the patient's behalf.
    refused = await story.mutate("RecordRelativesDecision", "staff-anna", relativeIds=[per_id])
    assert refused["__typename"] == "ForbiddenError"
    await story.mutate("RecordRelativesDecision", "citizen-elsa", relativeIds=[per_id])
    assert "RELATIVES_DECIDED" not in codes(story.plan)
    invited_blockers = [b for b in story.plan["readiness"]["blockers"] if b["code"] == "RELATIVES_INVITED"]
    assert [b["subject"] for b in invited_blockers] == [{"kind": "Participant", "id": per_id}]

    start = datetime.now(UTC) - timedelta(minutes=10)
    meeting = (
        await gql(
            op("ScheduleMeeting"),
            {
                "planId": plan_id,
                "input": {
                    "kind": "IN_PERSON",
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(hours=1)).isoformat(),
                    "location": "Vårdcentralen Norrbacka, rum 12",
                },
            },
            as_="staff-anna",
        )
    )["scheduleMeeting"]
    meeting = (
        await gql(
            op("InviteToMeeting"),
            {
                "meetingId": meeting["id"],
                "expectedVersion": meeting["version"],
                "participantIds": [patient_participant, per_id],
                "channel": "SMS",
            },
            as_="staff-anna",
        )
    )["inviteToMeeting"]
    meeting = (
        await gql(
            op("AttestAttendance"),
            {"meetingId": meeting["id"], "expectedVersion": meeting["version"], "participantId": patient_participant},
            as_="staff-anna",
        )
    )["attestAttendance"]
    assert meeting["attendances"] == [
        {"participantId": patient_participant, "method": "ATTESTED", "attestedBy": {"name": "Anna Lind"}}
    ]
    story.plan = await story.detail("staff-anna")
    assert codes(story.plan) == {"PATIENT_APPROVED"}

    # Finalize refuses with exactly the readiness blockers.
    refused = await story.mutate("FinalizePlan", "staff-anna")
    assert refused["__typename"] == "NotReadyError"
    assert refused["blockers"] == story.plan["readiness"]["blockers"]

    await story.mutate("ApprovePlan", "citizen-elsa")
    assert story.plan["readiness"] == {"ready": True, "blockers": []}
    assert (await story.mutate("FinalizePlan", "staff-johan"))["__typename"] == "ForbiddenError"  # not coordinator
    await story.mutate("FinalizePlan", "staff-anna")
    assert story.plan["status"] == "ACTIVE" and story.plan["readiness"]["ready"]
    detail = await story.detail("staff-anna")
    assert [r["number"] for r in detail["revisions"]] == [1]

    # A wanted relative sees the plan; one the patient did not choose does not.
    assert (await story.detail("citizen-per"))["id"] == plan_id
    assert (await gql.raw(op("PlanDetail"), {"id": plan_id}, as_="citizen-lena")).json()["errors"][0]["extensions"][
        "code"
    ] == "NOT_FOUND"
    assert lena_id

    # Editing an ACTIVE plan starts a revision, and the approval no longer holds.
    await story.mutate("UpdatePlan", "staff-anna", input={"background": "Fallit två gånger; ny rullator."})
    assert story.plan["status"] == "REVISING" and "PATIENT_APPROVED" in codes(story.plan)

    # Withdrawing consent closes the plan and the other organisation loses it at once.
    await story.mutate("WithdrawConsent", "citizen-elsa")
    assert story.plan["status"] == "CLOSED" and story.plan["closeReason"] == "CONSENT_WITHDRAWN"
    gone = await gql.raw(op("PlanDetail"), {"id": plan_id}, as_="staff-johan")
    assert gone.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
