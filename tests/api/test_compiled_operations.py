"""The compiled known operations (api.compiled) answer exactly as the strawberry path does.

Every compiled operation runs through both paths on the same data: the service under test (compiled
forms on) and another instance on the same database with them off (`compiled_operations=False`,
strawberry for everything, the reference). Each person in each role asks the same things of both;
the answers must be the same bytes (key order too) and leave the same audit events. Then the
statements: one per operation, plus the audit batch, however many plans the answer has.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, update

from sip_service.api.compiled import Registry
from sip_service.api.schema import build_schema
from sip_service.audit import service as audit
from sip_service.auth.principal import CitizenPrincipal
from sip_service.demo import _Cast, _ready_plan
from sip_service.kit import clock
from sip_service.meetings import service as meetings
from sip_service.models.audit import AuditEvent
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import InvitationChannel, InviteLink, Meeting, MeetingKind
from sip_service.models.plans import ActionOutcome, ParticipantKind, Plan, PlanStatus
from sip_service.plans import attainment
from sip_service.plans import service as plans
from sip_service.settings import Settings

from conftest import GraphQLClient, Service, op
from helpers import (
    add_family,
    big_plan,
    busy_plan,
    citizen_id,
    issue,
    plan_added_to,
    plan_with_meetings,
    serving,
    staff,
)

# Creator, participating staff of another organisation, staff of a third one, the patient, a relative
# she wants, one she does not, her representative, an auditor, and another patient.
PEOPLE = [
    "staff-anna",
    "staff-johan",
    "staff-sara",
    "citizen-elsa",
    "citizen-per",
    "citizen-lena",
    "citizen-maria",
    "staff-ulla",
    "citizen-gustav",
]
COMPILED = [
    "AppPlanPage",
    "AppWorkQueue",
    "MeetingDeliveries",
    "PlanDetail",
    "Plans",
]  # grows as the compiler learns more types


def test_the_operations_named_here_are_the_ones_compiled() -> None:
    settings = Settings()
    registry = Registry(build_schema(settings)._schema, settings)
    assert sorted(c.name for c in registry.by_text.values()) == sorted(COMPILED)


async def finalized_and_followed_up(world: Service) -> uuid.UUID:
    """Elsa's plan walked to finalized as the demo walks it (Per wanted, Lena not; an attested
    meeting, the patient's approval, a revision), then followed up: her goal rated, the actions reviewed."""
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    plan_id = await _ready_plan(
        world.db, cast, "Elsa", relatives=("Per", "Lena"), wanted=("Per",), goal="Gå till affären.", background="B."
    )
    anna = cast.staff["Anna"]
    async with world.db.write() as s:
        plan = await plans.editable_plan(s, anna, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        levels = attainment.Levels("Sämre", "Som nu", "Affären med stöd", "Affären själv", "Affären och posten")
        await plans.record_follow_up(
            s,
            anna,
            plan_id,
            plan.version,
            held_on=clock.today(),
            next_follow_up_date=clock.today() + timedelta(days=60),
            ratings=[plans.Rating(g.id, 1, "Det går bättre", levels) for g in plan.goals],
            reviews=[plans.Review(a.id, ActionOutcome.CONTINUED, "Fortsätter") for a in plan.actions],
            summary="Uppföljning",
        )
    return plan_id


async def world_of_plans(world: Service) -> dict[str, uuid.UUID]:
    """Plans that differ in what the compiled forms read: consent or not, relatives wanted or not,
    a representative, meetings, a discharge notice, actions due, another patient, a closed plan,
    a finalized plan with its approval, revision, attested attendance and a follow-up."""
    plans_made = {
        "followed up": await finalized_and_followed_up(world),
        "big": await big_plan(world, relatives=2, goals=3, actions=4, meeting_count=2),
        "busy": await busy_plan(world),
        "no consent": await plan_added_to(world, consent=False, patient="Gustav"),
        "consent": await plan_added_to(world, consent=True),
    }
    anna, elsa = await staff(world, "Anna"), CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa Andersson")
    async with world.db.write() as s:
        plan = await plans.create_plan(s, anna, patient_id=elsa.citizen_id, allow_another_open_plan=True)
        await s.flush()
        plan = await add_family(s, world, anna, plan)
        await s.flush()
        plan = await plans.editable_plan(s, elsa, plan.id, plan.version)
        per = next(p.id for p in plan.participants if p.kind is ParticipantKind.RELATIVE)
        await plans.record_relatives_decision(s, elsa, plan.id, plan.version, [per])  # Per yes, Lena no
        plans_made["family"] = plan.id
    closed = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    edge = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=1)
    today = clock.today()
    async with world.db.write() as s:
        await s.execute(update(Plan).where(Plan.id == closed).values(status=PlanStatus.CLOSED, closed_at=clock.now()))
        # the edges of attention: a follow-up due on the last day of the window and the day after it;
        # a discharge notice at the very instant its meeting was called
        await s.execute(
            update(Plan)
            .where(Plan.id == plans_made["consent"])
            .values(status=PlanStatus.ACTIVE, follow_up_date=today + timedelta(days=7))
        )
        called = select(Meeting.created_at).where(Meeting.plan_id == edge).scalar_subquery()
        await s.execute(
            update(Plan)
            .where(Plan.id == edge)
            .values(status=PlanStatus.ACTIVE, follow_up_date=today + timedelta(days=8), discharge_ready_at=called)
        )
    plans_made["closed"], plans_made["edge"] = closed, edge
    return plans_made


async def meetings_with_links_and_waiting(gql: GraphQLClient, world: Service) -> dict[str, uuid.UUID]:
    """What the plan pages' meetings show: invite links (working, expired), messages waiting for
    the patient's consent to cover a colleague's organisation."""
    setup = await plan_with_meetings(gql, world, timedelta(days=2), timedelta(days=5))
    await issue(gql, setup, setup.patient)
    await issue(gql, setup, setup.relative)
    await issue(gql, setup, setup.patient, meeting=1)
    async with world.db.write() as s:  # the relative's link ran out
        relative = uuid.UUID(setup.relative)
        past = clock.now() - timedelta(hours=1)
        await s.execute(update(InviteLink).where(InviteLink.participant_id == relative).values(expires_at=past))
    waiting = await plan_added_to(world, consent=False)
    anna = await staff(world, "Anna")
    async with world.db.write() as s:
        start = clock.now() + timedelta(days=3)
        m = await meetings.schedule_meeting(
            s, anna, waiting, kind=MeetingKind.VIDEO, starts_at=start, ends_at=start + timedelta(hours=1)
        )
        await s.flush()
        plan = await plans.editable_plan(s, anna, waiting, (await s.get(Plan, waiting)).version)  # type: ignore[union-attr]
        await meetings.invite(s, anna, m.id, m.version, [p.id for p in plan.participants], InvitationChannel.SMS)
    return {"with links": uuid.UUID(setup.plan_id), "waiting": waiting}


async def reads_since(world: Service, seq: int) -> list[tuple[Any, ...]]:
    async with world.db.read() as s:
        rows = await s.execute(
            select(
                AuditEvent.access, AuditEvent.action, AuditEvent.actor_name, AuditEvent.plan_id, AuditEvent.patient_id
            )
            .where(AuditEvent.seq > seq)
            .order_by(AuditEvent.plan_id, AuditEvent.patient_id, AuditEvent.action)
        )
        return [tuple(r) for r in rows]


async def last_seq(world: Service) -> int:
    async with world.db.read() as s:
        return int(await s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)


async def both(
    world: Service,
    compiled: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    name: str,
    variables: dict[str, Any],
    who: str,
) -> bytes:
    """The same request to both paths: the same bytes and the same audit events; the answer."""
    headers = {"Authorization": f"Bearer {world.token(who)}"}
    body = {"query": op(name), "variables": variables}
    answers, events = [], []
    for client in (compiled, reference):
        seq = await last_seq(world)
        response = await client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, (who, name, variables, response.text)
        answers.append(response.content)
        events.append(await reads_since(world, seq))
    if answers[0] != answers[1]:
        at = next(i for i, (a, b) in enumerate(zip(answers[0], answers[1], strict=False)) if a != b)
        raise AssertionError(
            f"{who} {name} {variables}: compiled {answers[0][max(at - 200, 0) : at + 100]!r}, "
            f"strawberry {answers[1][max(at - 200, 0) : at + 100]!r}"
        )
    assert events[0] == events[1], (who, name, variables)
    return answers[0]


async def test_every_compiled_operation_answers_as_strawberry_does_for_everyone(
    gql: GraphQLClient, world: Service
) -> None:
    made = await world_of_plans(world) | await meetings_with_links_and_waiting(gql, world)
    async with (
        serving(world, compiled_operations=False) as reference_app,
        httpx.AsyncClient(base_url=reference_app.url, timeout=60) as reference,
    ):
        compiled = gql.http
        for n, who in enumerate(PEOPLE):
            first = await both(world, compiled, reference, "Plans", {"first": 50}, who)
            # a page at a time: the cursor the compiled path gave takes both to the same next page
            page = await both(world, compiled, reference, "Plans", {"first": 2}, who)
            cursor = httpx.Response(200, content=page).json()["data"]["plans"]["pageInfo"]["endCursor"]
            if cursor is not None:
                await both(world, compiled, reference, "Plans", {"first": 2, "after": cursor}, who)
            for flt in (
                {"needsAttention": ["NO_MEETING", "DISCHARGE_MEETING_NOT_CALLED"]},
                {"statuses": ["CLOSED"]},
                {"patientId": str(await citizen_id(world, "Gustav"))},
                {"organisationId": str((await staff(world, "Johan")).organisation_id)},
            ):
                await both(world, compiled, reference, "Plans", {"first": 20, "filter": flt}, who)
            shown = httpx.Response(200, content=first).json()["data"]["plans"]["nodes"]
            if who == "staff-anna":  # she made them all: the answer is not trivially empty
                assert {n["id"] for n in shown} == {str(p) for p in made.values()}
            # the staff app's work queue: readiness of every plan, its messages in the reader's language
            for language in ("SV", "EN"):
                await both(world, compiled, reference, "AppWorkQueue", {"first": 50, "language": language}, who)
            queue = await both(world, compiled, reference, "AppWorkQueue", {"first": 3, "language": "SV"}, who)
            cursor = httpx.Response(200, content=queue).json()["data"]["plans"]["pageInfo"]["endCursor"]
            if cursor is not None:
                variables = {"first": 3, "after": cursor, "language": "EN", "filter": {"statuses": ["DRAFT", "ACTIVE"]}}
                await both(world, compiled, reference, "AppWorkQueue", variables, who)
            for what, plan_id in made.items():  # each plan's page; not found for those who may not see it
                detail = await both(world, compiled, reference, "PlanDetail", {"id": str(plan_id)}, who)
                if who == "staff-anna":
                    assert b'"errors"' not in detail, (what, detail)
                # the plan app's page, in either language, and the meeting deliveries it checks again
                page = {"id": str(plan_id), "language": ("SV", "EN")[n % 2]}
                await both(world, compiled, reference, "AppPlanPage", page, who)
                if what in ("with links", "waiting", "big"):  # (the others' meetings are like these)
                    await both(world, compiled, reference, "MeetingDeliveries", {"planId": str(plan_id)}, who)
        # the plan page's fullest answer has every part in it (not trivially empty lists)
        full = httpx.Response(200, content=await both(
            world, compiled, reference, "PlanDetail", {"id": str(made["followed up"])}, "citizen-elsa"
        )).json()["data"]["plan"]  # fmt: skip
        for part in ("goals", "actions", "meetings", "revisions", "followUps", "participants"):
            assert full[part], part
        assert full["consent"] and full["goals"][0]["ratings"] and full["meetings"][0]["attendances"], full
        assert full["patient"]["personalNumber"][-4:] != "XXXX", full["patient"]
        app = httpx.Response(200, content=await both(
            world, compiled, reference, "AppPlanPage", {"id": str(made["with links"]), "language": "SV"}, "staff-anna"
        )).json()["data"]["plan"]  # fmt: skip
        assert [len(m["inviteLinks"]) for m in app["meetings"]] == [1, 1], app["meetings"]  # not the expired one
        waiting = httpx.Response(200, content=await both(
            world, compiled, reference, "MeetingDeliveries", {"planId": str(made["waiting"])}, "staff-anna"
        )).json()["data"]["plan"]["meetings"][0]["invitations"]  # fmt: skip
        assert "WAITING_FOR_CONSENT" in {i["delivery"]["status"] for i in waiting}, waiting
        # requests the compiled path leaves to strawberry answer the same way too (errors included)
        for variables in ({"first": 0}, {"first": 5, "after": "bm90IGEgY3Vyc29y"}, {"first": "many"}):
            await both(world, compiled, reference, "Plans", variables, "staff-anna")
        for variables in ({"id": str(uuid.uuid4())}, {"id": "not an id"}):
            await both(world, compiled, reference, "PlanDetail", variables, "staff-anna")
        for variables in ({"first": 50}, {"first": 50, "language": "FI"}, {"first": 500, "language": "SV"}):
            await both(world, compiled, reference, "AppWorkQueue", variables, "staff-anna")
        queue = await both(world, compiled, reference, "AppWorkQueue", {"first": 50, "language": "EN"}, "staff-anna")
        blockers = [
            b
            for n in httpx.Response(200, content=queue).json()["data"]["plans"]["nodes"]
            for b in n["readiness"]["blockers"]
        ]
        assert blockers and all(b["message"] for b in blockers), queue  # not trivially empty


@contextmanager
def statements(world: Service) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(world.db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(world.db.engine.sync_engine, "before_cursor_execute", note)


def _audit_batch(statement: str) -> bool:
    """The statements of the audit trail's group commit (lock, the chain's end, INSERT, inbox marks)."""
    s = statement.lower()
    return "audit_events" in s or "pg_advisory" in s or "inbox" in s


async def test_a_compiled_operation_is_one_statement_plus_the_audit_batch(gql: GraphQLClient, world: Service) -> None:
    for _ in range(3):
        await big_plan(world, relatives=1, goals=1, actions=1, meeting_count=1)
    headers = {"Authorization": f"Bearer {world.token('staff-anna')}"}
    lists = {"Plans": {"first": 50}, "AppWorkQueue": {"first": 50, "language": "SV"}}
    counts: dict[str, list[int]] = {name: [] for name in lists}
    for more in (0, 20):
        for _ in range(more):
            await big_plan(world, relatives=2, goals=2, actions=2, meeting_count=1)
        for name, variables in lists.items():
            body = {"query": op(name), "variables": variables}
            # one token, known after a first request (the principal cache; new people made it forget)
            assert (await gql.http.post("/graphql", json=body, headers=headers)).status_code == 200
            with statements(world) as seen:
                answer = (await gql.http.post("/graphql", json=body, headers=headers)).json()
            assert len(answer["data"]["plans"]["nodes"]) == 3 + more, answer
            reads = [s for s in seen if not _audit_batch(s)]
            assert len(reads) == 1, (name, reads)
            counts[name].append(len(seen))
    for name, (few, many) in counts.items():
        assert few == many, (name, few, many)  # the audit batch does not grow with the page either


async def test_the_plan_page_is_one_statement_plus_the_audit_batch_whatever_its_size(
    gql: GraphQLClient, world: Service
) -> None:
    small = await big_plan(world, relatives=0, goals=1, actions=1, meeting_count=1)
    large = await big_plan(world, relatives=3, goals=6, actions=6, meeting_count=4)
    headers = {"Authorization": f"Bearer {world.token('staff-anna')}"}
    for name, language in (("PlanDetail", {}), ("AppPlanPage", {"language": "EN"})):
        counts = []
        for plan_id, goals in ((small, 1), (large, 6)):
            body = {"query": op(name), "variables": {"id": str(plan_id), **language}}
            assert (await gql.http.post("/graphql", json=body, headers=headers)).status_code == 200
            with statements(world) as seen:
                answer = (await gql.http.post("/graphql", json=body, headers=headers)).json()
            assert len(answer["data"]["plan"]["goals"]) == goals, answer
            reads = [s for s in seen if not _audit_batch(s)]
            assert len(reads) == 1, (name, reads)
            counts.append(len(seen))
        assert counts[0] == counts[1], (name, counts)


async def test_a_compiled_answer_is_withheld_as_strawberry_withholds_it(
    gql: GraphQLClient, world: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await big_plan(world, relatives=1, goals=1, actions=1, meeting_count=1)

    async def broken(*_: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audit, "append_many", broken)
    async with (
        serving(world, compiled_operations=False) as reference_app,
        httpx.AsyncClient(base_url=reference_app.url, timeout=60) as reference,
    ):
        answers = [
            await both(world, gql.http, reference, "Plans", {"first": 50}, "staff-anna"),
            await both(world, gql.http, reference, "PlanDetail", {"id": str(plan_id)}, "staff-anna"),
        ]
    for answer in answers:
        body = httpx.Response(200, content=answer).json()
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
        assert "Elsa" not in answer.decode()
