"""An open plan page hears about every committed change (PlanChanges over graphql-transport-ws);
someone who cannot read the plan hears nothing but "not found"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from conftest import GraphQLClient, Service, op
from helpers import big_plan, staff

WAIT_S = 5.0


@asynccontextmanager
async def plan_changes(world: Service, sub: str, plan_id: str) -> AsyncIterator[ClientConnection]:
    url = world.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {world.token(sub)}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        payload = {"query": op("PlanChanges"), "variables": {"planId": plan_id}}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
        yield ws


async def received(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    return message


async def test_a_change_reaches_every_open_page_and_no_outsider(gql: GraphQLClient, world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=1, actions=0, meeting_count=0))
    johan = await staff(world, "Johan")
    version = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]["version"]
    async with (
        plan_changes(world, "staff-anna", plan_id) as anna,
        plan_changes(world, "citizen-elsa", plan_id) as elsa,
        plan_changes(world, "staff-karin", plan_id) as karin,  # another health centre: not in the plan
    ):
        refused = await received(karin)
        assert refused["type"] == "error" or refused["payload"].get("errors"), refused
        assert "NOT_FOUND" in json.dumps(refused)
        await asyncio.sleep(0.2)  # the subscriptions are registered before the change
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
        for page in (anna, elsa):
            message = await received(page)
            assert message["type"] == "next", message
            assert message["payload"]["data"]["planChanges"] == {
                "planId": plan_id,
                "version": new_version,
                "change": "addAction",
            }


@pytest.mark.parametrize("sub", ["citizen-per", "staff-sara"])
async def test_outsiders_get_not_found(world: Service, sub: str) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0))
    async with plan_changes(world, sub, plan_id) as ws:
        assert "NOT_FOUND" in json.dumps(await received(ws))
