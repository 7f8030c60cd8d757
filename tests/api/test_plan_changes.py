"""An open plan page hears about every committed change (PlanChanges over graphql-transport-ws);
someone who cannot read the plan hears nothing but "not found"."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from sip_service import usecases
from sip_service.api.plan_live import feeds_for
from sip_service.auth.principal import CitizenPrincipal
from sip_service.models.plans import ParticipantKind, Plan
from sip_service.plans import events
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, op
from helpers import REDIS_URL, WAIT_S, big_plan, citizen_id, serving, staff, until, within


@asynccontextmanager
async def plan_changes(
    url: str, world: Service, sub: str, plan_id: str, document: str | None = None
) -> AsyncIterator[ClientConnection]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {world.token(sub)}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await within(ws.recv(), "connection_ack")) == {"type": "connection_ack"}
        payload = {"query": document or op("PlanChanges"), "variables": {"planId": plan_id}}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
        yield ws


async def received(ws: ClientConnection, what: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await within(ws.recv(), what))
    return message


async def test_a_change_reaches_every_open_page_and_no_outsider(world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=1, actions=0, meeting_count=0))
    johan = await staff(world, "Johan")
    # An instance of its own, so that the test can ask its event broker who is subscribed.
    async with serving(world) as running, httpx.AsyncClient(base_url=running.url, timeout=WAIT_S) as http:
        gql = GraphQLClient(http, world)
        version = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]["version"]
        async with (
            plan_changes(running.url, world, "staff-anna", plan_id) as anna,
            plan_changes(running.url, world, "citizen-elsa", plan_id) as elsa,
            plan_changes(running.url, world, "staff-karin", plan_id) as karin,  # another health centre
        ):
            refused = await received(karin, "Karin's refusal")
            assert refused["type"] == "error" or refused["payload"].get("errors"), refused
            assert "NOT_FOUND" in json.dumps(refused)

            # A page hears only what is published after it subscribed: change the plan once both
            # pages are (Karin's refused subscription has ended before her refusal is sent).
            async def both_pages_subscribed() -> bool:
                return feeds_for(running.broker, world.db).watching(uuid.UUID(plan_id)) == 2

            await until(both_pages_subscribed, "Anna's and Elsa's planChanges subscriptions (and no other)")
            added = await gql(
                op("AddAction"),
                {
                    "planId": plan_id,
                    "expectedVersion": version,
                    "input": {"description": "Hemtjänst", "responsibleOrganisationId": str(johan.organisation_id)},
                },
                as_="staff-johan",
            )
            new_version = added["addAction"]["plan"]["version"]
            for who, page in (("Anna", anna), ("Elsa", elsa)):
                message = await received(page, f"the change on {who}'s page")
                assert message["type"] == "next", message
                assert message["payload"]["data"]["planChanges"] == {
                    "planId": plan_id,
                    "version": new_version,
                    "change": "addAction",
                }


@pytest.mark.parametrize("sub", ["citizen-per", "staff-sara"])
async def test_outsiders_get_not_found(world: Service, sub: str) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0))
    async with plan_changes(world.url, world, sub, plan_id) as ws:
        assert "NOT_FOUND" in json.dumps(await received(ws, "the refusal"))


async def test_one_access_check_per_change_however_many_pages_and_access_is_checked_again(world: Service) -> None:
    """Six pages of four people: each change is one statement (who of them may still read the plan),
    and a page whose reader lost access (the patient no longer wants the relative; the consent that
    covered an organisation is withdrawn) ends, while the others go on hearing."""
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    anna, elsa = await staff(world, "Anna"), CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa Andersson")

    async def version() -> int:
        async with world.db.read() as s:
            return int(await s.scalar(select(Plan.version).where(Plan.id == plan_id)) or 0)

    async with world.db.write() as s:
        per = await plans.add_participant(
            s,
            anna,
            plan_id,
            await version(),
            plans.NewParticipant(ParticipantKind.RELATIVE, citizen_id=await citizen_id(world, "Per")),
        )
        await s.flush()
        plan = await plans.editable_plan(s, elsa, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        await plans.record_relatives_decision(s, elsa, plan_id, plan.version, [per.id])

    async with serving(world) as running:
        pages = ["staff-anna", "staff-anna", "staff-johan", "staff-johan", "citizen-elsa", "citizen-per"]
        async with contextlib.AsyncExitStack() as stack:
            ws = [await stack.enter_async_context(plan_changes(running.url, world, who, str(plan_id))) for who in pages]

            async def all_pages_watch() -> bool:
                return feeds_for(running.broker, world.db).watching(plan_id) == len(pages)

            await until(all_pages_watch, "six planChanges subscriptions")

            with world.statements.counting() as counted:
                await running.broker.publish(events.channel(plan_id), events.changed(plan_id, 99, "test"))
                for who, page in zip(pages, ws, strict=True):
                    assert (await received(page, f"the change on {who}'s page"))["type"] == "next"
            assert counted.count == 1  # one look for all six pages (four people)

            async def change(who: object, use_case: Any) -> None:
                await usecases.run(world.db, who, "test", use_case, broker=running.broker)  # type: ignore[arg-type]

            v = await version()
            await change(elsa, lambda s: plans.record_relatives_decision(s, elsa, plan_id, v, []))
            assert (await received(ws[5], "the end of Per's page"))["type"] == "complete"
            for who, page in zip(pages[:5], ws[:5], strict=True):
                assert (await received(page, f"the relatives decision on {who}'s page"))["type"] == "next"

            v = await version()
            await change(elsa, lambda s: plans.withdraw_consent(s, elsa, plan_id, v))
            for who, page in zip(pages[2:4], ws[2:4], strict=True):  # Johan's organisation: consent withdrawn
                assert (await received(page, f"the end of {who}'s page"))["type"] == "complete"
            for who, page in zip(pages[:2] + pages[4:5], ws[:2] + ws[4:5], strict=True):
                message = await received(page, f"the withdrawal on {who}'s page")
                assert message["payload"]["data"]["planChanges"]["change"] == "test", message


async def test_the_pages_document_is_served_without_strawberry_and_says_the_same(world: Service) -> None:
    """The pages' PlanChanges is served by plan_live.KnownPlanChanges: one encoding per change for
    all pages. Strawberry's path (SIP_COMPILED_OPERATIONS=false) is the reference: two instances on
    the same database and Redis, the same pages on each; every frame must be the same text — the
    changes, the end of a page whose reader lost access, an outsider's "not found", a bad id, and
    another document for the same field (which takes strawberry's path on both)."""
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    elsa = CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa Andersson")
    aliased = "subscription Watch($planId: UUID!) { planChanges(planId: $planId) { v: version planId } }"
    pages = [  # who, plan id, document; the first two go on hearing
        ("staff-anna", str(plan_id), None),
        ("staff-anna", str(plan_id), aliased),
        ("staff-johan", str(plan_id), None),  # his organisation loses the patient's consent
        ("staff-karin", str(plan_id), None),  # another health centre: not found
        ("staff-anna", "not-a-uuid", None),
    ]
    async with (
        serving(world, redis_url=REDIS_URL) as fast,
        serving(world, redis_url=REDIS_URL, compiled_operations=False) as reference,
        contextlib.AsyncExitStack() as stack,
    ):
        instances = (fast, reference)
        ws = {
            running.url: [
                await stack.enter_async_context(plan_changes(running.url, world, w, p, d)) for w, p, d in pages
            ]
            for running in instances
        }

        async def watching() -> bool:
            # and on the first, Anna's and Johan's pages without strawberry (the aliased one with it)
            served = fast.app.state.known_plan_changes.serving == 2
            return served and all(feeds_for(r.broker, world.db).watching(plan_id) == 3 for r in instances)

        await until(watching, "three pages watching on each instance, two of them served without strawberry")
        assert reference.app.state.known_plan_changes is None
        said: dict[str, list[list[str]]] = {r.url: [[] for _ in pages] for r in instances}

        async def read(pages: tuple[int, ...], what: str) -> None:
            for r in instances:
                for i in pages:
                    said[r.url][i].append(str(await within(ws[r.url][i].recv(), f"{what} on page {i} of {r.url}")))

        await read((3, 4), "the refusal")
        await fast.broker.publish(events.channel(plan_id), events.changed(plan_id, 99, "test"))  # over Redis: both
        await read((0, 1, 2), "the change")
        async with world.db.read() as s:
            version = int(await s.scalar(select(Plan.version).where(Plan.id == plan_id)) or 0)
        await usecases.run(
            world.db,
            elsa,
            "withdrawConsent",
            lambda s: plans.withdraw_consent(s, elsa, plan_id, version),
            broker=fast.broker,
        )
        await read((0, 1, 2), "the withdrawal")
    assert said[fast.url] == said[reference.url]
    frames = said[fast.url]
    assert [json.loads(f)["type"] for f in frames[2]] == ["next", "complete"]  # Johan: the change, then the end
    assert "NOT_FOUND" in frames[3][0]
    assert json.loads(frames[1][0])["payload"] == {"data": {"planChanges": {"v": 99, "planId": str(plan_id)}}}
