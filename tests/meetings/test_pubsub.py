"""The broker: in this process, and over the real Redis (127.0.0.1:6379) between processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import uvicorn
from test_invite_links import plan_with_meetings
from test_lobby import signed_in, subscribed

from sip_service.app import create_app
from sip_service.kit.pubsub import Broker, InProcessBroker, RedisBroker

from conftest import GraphQLClient, Service, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


async def one_message(subscriber: Broker, publisher: Broker) -> None:
    channel = f"sip:test:{uuid.uuid4()}"
    async with subscriber.subscribe(channel) as messages, subscriber.subscribe(f"{channel}:other") as others:
        await publisher.publish(channel, {"kind": "JOINED", "n": 1})
        assert await asyncio.wait_for(anext(messages), 5) == {"kind": "JOINED", "n": 1}
        await publisher.publish(f"{channel}:other", {"n": 2})
        assert await asyncio.wait_for(anext(others), 5) == {"n": 2}  # a channel sees only its own


async def test_in_process() -> None:
    broker = InProcessBroker()
    await one_message(broker, broker)
    await broker.close()


async def test_two_redis_brokers_share_a_channel() -> None:
    a, b = RedisBroker(REDIS_URL), RedisBroker(REDIS_URL)  # as two processes would have
    try:
        await one_message(a, b)
    finally:
        await a.close()
        await b.close()


@asynccontextmanager
async def instance(world: Service) -> AsyncIterator[str]:
    """Another process of the service on the same database, with events over Redis."""
    settings = world.settings.model_copy(update={"redis_url": REDIS_URL, "notify_interval_s": 0})
    app = create_app(settings, world.db)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers only this flag)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await app.state.live.broker.close()


async def test_a_signal_sent_through_one_instance_reaches_a_subscriber_on_another(
    gql: GraphQLClient, world: Service
) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    async with (
        instance(world) as a,
        instance(world) as b,
        signed_in(a, world.token("staff-anna")) as anna,
        signed_in(b, world.token("staff-johan")) as johan,
    ):
        anna_events = await subscribed(anna, meeting)
        anna_id = (await anna.run("JoinMeeting", meetingId=meeting))["participantId"]
        await anna_events.expect("JOINED")
        johan_id = (await johan.run("JoinMeeting", meetingId=meeting))["participantId"]
        assert (await anna_events.expect("JOINED"))["fromParticipantId"] == johan_id
        sent = await johan.run(
            "SendSignal", meetingId=meeting, toParticipantId=anna_id, kind="OFFER", payload="v=0\r\n"
        )
        assert sent == {"toParticipantId": anna_id}
        offer = await anna_events.expect("OFFER")
        assert (offer["fromParticipantId"], offer["fromName"]) == (johan_id, "Johan Ek")
