"""The work queue's order is a rule of the domain, made by the service: what needs attention first,
then the other open plans (draft, active, revising), closed plans last; newest first within each.
Checked through GraphQL (the operation the page sends), on the demo data and on every page size.
"""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from sip_service.demo import _Cast, _ready_plan, seed
from sip_service.kit import clock
from sip_service.models import Base
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.plans import Plan

from conftest import GraphQLClient, Service, op


@pytest.fixture
async def demo(world: Service) -> Service:
    """The demo as `sip-service seed-demo` makes it (plans in every status), and two plans more,
    made after the demo's: Lena's, active with its follow-up due (needs attention), and Per's,
    active with nothing to do (open)."""
    async with world.db.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "audit_events":
                await session.execute(table.delete())
    assert await seed(world.db, world.settings)
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    lena = await _ready_plan(world.db, cast, "Lena", goal="Orka gå i trappan.", background="Lena, knäoperation.")
    await _ready_plan(world.db, cast, "Per", goal="Sova hela natten.", background="Per, sömnbesvär.")
    async with world.db.write() as s:  # the follow-up is today: the plan needs attention
        await s.execute(update(Plan).where(Plan.id == lena).values(follow_up_date=clock.today()))
    return world


async def queue(gql: GraphQLClient, who: str, first: int = 50, **filter: Any) -> list[dict[str, Any]]:
    """The whole queue as `who` sees it, read a page of `first` at a time, as the page does."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        variables = {"first": first, "after": after, "filter": filter, "language": "SV"}
        page = (await gql(op("AppWorkQueue"), variables, as_=who))["plans"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def rank(plan: dict[str, Any]) -> int:
    if plan["status"] == "CLOSED":
        return 2
    return 0 if plan["attention"] else 1


def patients(plans: list[dict[str, Any]]) -> list[str]:
    return [p["patient"]["name"].split()[0] for p in plans]


async def test_attention_first_closed_last_newest_first_within(demo: Service, gql: GraphQLClient) -> None:
    anna = await queue(gql, "staff-anna")
    # Lena (follow-up due) and Gustav (revising, awaiting approval) need attention, the newest first;
    # then the open plans without anything to do, the newest first; Olle's closed plan last.
    assert patients(anna) == ["Lena", "Gustav", "Per", "Elsa", "Olle"]
    assert [p["status"] for p in anna] == ["ACTIVE", "REVISING", "ACTIVE", "ACTIVE", "CLOSED"]
    assert [rank(p) for p in anna] == [0, 0, 1, 1, 2]
    assert anna[0]["attention"] == ["FOLLOW_UP_DUE"]
    assert anna[1]["attention"] == ["AWAITING_PATIENT_APPROVAL"]

    # the same order a page at a time: the cursor carries on where the last page ended
    for first in (1, 2, 3):
        assert patients(await queue(gql, "staff-anna", first)) == patients(anna)

    # Karin's discharge (a draft, no meeting called) leads her queue; the municipality's planner
    # sees the plans he takes part in, in the same order
    karin = await queue(gql, "staff-karin")
    assert [(p["patient"]["name"], p["status"], rank(p)) for p in karin] == [("Birgitta Olsson", "DRAFT", 0)]
    assert patients(await queue(gql, "staff-johan", 2)) == patients(anna)

    # a filter keeps the order among what it lets through
    assert patients(await queue(gql, "staff-anna", 1, statuses=["ACTIVE"])) == ["Lena", "Per", "Elsa"]
    assert patients(await queue(gql, "staff-anna", 1, statuses=["ACTIVE", "CLOSED"])) == ["Lena", "Per", "Elsa", "Olle"]

    # a plan that stops needing attention moves down among the open ones: Lena's follow-up moves on
    async with demo.db.write() as s:
        later = clock.today() + timedelta(days=60)
        await s.execute(update(Plan).where(Plan.id == uuid.UUID(anna[0]["id"])).values(follow_up_date=later))
    assert patients(await queue(gql, "staff-anna")) == ["Gustav", "Per", "Lena", "Elsa", "Olle"]


async def test_citizens_see_their_plans_in_the_same_order(demo: Service, gql: GraphQLClient) -> None:
    # Per: his own plan (open) and his mother's (he is the relative she wants)
    assert [(p["patient"]["name"], rank(p)) for p in await queue(gql, "citizen-per", 1)] == [
        ("Per Andersson", 1),
        ("Elsa Andersson", 1),
    ]


async def test_a_cursor_for_a_plan_one_may_not_see_is_refused(demo: Service, gql: GraphQLClient) -> None:
    """As if the plan did not exist: the answer says nothing about someone else's plan."""
    page = (await gql(op("AppWorkQueue"), {"first": 1, "language": "SV"}, as_="staff-karin"))["plans"]
    theirs = page["pageInfo"]["endCursor"]  # Birgitta's plan, which Anna may not see
    created = base64.urlsafe_b64decode(theirs).decode().split("|")[0]
    nobodys = base64.urlsafe_b64encode(f"{created}|{uuid.uuid4()}".encode()).decode()
    answers = []
    for cursor in (theirs, nobodys):
        variables = {"first": 1, "after": cursor, "language": "SV"}
        body = (await gql.raw(op("AppWorkQueue"), variables, as_="staff-anna")).json()
        [error] = body["errors"]
        answers.append((error["extensions"]["code"], error["message"]))
    assert answers == [("VALIDATION_ERROR", "the cursor is not one this service gave out")] * 2
