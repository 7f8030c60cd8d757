"""An open plan page hears about every committed change (PlanChanges over graphql-transport-ws);
someone who cannot read the plan hears nothing but "not found"."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from sip_service.plans import events

from conftest import GraphQLClient, Service, op
from helpers import WAIT_S, big_plan, serving, staff, until, within


@asynccontextmanager
async def plan_changes(url: str, world: Service, sub: str, plan_id: str) -> AsyncIterator[ClientConnection]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {world.token(sub)}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await within(ws.recv(), "connection_ack")) == {"type": "connection_ack"}
        payload = {"query": op("PlanChanges"), "variables": {"planId": plan_id}}
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
                return await running.broker.subscribers(events.channel(uuid.UUID(plan_id))) == 2

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
