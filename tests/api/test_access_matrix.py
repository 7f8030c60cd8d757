"""A generated access matrix: every role × every query, mutation and subscription that takes the ID
of plan data.

Whoever may not see a plan gets "not found" — word for word the same answer as for an ID that
does not exist — and no list leaks it. Generated from the schema, so a new operation is covered
the day it is added.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from websockets.asyncio.client import connect

from sip_service.api.schema import build_schema
from sip_service.auth.principal import CitizenPrincipal
from sip_service.models.plans import Plan
from sip_service.plans import service as plans
from sip_service.settings import Settings

from conftest import GraphQLClient, Service, op
from helpers import WAIT_S, add_family, big_plan, citizen_id, staff, within

SCHEMA = build_schema(Settings())._schema
# Arguments that name plan data, and which object of the plan they take.
ID_ARGS = {
    "planId": "plan",
    "id": "plan",
    "goalId": "goal",
    "actionId": "action",
    "participantId": "participant",
    "meetingId": "meeting",
    "relativeIds": "relative",
}
# Roles that must not see the plan: another organisation's staff, another patient, a relative the
# patient did not choose.
OUTSIDERS = ["staff-sara", "citizen-gustav", "citizen-lena"]
INSIDERS = ["staff-anna", "staff-johan", "citizen-elsa", "citizen-per", "citizen-maria"]


def operations(*kinds: str) -> list[tuple[str, str, GraphQLField]]:
    roots = {"query": SCHEMA.query_type, "mutation": SCHEMA.mutation_type, "subscription": SCHEMA.subscription_type}
    out = []
    for kind, root in ((k, roots[k]) for k in kinds or ("query", "mutation")):
        assert root is not None
        for name, f in root.fields.items():
            if any(a in ID_ARGS for a in f.args):
                out.append((kind, name, f))
    return out


def value_for(t: GraphQLInputType, name: str, ids: dict[str, str]) -> Any:
    if isinstance(t, GraphQLNonNull):
        return value_for(t.of_type, name, ids)
    if isinstance(t, GraphQLList):
        return [value_for(t.of_type, name, ids)]
    if name in ID_ARGS:
        return ids[ID_ARGS[name]]
    if isinstance(t, GraphQLInputObjectType):
        return {k: value_for(f.type, k, ids) for k, f in t.fields.items() if isinstance(f.type, GraphQLNonNull)} | (
            {"text": "x"} if "text" in t.fields else {}
        )
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    assert isinstance(t, GraphQLScalarType)
    return {
        "Int": 1,
        "String": "x",
        "Boolean": False,
        "UUID": ids["other"],
        "Date": str(date.today() + timedelta(days=9)),
        "DateTime": "2030-01-01T10:00:00+00:00",
    }[t.name]


def document(kind: str, name: str, f: GraphQLField) -> str:
    params = ", ".join(f"${a}: {arg.type}" for a, arg in f.args.items())
    call = ", ".join(f"{a}: ${a}" for a in f.args)
    target = get_named_type(f.type)
    if isinstance(target, GraphQLUnionType):
        selection = "{ __typename ... on Error { code message } }"
    elif isinstance(target, GraphQLObjectType):
        selection = "{ __typename }"
    else:
        selection = ""
    return f"{kind} Op({params}) {{ {name}({call}) {selection} }}"


def scrub(body: Any, ids: dict[str, str]) -> str:
    text = str(body)
    for v in ids.values():
        text = text.replace(v, "<id>")
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)


async def plan_everyone_knows(world: Service) -> dict[str, str]:
    """Elsa's plan: nurse and planner take part, consent covers both, Per is wanted, Lena is not,
    Maria represents Elsa; with a goal, an action and a meeting."""
    plan_id = await big_plan(world, relatives=0, goals=1, actions=1, meeting_count=1)
    anna, elsa = await staff(world, "Anna"), CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa")
    async with world.db.write() as s:
        plan = await s.get(Plan, plan_id)
        assert plan is not None
        plan = await add_family(s, world, anna, plan)
        plan = await plans.editable_plan(s, elsa, plan_id, plan.version)
        per_id, lena_id = await citizen_id(world, "Per"), await citizen_id(world, "Lena")
        per = next(p for p in plan.participants if p.citizen_id == per_id)
        await plans.record_relatives_decision(s, elsa, plan_id, plan.version, [per.id])
        await s.flush()
        lena = next(p for p in plan.participants if p.citizen_id == lena_id)
        return {
            "plan": str(plan_id),
            "goal": str(plan.goals[0].id),
            "action": str(plan.actions[0].id),
            "participant": str(plan.participants[0].id),
            "meeting": str(plan.meetings[0].id),
            "relative": str(lena.id),
            "other": str(uuid.uuid4()),
        }


async def test_outsiders_get_the_same_not_found_as_for_nothing(gql: GraphQLClient, world: Service) -> None:
    hidden = await plan_everyone_knows(world)
    nothing = {k: str(uuid.uuid4()) for k in hidden}
    checked = 0
    for kind, name, f in operations():
        for role in OUTSIDERS:
            query = document(kind, name, f)
            answers = []
            for ids in (hidden, nothing):
                variables = {a: value_for(arg.type, a, ids) for a, arg in f.args.items()}
                answers.append((await gql.raw(query, variables, as_=role)).json())
            assert scrub(answers[0], hidden) == scrub(answers[1], nothing), (name, role, answers)
            assert "NOT_FOUND" in str(answers[0]) or "FORBIDDEN" in str(answers[0]), (name, role, answers[0])
            checked += 1
    assert checked >= 3 * 20


async def first_answer(world: Service, role: str, query: str, variables: dict[str, Any]) -> Any:
    """Subscribe over the websocket as `role`; the first thing the server sends back."""
    url = world.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {world.token(role)}"}})
        )
        assert json.loads(await within(ws.recv(), "connection_ack")) == {"type": "connection_ack"}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": query, "variables": variables}}))
        return json.loads(await within(ws.recv(), f"the first answer to {role}'s subscription"))


async def test_outsiders_subscribing_get_the_same_not_found_as_for_nothing(world: Service) -> None:
    hidden = await plan_everyone_knows(world)
    nothing = {k: str(uuid.uuid4()) for k in hidden}
    subscriptions = operations("subscription")
    assert {name for _, name, _ in subscriptions} >= {"meetingEvents", "planChanges"}
    for kind, name, f in subscriptions:
        for role in OUTSIDERS:
            query = document(kind, name, f)
            answers = []
            for ids in (hidden, nothing):
                variables = {a: value_for(arg.type, a, ids) for a, arg in f.args.items()}
                answers.append(await first_answer(world, role, query, variables))
            assert scrub(answers[0], hidden) == scrub(answers[1], nothing), (name, role, answers)
            assert "NOT_FOUND" in str(answers[0]), (name, role, answers[0])


@pytest.mark.parametrize("role", OUTSIDERS)
async def test_lists_do_not_leak_the_plan(gql: GraphQLClient, world: Service, role: str) -> None:
    hidden = await plan_everyone_knows(world)
    data = await gql(op("Plans"), {"first": 100}, as_=role)
    assert hidden["plan"] not in str(data)
    if role.startswith("staff-"):  # nor does the inbox (citizens have none)
        assert hidden["plan"] not in str(await gql(op("Inbox"), as_=role))


async def test_insiders_see_the_plan(gql: GraphQLClient, world: Service) -> None:
    hidden = await plan_everyone_knows(world)
    for role in INSIDERS:
        data = await gql(op("PlanDetail"), {"id": hidden["plan"]}, as_=role)
        assert data["plan"]["id"] == hidden["plan"], role
        listed = await gql(op("Plans"), {"first": 100}, as_=role)
        assert hidden["plan"] in str(listed), role
