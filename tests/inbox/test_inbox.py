"""The staff inbox ("Att göra") over GraphQL, with the operations the page sends: each kind of item,
read marks, consent first (a plan appears as new the moment consent covers the organisation, and
not before), what is audited, and a number of statements that does not grow with the plans."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from sip_service.auth.principal import CitizenPrincipal
from sip_service.demo import _Cast, _ready_plan
from sip_service.kit import clock
from sip_service.meetings import service as meetings
from sip_service.models.audit import AuditEvent
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import Meeting, MeetingKind
from sip_service.models.plans import Action, ParticipantKind, Plan
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, op
from helpers import busy_plan, citizen_id, consent_for_both, plan_added_to, staff

KINDS = ["DISCHARGE", "NEW_PLAN", "TO_FINALIZE", "ACTION", "MEETING", "FOLLOW_UP_DUE"]


async def inbox(gql: GraphQLClient, who: str) -> dict[str, Any]:
    return dict((await gql(op("Inbox"), as_=who))["inbox"])


def of_kind(box: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [i for i in box["items"] if i["kind"] == kind]


def counted(box: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {c["kind"]: (c["total"], c["unread"]) for c in box["counts"]}


async def test_a_plan_is_new_to_the_other_organisation_the_moment_consent_covers_it(
    gql: GraphQLClient, world: Service
) -> None:
    plan_id = await plan_added_to(world, consent=False)
    before = await inbox(gql, "staff-johan")
    # nothing of the plan reaches Johan before the consent: not an item, not a count, not a name
    assert before["items"] == [] and before["unread"] == 0 and before["total"] == 0
    assert str(plan_id) not in str(before) and "Elsa" not in str(before)
    assert of_kind(await inbox(gql, "staff-anna"), "NEW_PLAN") == []  # Anna made it herself

    async with world.db.write() as s:
        await consent_for_both(s, world, plan_id)
    after = await inbox(gql, "staff-johan")
    (new,) = of_kind(after, "NEW_PLAN")
    assert (new["planId"], new["patientName"], new["read"]) == (str(plan_id), "Elsa Andersson", False)
    assert counted(after)["NEW_PLAN"] == (1, 1) and after["unread"] == 1
    assert [c["kind"] for c in after["counts"]] == KINDS

    # opening the plan is what makes it no longer new
    await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-johan")
    assert of_kind(await inbox(gql, "staff-johan"), "NEW_PLAN") == []
    # a colleague's opening is not Johan's: Sara (another unit, not in the plan) has no item either way
    assert (await inbox(gql, "staff-sara"))["items"] == []


async def test_staff_removed_and_added_again_find_the_plan_new_again(gql: GraphQLClient, world: Service) -> None:
    plan_id = await plan_added_to(world, consent=True)
    await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-johan")
    assert of_kind(await inbox(gql, "staff-johan"), "NEW_PLAN") == []
    anna, johan = await staff(world, "Anna"), await staff(world, "Johan")
    async with world.db.write() as s:
        plan = await s.get(Plan, plan_id)
        assert plan is not None
        plan = await plans.editable_plan(s, anna, plan_id, plan.version)
        part = next(p for p in plan.participants if p.staff_member_id == johan.staff_id)
        await plans.remove_participant(s, anna, part.id, plan.version)
        await s.flush()
        await plans.add_participant(
            s, anna, plan_id, plan.version, plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=johan.staff_id)
        )
    assert [i["planId"] for i in of_kind(await inbox(gql, "staff-johan"), "NEW_PLAN")] == [str(plan_id)]


async def plan_to_finalize(world: Service, patient: str = "Per") -> uuid.UUID:
    """A plan the demo's way, finalized, then revised and approved again: ready for Anna to finalize;
    its follow-up date moved to within the week (an ACTIVE plan's follow-up shows only while active)."""
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    plan_id = await _ready_plan(world.db, cast, patient, goal="Sova hela natten.", background="Sömnbesvär.")
    anna = cast.staff["Anna"]
    async with world.db.write() as s:
        plan = await plans.editable_plan(s, anna, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        await plans.revise_plan(s, anna, plan_id, plan.version)
    async with world.db.write() as s:
        side = cast.citizen(patient)
        plan = await plans.editable_plan(s, side, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        await plans.approve_plan(s, side, plan_id, plan.version)
    return plan_id


async def active_with_follow_up(world: Service, days: int, patient: str = "Lena") -> uuid.UUID:
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    plan_id = await _ready_plan(world.db, cast, patient, goal="Orka gå i trappan.", background="Knäoperation.")
    async with world.db.write() as s:
        await s.execute(
            update(Plan).where(Plan.id == plan_id).values(follow_up_date=clock.today() + timedelta(days=days))
        )
    return plan_id


async def test_every_kind_of_item(gql: GraphQLClient, world: Service) -> None:
    busy = await busy_plan(world)
    ready = await plan_to_finalize(world)
    follow = await active_with_follow_up(world, days=3)
    box = await inbox(gql, "staff-anna")
    today = clock.today()

    actions = of_kind(box, "ACTION")
    assert [(a["actionDescription"], a["dueDate"], a["overdue"]) for a in actions] == [
        ("Insats om -1 dagar", str(today - timedelta(days=1)), True),  # the late one first
        ("Insats om 3 dagar", str(today + timedelta(days=3)), False),
    ]  # not the one due in a month, nor Johan's organisation's
    assert {a["planId"] for a in actions} == {str(busy)} and actions[0]["responsiblePerson"] == "Anna Lind"

    (meeting,) = of_kind(box, "MEETING")
    assert meeting["planId"] == str(busy) and meeting["meetingKind"] == "VIDEO" and meeting["meetingId"]
    (discharge,) = of_kind(box, "DISCHARGE")
    assert discharge["planId"] == str(busy) and discharge["overdue"] is False and discharge["dueAt"]
    (finalize,) = of_kind(box, "TO_FINALIZE")
    assert finalize["planId"] == str(ready) and finalize["patientName"] == "Per Andersson"
    (follow_up,) = of_kind(box, "FOLLOW_UP_DUE")
    assert follow_up["planId"] == str(follow) and follow_up["dueDate"] == str(today + timedelta(days=3))
    assert of_kind(box, "NEW_PLAN") == []  # Anna made them all
    assert [i["kind"] for i in box["items"]] == [
        "DISCHARGE",
        "TO_FINALIZE",
        "ACTION",
        "ACTION",
        "MEETING",
        "FOLLOW_UP_DUE",
    ]
    assert box["unread"] == box["total"] == 6 and not any(i["read"] for i in box["items"])

    # Johan: his organisation's action, the meeting, the discharge and the new plans; he coordinates nothing
    johan = await inbox(gql, "staff-johan")
    assert [a["actionDescription"] for a in of_kind(johan, "ACTION")] == ["Insats om 1 dagar"]
    assert of_kind(johan, "TO_FINALIZE") == [] and len(of_kind(johan, "MEETING")) == 1
    assert {i["planId"] for i in of_kind(johan, "NEW_PLAN")} == {str(busy), str(ready), str(follow)}

    # a plan the patient approved but that is not ready is not offered for finalizing
    async with world.db.write() as s:
        await s.execute(update(Plan).where(Plan.id == ready).values(follow_up_date=today))  # FOLLOW_UP blocks
    assert of_kind(await inbox(gql, "staff-anna"), "TO_FINALIZE") == []


async def test_marking_read_holds_until_the_item_changes(gql: GraphQLClient, world: Service) -> None:
    busy = await busy_plan(world)
    box = await inbox(gql, "staff-anna")
    soon = next(a for a in of_kind(box, "ACTION") if not a["overdue"])
    (meeting,) = of_kind(box, "MEETING")
    marked = (await gql(op("MarkInboxRead"), {"itemIds": [soon["id"], meeting["id"]]}, as_="staff-anna"))[
        "markInboxRead"
    ]
    assert marked["__typename"] == "Inbox" and marked["unread"] == box["unread"] - 2
    assert {i["id"] for i in marked["items"] if i["read"]} == {soon["id"], meeting["id"]}
    again = await inbox(gql, "staff-anna")
    assert {k: again[k] for k in marked if k != "__typename"} == {k: v for k, v in marked.items() if k != "__typename"}
    assert counted(again)["ACTION"] == (2, 1) and counted(again)["MEETING"] == (1, 0)
    # read marks are each person's own
    assert all(not i["read"] for i in of_kind(await inbox(gql, "staff-johan"), "MEETING"))

    # the action is now late, and the meeting moved: both new again
    async with world.db.write() as s:
        await s.execute(
            update(Action)
            .where(Action.id == uuid.UUID(soon["actionId"]))
            .values(due_date=clock.today() - timedelta(days=2))
        )
        anna = await staff(world, "Anna")
        plan = await plans.editable_plan(s, anna, busy, (await s.get(Plan, busy)).version)  # type: ignore[union-attr]
        m = next(m for m in plan.meetings if str(m.id) == meeting["meetingId"])
        start = m.starts_at + timedelta(hours=2)
        await meetings.reschedule_meeting(s, anna, m.id, m.version, starts_at=start, ends_at=start + timedelta(hours=1))
    later = await inbox(gql, "staff-anna")
    assert counted(later)["ACTION"] == (2, 2) and counted(later)["MEETING"] == (1, 1)
    # an id from before the change marks the item as it was then: it stays new
    stale = (await gql(op("MarkInboxRead"), {"itemIds": [meeting["id"]]}, as_="staff-anna"))["markInboxRead"]
    assert counted(stale)["MEETING"] == (1, 1)


async def test_marking_a_new_plan_read_and_refusals(gql: GraphQLClient, world: Service) -> None:
    plan_id = await plan_added_to(world, consent=True)
    (new,) = of_kind(await inbox(gql, "staff-johan"), "NEW_PLAN")
    # Anna cannot mark Johan's item: it is not in her inbox, and nothing is marked
    refused = (await gql(op("MarkInboxRead"), {"itemIds": [new["id"]]}, as_="staff-anna"))["markInboxRead"]
    assert (refused["__typename"], refused["code"]) == ("NotFoundError", "NOT_FOUND")
    bad = (await gql(op("MarkInboxRead"), {"itemIds": ["nonsense"]}, as_="staff-johan"))["markInboxRead"]
    assert (bad["__typename"], bad["code"], bad["field"]) == ("ValidationError", "VALIDATION_ERROR", "itemIds")
    mixed = await gql(op("MarkInboxRead"), {"itemIds": [new["id"], f"ACTION:{uuid.uuid4()}:x"]}, as_="staff-johan")
    assert mixed["markInboxRead"]["__typename"] == "NotFoundError"
    assert len(of_kind(await inbox(gql, "staff-johan"), "NEW_PLAN")) == 1  # all or nothing
    too_many = (await gql(op("MarkInboxRead"), {"itemIds": [new["id"]] * 101}, as_="staff-johan"))["markInboxRead"]
    assert too_many["__typename"] == "ValidationError"

    done = (await gql(op("MarkInboxRead"), {"itemIds": [new["id"]]}, as_="staff-johan"))["markInboxRead"]
    assert done["__typename"] == "Inbox" and of_kind(done, "NEW_PLAN") == []
    assert of_kind(await inbox(gql, "staff-johan"), "NEW_PLAN") == []
    assert str(plan_id) not in str(await inbox(gql, "staff-sara"))

    # citizens have no inbox
    answer = (await gql.raw(op("Inbox"), as_="citizen-elsa")).json()
    assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mark = (await gql(op("MarkInboxRead"), {"itemIds": [new["id"]]}, as_="citizen-elsa"))["markInboxRead"]
    assert mark["__typename"] == "ForbiddenError"


async def test_the_items_are_audited_as_reads_of_each_plan_and_the_count_is_not(
    gql: GraphQLClient, world: Service
) -> None:
    plan_id = await plan_added_to(world, consent=True)
    johan = await staff(world, "Johan")

    async def reads() -> list[tuple[str, str]]:
        async with world.db.read() as s:
            rows = await s.execute(
                select(AuditEvent.action, AuditEvent.access).where(
                    AuditEvent.plan_id == plan_id, AuditEvent.actor_id == johan.staff_id
                )
            )
            return [(a, str(acc.value)) for a, acc in rows]

    await gql(op("InboxCount"), as_="staff-johan")
    assert await reads() == []  # a number names nobody
    await gql(op("Inbox"), as_="staff-johan")
    assert await reads() == [("inbox.read", "READ")]
    async with world.db.read() as s:
        patient = await s.scalar(select(AuditEvent.patient_id).where(AuditEvent.plan_id == plan_id).limit(1))
    assert patient == await citizen_id(world, "Elsa")


async def statements_for_inbox(gql: GraphQLClient, world: Service, who: str) -> tuple[int, int]:
    with world.statements.counting() as counter:
        box = await inbox(gql, who)
    return counter.count, box["total"]


async def test_the_inbox_is_a_constant_number_of_statements(gql: GraphQLClient, world: Service) -> None:
    await busy_plan(world)
    await plan_to_finalize(world, "Per")
    few, few_items = await statements_for_inbox(gql, world, "staff-anna")
    johan_few, _ = await statements_for_inbox(gql, world, "staff-johan")
    for _ in range(4):
        await busy_plan(world)
    await plan_to_finalize(world, "Lena")
    await plan_to_finalize(world, "Gustav")
    many, many_items = await statements_for_inbox(gql, world, "staff-anna")
    johan_many, _ = await statements_for_inbox(gql, world, "staff-johan")
    assert many_items > 3 * few_items
    # one per kind, the plans to finalize loaded whole in one batch, sign-in and the audit write
    assert many == few and johan_many == johan_few, (few, many, johan_few, johan_many)
    assert many <= 25, many


async def test_a_patient_side_approval_is_what_puts_a_plan_up_for_finalizing(
    gql: GraphQLClient, world: Service
) -> None:
    plan_id = await plan_to_finalize(world, "Per")
    assert [i["planId"] for i in of_kind(await inbox(gql, "staff-anna"), "TO_FINALIZE")] == [str(plan_id)]
    anna = await staff(world, "Anna")
    async with world.db.write() as s:  # an edit moves the version on: the approval no longer holds
        plan = await plans.editable_plan(s, anna, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        await plans.update_plan(s, anna, plan_id, plan.version, plans.PlanEdits(background="Ändrad."))
    assert of_kind(await inbox(gql, "staff-anna"), "TO_FINALIZE") == []
    per = CitizenPrincipal(await citizen_id(world, "Per"), "Per")
    async with world.db.write() as s:
        plan = await plans.editable_plan(s, per, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        await plans.approve_plan(s, per, plan_id, plan.version)
    (item,) = of_kind(await inbox(gql, "staff-anna"), "TO_FINALIZE")
    assert item["read"] is False


async def test_a_meeting_called_after_the_discharge_notice_ends_the_discharge_item(
    gql: GraphQLClient, world: Service
) -> None:
    busy = await busy_plan(world)
    (item,) = of_kind(await inbox(gql, "staff-anna"), "DISCHARGE")
    async with world.db.write() as s:  # the notice came four days ago (after the meeting): the three days ran out
        await s.execute(
            update(Meeting).where(Meeting.plan_id == busy).values(created_at=clock.now() - timedelta(days=5))
        )
        await s.execute(update(Plan).where(Plan.id == busy).values(discharge_ready_at=clock.now() - timedelta(days=4)))
    (late,) = of_kind(await inbox(gql, "staff-anna"), "DISCHARGE")
    assert late["overdue"] is True and late["id"] != item["id"]
    anna = await staff(world, "Anna")
    async with world.db.write() as s:
        start = clock.now() + timedelta(days=1)
        m = await meetings.schedule_meeting(
            s, anna, busy, kind=MeetingKind.VIDEO, starts_at=start, ends_at=start + timedelta(hours=1)
        )
        assert m.created_at >= clock.now() - timedelta(minutes=1)
    assert of_kind(await inbox(gql, "staff-anna"), "DISCHARGE") == []
