"""The broker: in this process, and over the real Redis (127.0.0.1:6379) between processes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sip_service.kit.pubsub import Broker, InProcessBroker, RedisBroker

from conftest import GraphQLClient, Service
from helpers import REDIS_URL, instance, plan_with_meetings, signed_in, subscribed, within


async def one_message(subscriber: Broker, publisher: Broker) -> None:
    channel = f"sip:test:{uuid.uuid4()}"
    async with subscriber.subscribe(channel) as messages, subscriber.subscribe(f"{channel}:other") as others:
        await publisher.publish(channel, {"kind": "JOINED", "n": 1})
        assert await within(anext(messages), "the message on its channel") == {"kind": "JOINED", "n": 1}
        await publisher.publish(f"{channel}:other", {"n": 2})
        assert await within(anext(others), "the message on the other channel") == {"n": 2}  # only its own


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
