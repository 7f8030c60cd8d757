"""Websockets (graphql-transport-ws) sign in with connection_init, or are closed."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import Service
from helpers import WAIT_S, within

PROTOCOL = "graphql-transport-ws"


def ws_url(world: Service) -> str:
    return world.url.replace("http://", "ws://") + "/graphql"


async def open_and_init(
    world: Service, payload: dict[str, object] | None
) -> tuple[dict[str, object] | None, int | None]:
    """Send connection_init; return the server's answer, or the close code if it hung up."""
    async with connect(ws_url(world), subprotocols=[PROTOCOL], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
        message: dict[str, object] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await ws.send(json.dumps(message))
        try:
            return json.loads(await within(ws.recv(), "the answer to connection_init")), None
        except ConnectionClosed as closed:
            return None, closed.rcvd.code if closed.rcvd else None


async def test_a_valid_token_in_connection_init_is_acknowledged(world: Service) -> None:
    answer, _ = await open_and_init(world, {"authorization": f"Bearer {world.token('staff-anna')}"})
    assert answer == {"type": "connection_ack"}


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"authorization": "Bearer not-a-token"}, {"authorization": 42}],
    ids=["none", "empty", "forged", "wrong-type"],
)
async def test_without_a_valid_token_the_connection_is_closed(
    world: Service, payload: dict[str, object] | None
) -> None:
    answer, code = await open_and_init(world, payload)
    assert answer is None and code == 4403


async def test_a_system_clients_token_is_refused(world: Service) -> None:
    """A record system's client-credentials token is for /fhir: GraphQL's websocket refuses it too."""
    token = world.provider.issue_client_token("journal-vcn", "SE2321000016-VCN", "system/*.read")
    answer, code = await open_and_init(world, {"authorization": f"Bearer {token}"})
    assert answer is None and code == 4403


async def test_an_operation_before_connection_init_is_refused(world: Service) -> None:
    async with connect(ws_url(world), subprotocols=[PROTOCOL], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": "{ me { name } }"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await within(ws.recv(), "the server to close the connection")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
