"""Discharge notices in (/fhir/Task): a hospital's record system posts "ready for discharge" for a
patient and names the primary-care unit; the unit's open plan is flagged or a discharge plan is
started for it, and it shows in the unit's inbox and work queue with the 3-day clock. Posted over
HTTP by a system client (a client-credentials token of the development provider), read back over
GraphQL as the unit's staff; idempotent, validated (bad Tasks write nothing), audited."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from sqlalchemy import func, select, update
from test_fhir import HSA, PNR, Fhir, ref_id, valid

from sip_service.demo import _Cast, _ready_plan
from sip_service.kit import clock
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.discharge import DischargeNotice
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.meetings import Meeting
from sip_service.models.plans import Participant, ParticipantKind, Plan, PlanStatus

from conftest import GraphQLClient, Service, op

HOSPITAL = "SE2321000016-REG"  # the region's hospital record system posts the notices
UNIT = "SE2321000016-VCN"  # Vårdcentralen Norrbacka: Anna and Omar
BIRGITTA = "194511305678"  # has no plan
ELSA = "194003122388"
TASK_CODE = "urn:sip-tjansten:fhir:CodeSystem:task-code"
FHIR_JSON = "application/fhir+json"


@pytest.fixture
async def fhir(world: Service) -> AsyncIterator[Fhir]:
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        yield Fhir(http, world)


def hospital(world: Service, scope: str = "system/Task.write system/Task.read", org: str = HOSPITAL) -> str:
    return world.provider.issue_client_token(f"journal-{org}", org, scope)


def notice(
    number: str = BIRGITTA, unit: str = UNIT, key: str | None = None, authored: datetime | None = None
) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "identifier": [{"system": "urn:oid:1.2.752.29.4.19.sjukhus-notiser", "value": key or uuid.uuid4().hex}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "utskrivningsklar"}]},
        "for": {"identifier": {"system": PNR, "value": number}},
        "owner": {"identifier": {"system": HSA, "value": unit}},
        "authoredOn": (authored or clock.now() - timedelta(hours=20)).isoformat(),
    }


async def post(fhir: Fhir, body: Any, token: str | None) -> httpx.Response:
    headers = {"Content-Type": FHIR_JSON} | ({"Authorization": f"Bearer {token}"} if token else {})
    content = body if isinstance(body, bytes) else None
    return await fhir.http.post("/fhir/Task", content=content, json=None if content else body, headers=headers)


async def counts(world: Service) -> tuple[int, int, int, int]:
    """Plans, notices, audit events and plans' discharge times: what a refused Task must leave as it was."""
    async with world.db.read() as s:
        plans = await s.scalar(select(func.count()).select_from(Plan))
        notices = await s.scalar(select(func.count()).select_from(DischargeNotice))
        events = await s.scalar(select(func.count()).select_from(AuditEvent))
        flagged = await s.scalar(select(func.count()).select_from(Plan).where(Plan.discharge_ready_at.is_not(None)))
    return plans or 0, notices or 0, events or 0, flagged or 0


async def inbox(gql: GraphQLClient, who: str) -> list[dict[str, Any]]:
    return [i for i in (await gql(op("Inbox"), as_=who))["inbox"]["items"] if i["kind"] == "DISCHARGE"]


async def work_queue(gql: GraphQLClient, who: str) -> dict[str, dict[str, Any]]:
    found = await gql(op("AppWorkQueue"), {"language": "SV"}, as_=who)
    return {p["id"]: p for p in found["plans"]["nodes"]}


async def test_a_notice_starts_a_discharge_plan_for_the_unit(fhir: Fhir, gql: GraphQLClient, world: Service) -> None:
    token = hospital(world)
    authored = (clock.now() - timedelta(hours=20)).replace(microsecond=0)
    task = notice(authored=authored)
    response = await post(fhir, task, token)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = valid(response.json())
    assert (body["status"], body["intent"], body["identifier"]) == ("accepted", "order", task["identifier"])
    assert response.headers["location"] == f"{world.url}/fhir/Task/{body['id']}/_history/1"
    plan_id = ref_id(body["focus"], "CarePlan")
    assert datetime.fromisoformat(body["authoredOn"]) == authored
    assert datetime.fromisoformat(body["restriction"]["period"]["end"]) == authored + timedelta(days=3)
    assert body["owner"]["identifier"] == {"system": HSA, "value": UNIT}
    assert body["for"]["identifier"] == {"system": PNR, "value": BIRGITTA}
    # the plan: a draft of the unit's, made by no staff member, with the patient and the notice time
    async with world.db.read() as s:
        plan = await s.get(Plan, uuid.UUID(plan_id))
        assert plan is not None
        people = list(await s.scalars(select(Participant).where(Participant.plan_id == plan.id)))
        birgitta = (await s.scalars(select(Citizen).where(Citizen.personal_number == BIRGITTA))).one()
    assert (plan.status, plan.created_by_staff_id, plan.patient_id) == (PlanStatus.DRAFT, None, birgitta.id)
    assert plan.discharge_ready_at == authored
    assert [p.kind for p in people] == [ParticipantKind.PATIENT]
    # the unit's staff: in every inbox of the unit, due three days after the notice, not late yet
    for who in ("staff-anna", "staff-omar"):
        [item] = await inbox(gql, who)
        assert (item["planId"], item["patientName"], item["overdue"], item["read"]) == (
            plan_id,
            "Birgitta Olsson",
            False,
            False,
        ), who
        assert datetime.fromisoformat(item["dueAt"]) == authored + timedelta(days=3)
        queued = await work_queue(gql, who)
        assert "DISCHARGE_MEETING_NOT_CALLED" in queued[plan_id]["attention"], who
    # the plan's page, as the unit's staff open it: the notice time and what needs doing
    page = (await gql(op("AppPlanPage"), {"id": plan_id, "language": "SV"}, as_="staff-omar"))["plan"]
    assert datetime.fromisoformat(page["dischargeReadyAt"]) == authored and page["status"] == "DRAFT"
    assert "DISCHARGE_MEETING_NOT_CALLED" in page["attention"]
    detail = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    assert [p["kind"] for p in detail["participants"]] == ["PATIENT"]
    for who in ("staff-karin", "staff-johan", "staff-sara"):  # another health centre, the municipality
        assert await inbox(gql, who) == [], who
        assert plan_id not in await work_queue(gql, who), who
    # the CarePlan: written by the unit
    care_plan = await fhir.get(f"CarePlan/{plan_id}", "staff-anna")
    assert care_plan["author"]["identifier"] == {"system": HSA, "value": UNIT}
    # audited: one WRITE by the client, in the plan's trail
    async with world.db.read() as s:
        events = list(await s.scalars(select(AuditEvent).where(AuditEvent.plan_id == plan.id)))
    writes = [e for e in events if e.access is AuditAccess.WRITE]
    assert [(e.action, e.actor_kind, e.actor_name, e.auth_method, e.patient_id) for e in writes] == [
        ("discharge.notice", "SYSTEM", f"journal-{HOSPITAL}", "CLIENT_CREDS", birgitta.id)
    ]
    # the poster reads its Task back; nobody else finds it
    again = await fhir.http.get(f"/fhir/Task/{body['id']}", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 200 and valid(again.json()) == body
    missing = str(uuid.uuid4())
    async with world.db.read() as s:
        orgs = [o.hsa_id for o in await s.scalars(select(Organisation)) if o.hsa_id != HOSPITAL]
    others = [world.token(sub) for sub in world.provider.identities]  # people in every role: the unit's too
    others += [hospital(world, "system/*.read", org) for org in orgs]  # every other organisation's systems
    for other in others:
        refused = await fhir.http.get(f"/fhir/Task/{body['id']}", headers={"Authorization": f"Bearer {other}"})
        absent = await fhir.http.get(f"/fhir/Task/{missing}", headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == absent.status_code == 404
        assert refused.text.replace(body["id"], "ID") == absent.text.replace(missing, "ID")
    # someone of the unit takes it on (joins as coordinator): theirs now, no longer the colleague's
    anna = await staff_id(world, "staff-anna")
    added = await gql(
        op("AddParticipant"),
        {
            "planId": plan_id,
            "expectedVersion": plan.version,
            "input": {"kind": "STAFF", "staffMemberId": str(anna), "isCoordinator": True},
        },
        as_="staff-anna",
    )
    assert added["addParticipant"]["participant"]["kind"] == "STAFF", added
    assert [i["planId"] for i in await inbox(gql, "staff-anna")] == [plan_id]
    assert await inbox(gql, "staff-omar") == []


async def staff_id(world: Service, sub: str) -> uuid.UUID:
    hsa = next(i.claims["hsa_id"] for s, i in world.provider.identities.items() if s == sub)
    async with world.db.read() as s:
        return (await s.scalars(select(StaffMember.id).where(StaffMember.hsa_id == hsa))).one()


async def test_the_same_notice_twice_is_one(fhir: Fhir, world: Service) -> None:
    token = hospital(world)
    task = notice(key="utskr-0001")
    first = await post(fhir, task, token)
    assert first.status_code == 201, first.text
    before = await counts(world)
    again = await post(fhir, task, token)
    assert again.status_code == 200, again.text
    assert valid(again.json()) == first.json() and again.headers["location"] == first.headers["location"]
    # the same identifier with other words (a later time) from another system of the same organisation
    other_client = world.provider.issue_client_token("journal-akuten", HOSPITAL, "system/Task.write")
    changed = notice(key="utskr-0001", authored=clock.now() - timedelta(hours=1))
    third = await post(fhir, changed, other_client)
    assert third.status_code == 200 and third.json()["id"] == first.json()["id"]
    plans, notices, events, flagged = await counts(world)
    assert (plans, notices, flagged) == before[:2] + before[3:]
    assert events == before[2] + 2  # each repeat: a READ of the Task, nothing written
    # at the same moment: one notice, one plan, one id for all
    task = notice(number=ELSA, key="utskr-0002")
    answers = await asyncio.gather(*(post(fhir, task, token) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1 and len({a.json()["focus"]["reference"] for a in answers}) == 1
    assert (await counts(world))[:2] == (plans + 1, notices + 1)
    # the same identifier from another organisation's systems is another notice
    elsewhere = hospital(world, org="SE2321000016-VCA")
    other = await post(fhir, notice(key="utskr-0001"), elsewhere)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert other.json()["focus"] == first.json()["focus"]  # the unit's open plan of the patient: flagged


async def test_a_notice_flags_the_units_open_plan(fhir: Fhir, gql: GraphQLClient, world: Service) -> None:
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    plan_id = await _ready_plan(world.db, cast, "Elsa", relatives=(), wanted=(), goal="Hem.", background="B.")
    async with world.db.write() as s:  # its meeting was called a week ago, before the hospital stay
        await s.execute(
            update(Meeting).where(Meeting.plan_id == plan_id).values(created_at=clock.now() - timedelta(days=7))
        )
    async with world.db.read() as s:
        before = await s.get(Plan, plan_id)
        assert before is not None and before.status is PlanStatus.ACTIVE
    assert str(plan_id) not in {i["planId"] for i in await inbox(gql, "staff-anna")}
    late = (clock.now() - timedelta(days=4)).replace(microsecond=0)  # the clock ran out a day ago
    response = await post(fhir, notice(number=ELSA, authored=late), hospital(world))
    assert response.status_code == 201, response.text
    assert ref_id(valid(response.json())["focus"], "CarePlan") == str(plan_id)
    async with world.db.read() as s:
        after = await s.get(Plan, plan_id)
        assert after is not None
        plans = await s.scalar(select(func.count()).select_from(Plan))
    # flagged, nothing else: still finalized, at the version the patient approved, no new plan
    assert (after.status, after.version, after.discharge_ready_at, plans) == (
        PlanStatus.ACTIVE,
        before.version,
        late,
        1,
    )
    for who in ("staff-anna", "staff-johan"):  # everyone taking part: the municipality's planner too
        [item] = await inbox(gql, who)
        assert (item["planId"], item["overdue"]) == (str(plan_id), True), who
        assert datetime.fromisoformat(item["dueAt"]) == late + timedelta(days=3)
        assert "DISCHARGE_MEETING_NOT_CALLED" in (await work_queue(gql, who))[str(plan_id)]["attention"]
    assert await inbox(gql, "staff-omar") == []  # of the unit, but the plan has its people: not his
    # an older notice does not turn the clock back; a newer one moves it on
    older = await post(fhir, notice(number=ELSA, authored=late - timedelta(days=1)), hospital(world))
    assert older.status_code == 201
    async with world.db.read() as s:
        assert (await s.get(Plan, plan_id, populate_existing=True)).discharge_ready_at == late  # type: ignore[union-attr]
    # a unit that does not take part in Elsa's plan: a plan of its own is started
    other = await post(fhir, notice(number=ELSA, unit="SE2321000016-VCA"), hospital(world))
    assert other.status_code == 201 and ref_id(other.json()["focus"], "CarePlan") != str(plan_id)
    assert [i["planId"] for i in await inbox(gql, "staff-karin")] == [ref_id(other.json()["focus"], "CarePlan")]


def change(**edits: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(task: dict[str, Any]) -> dict[str, Any]:
        for k, v in edits.items():
            if v is None:
                task.pop(k, None)
            else:
                task[k] = v
        return task

    return edit


# (how the Task is spoiled, the answer's status, words in it, whether fhir.resources finds it invalid FHIR)
BAD_TASKS: list[tuple[str, Callable[[dict[str, Any]], Any], int, str, bool]] = [
    ("not JSON", lambda t: b"{not json", 400, "JSON", True),
    ("not a Task", lambda t: {"resourceType": "Patient", "id": "x"}, 400, "Task", True),
    ("a list", lambda t: [t], 400, "Task", True),
    ("unknown element", change(colour="blue"), 400, "'colour'", True),
    ("no intent", change(intent=None), 400, "intent", True),
    ("no status", change(status=None), 400, "status", True),
    ("bad status code", change(status="bogus"), 400, "'bogus'", False),
    ("identifier not a list", change(identifier={"system": "a", "value": "b"}), 400, "identifier", True),
    ("for as a string", change(**{"for": "Patient/1"}), 400, "for", True),
    ("empty description", change(description=""), 400, "description", True),
    ("authoredOn not a time", change(authoredOn="yesterday"), 400, "authoredOn", True),
    ("authoredOn without zone", change(authoredOn="2026-12-01T10:00:00"), 400, "authoredOn", True),
    (
        "wrong code",
        change(code={"coding": [{"system": TASK_CODE, "code": "inskrivning"}]}),
        422,
        "utskrivningsklar",
        False,
    ),
    ("no code", change(code=None), 422, "Task.code", False),
    ("no patient", change(**{"for": None}), 422, "Task.for", False),
    (
        "patient by another system",
        change(**{"for": {"identifier": {"system": HSA, "value": BIRGITTA}}}),
        422,
        PNR,
        False,
    ),
    ("ten digits", change(**{"for": {"identifier": {"system": PNR, "value": "4511305678"}}}), 422, "12", False),
    ("not a number", change(**{"for": {"identifier": {"system": PNR, "value": "1945-11-30"}}}), 422, "12", False),
    (
        "unknown patient",
        change(**{"for": {"identifier": {"system": PNR, "value": "191212121212"}}}),
        422,
        "UNKNOWN_PATIENT",
        False,
    ),
    ("no unit", change(owner=None), 422, "Task.owner", False),
    ("unit by name", change(owner={"display": "Vårdcentralen Norrbacka"}), 422, HSA, False),
    (
        "unknown unit",
        change(owner={"identifier": {"system": HSA, "value": "SE0000000000-XXX"}}),
        422,
        "SE0000000000-XXX",
        False,
    ),
    ("no identifier", change(identifier=None), 422, "identifier", False),
    ("identifier without system", change(identifier=[{"value": "x"}]), 422, "identifier", False),
    ("a cancelled notice", change(status="cancelled"), 422, "requested", False),
    ("in the future", change(authoredOn=(clock.now() + timedelta(days=1)).isoformat()), 422, "NOTICE_IN_FUTURE", False),
    ("a day, not a moment", change(authoredOn="2026-12-01"), 422, "authoredOn", False),
]


@pytest.mark.parametrize(
    ("spoil", "status", "words", "invalid_fhir"), [b[1:] for b in BAD_TASKS], ids=[b[0] for b in BAD_TASKS]
)
async def test_a_bad_task_is_an_operation_outcome_and_writes_nothing(
    fhir: Fhir,
    world: Service,
    spoil: Callable[[dict[str, Any]], Any],
    status: int,
    words: str,
    invalid_fhir: bool,
) -> None:
    bad = spoil(copy.deepcopy(notice()))
    if invalid_fhir:  # the service's checks hold with fhir.resources' R4(B) models: no valid Task
        with pytest.raises((ValidationError, TypeError, ValueError)):
            get_fhir_model_class("Task").model_validate(bad)
    else:
        get_fhir_model_class("Task").model_validate(bad)
    before = await counts(world)
    response = await post(fhir, bad, hospital(world))
    assert response.status_code == status, response.text
    outcome = valid(response.json())
    [issue] = outcome["issue"]
    text = issue["details"]["text"]
    assert words in text and " / " in text and "Traceback" not in response.text, text
    assert await counts(world) == before


async def test_who_may_post_a_notice(fhir: Fhir, world: Service) -> None:
    before = await counts(world)
    for token in (
        hospital(world, "system/*.read"),  # a read-only record system
        hospital(world, "system/CarePlan.write"),  # a scope for another type
        world.token("staff-anna"),  # staff write through GraphQL
        world.token("citizen-birgitta"),
    ):
        response = await post(fhir, notice(), token)
        assert response.status_code == 403, response.text
        assert valid(response.json())["issue"][0]["code"] == "forbidden" and "system/Task.write" in response.text
    unsigned = await post(fhir, notice(), None)
    assert unsigned.status_code == 401 and unsigned.headers["www-authenticate"] == "Bearer"
    assert await counts(world) == before
    # write, not read: it posts, but reads its Task back only with a read scope
    writer = hospital(world, "system/Task.write")
    made = await post(fhir, notice(), writer)
    assert made.status_code == 201
    back = await fhir.http.get(f"/fhir/Task/{made.json()['id']}", headers={"Authorization": f"Bearer {writer}"})
    assert back.status_code == 403
