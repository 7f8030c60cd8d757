"""Redis stopped under a running service, and started again (issue 16, "failing well").

Redis carries the live events between processes: plan pages' PlanChanges and the meetings' lobby
and signaling. The test starts a redis-server of its own on a free port, since it stops it. While
it is down: open websockets that need it are closed with 1013 and a reason; what needs it (joining
a meeting, subscribing to a plan's changes) is answered 503 with Retry-After, or closed 1013; plan
reads and writes, which do not need it, go on; /readyz says Redis is down; the log has one line.
When it is back everything works again by itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from test_outage import assert_unavailable, closed_with, plan_page

from sip_service.api.plan_live import feeds_for
from sip_service.kit.db import Database
from sip_service.kit.outage import BROKER_DOWN_REASON, TRY_AGAIN_LATER, BrokerUnavailable
from sip_service.kit.pubsub import Message, RedisBroker
from sip_service.video import channel
from sip_service.video.rooms import MediaRoom, RoomServer

from conftest import GraphQLClient, Service, free_port, op, redis_answers
from helpers import WAIT_S, plan_with_meetings, serving, signed_in, staff, subscribed, until, within


class RedisServer:
    """A redis-server of the test's own on a free port, stopped and started again on that port."""

    def __init__(self) -> None:
        found = shutil.which("redis-server")
        if found is None:
            pytest.fail("redis-server is not installed (tests/prerequisites.sh)")
        self.program, self.port = found, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = await asyncio.to_thread(
            subprocess.Popen,
            [self.program, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )

        async def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, "redis-server exited"
            return redis_answers(self.url)

        await until(answers, f"redis-server to answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash would: no goodbye to the clients
            self.process.wait(timeout=WAIT_S)
            self.process = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


async def test_redis_down_closes_live_sockets_answers_503_where_needed_and_recovers(
    gql: GraphQLClient, world: Service, caplog: pytest.LogCaptureFixture
) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    plan_id, meeting = setup.plan_id, setup.meetings[0]["id"]
    johan = await staff(world, "Johan")
    tokens: dict[str, str] = {}

    def token(sub: str) -> str:  # one token each: the principal cache knows it after one use
        return tokens.setdefault(sub, world.token(sub))

    with redis_server() as redis:
        await redis.start()
        async with (
            serving(world, redis_url=redis.url) as running,
            httpx.AsyncClient(base_url=running.url, timeout=WAIT_S) as http,
        ):

            async def post(name: str, variables: dict[str, Any], sub: str = "staff-anna") -> httpx.Response:
                body = {"query": op(name), "variables": variables}
                return await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {token(sub)}"})

            async def add_action(description: str) -> int:
                version = (await post("PlanDetail", {"id": plan_id})).json()["data"]["plan"]["version"]
                action = {"description": description, "responsibleOrganisationId": str(johan.organisation_id)}
                added = await post("AddAction", {"planId": plan_id, "expectedVersion": version, "input": action})
                assert added.status_code == 200 and "errors" not in added.json(), added.text
                new_version: int = added.json()["data"]["addAction"]["plan"]["version"]
                return new_version

            async def watching() -> bool:
                return feeds_for(running.broker, world.db).watching(uuid.UUID(plan_id)) == 1

            async def a_change_is_heard(what: str) -> None:
                async with plan_page(running.url, token("staff-anna"), plan_id) as page:
                    await until(watching, f"{what}: the page's planChanges subscription")
                    version = await add_action(what)
                    heard = json.loads(await within(page.recv(), f"{what}: the change on the page"))
                    assert heard["type"] == "next" and heard["payload"]["data"]["planChanges"]["version"] == version

            # Up: a change reaches an open page; Anna waits in the meeting's events.
            await a_change_is_heard("before")
            ready = await http.get("/readyz")
            assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "media": "ok"}}, (
                ready.text
            )
            async with (
                plan_page(running.url, token("staff-anna"), plan_id) as page,
                signed_in(running.url, token("staff-anna")) as anna,
            ):
                await subscribed(anna, meeting)
                await until(watching, "the open page's planChanges subscription")

                caplog.clear()
                caplog.set_level(logging.WARNING)
                redis.stop()
                # Open websockets that need Redis: closed, 1013 with a reason, rather than left hanging.
                assert await closed_with(page, "the plan page's socket") == (TRY_AGAIN_LATER, BROKER_DOWN_REASON)
                assert await closed_with(anna.ws, "the meeting socket", read=False) == (
                    TRY_AGAIN_LATER,
                    BROKER_DOWN_REASON,
                )

                for _round in range(2):  # the second round: nothing more in the log
                    # What needs Redis: 503, GraphQL-shaped, with Retry-After; nothing written.
                    joined = await post("JoinMeeting", {"meetingId": meeting}, "staff-johan")
                    assert_unavailable(joined, "joinMeeting")
                    async with plan_page(running.url, token("staff-johan"), plan_id) as late:
                        closed = await closed_with(late, "a page subscribing while Redis is down")
                        assert closed == (TRY_AGAIN_LATER, BROKER_DOWN_REASON)
                    # Plan reads and writes do not need Redis: acknowledged as ever.
                    await add_action(f"while Redis is down, round {_round}")
                    ready = await http.get("/readyz")
                    assert ready.status_code == 503 and ready.headers["retry-after"].isdigit(), ready.text
                    checks = ready.json()["checks"]
                    assert checks["database"] == "ok" and checks["redis"].startswith("unavailable"), checks
                said = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
                assert len(said) == 1 and said[0][:2] == ("sip_service.outage", "WARNING"), said
                assert said[0][2].startswith("Redis unavailable"), said

            await redis.start()
            # Back: the very next requests that need Redis succeed, with no retry by the client.
            joined = await post("JoinMeeting", {"meetingId": meeting}, "staff-johan")
            assert joined.status_code == 200 and "errors" not in joined.json(), joined.text
            await a_change_is_heard("after")  # new subscriptions work, and changes reach them
            async with signed_in(running.url, token("staff-anna")) as anna:
                events = await subscribed(anna, meeting)
                await anna.run("JoinMeeting", meetingId=meeting)
                assert (await events.expect("JOINED"))["fromName"] == "Anna Lind"
            assert (await http.get("/readyz")).status_code == 200
            told = [(r.name, r.getMessage()) for r in caplog.records]
            assert told[1:] == [("sip_service.outage", "Redis available again")], told


class Heard(MediaRoom):
    """A media room that only notes the CONNECTs it is given."""

    @property
    def empty(self) -> bool:
        return False

    @property
    def participant_count(self) -> int:
        return 0

    async def closing(self) -> set[asyncio.Task[None]]:
        return set()

    async def connect(self, message: Message) -> None:
        assert isinstance(self.server, Hearing)
        self.server.heard.append(self.meeting_id)

    async def answer(self, message: Message) -> None: ...

    async def candidate(self, message: Message) -> None: ...

    async def left(self, participant_id: str) -> None: ...


class Hearing(RoomServer[Heard]):
    def __init__(self, broker: RedisBroker) -> None:
        super().__init__(cast(Database, None), broker)  # these rooms write nothing
        self.heard: list[uuid.UUID] = []

    def new_room(self, meeting_id: uuid.UUID) -> Heard:
        return Heard(self, meeting_id)


async def test_the_media_server_hears_its_channel_again_after_redis_was_away() -> None:
    with redis_server() as redis:
        await redis.start()
        broker = RedisBroker(redis.url)
        server = Hearing(broker)
        await server.start()
        try:

            async def connect_heard(meeting_id: uuid.UUID, what: str) -> None:
                await broker.publish(channel.MEDIA_CHANNEL, {"kind": channel.CONNECT, "meeting": str(meeting_id)})

                async def heard() -> bool:
                    return meeting_id in server.heard

                await until(heard, what)

            await connect_heard(uuid.uuid4(), "a CONNECT before the outage")
            redis.stop()
            outages = broker.outages
            assert outages is not None

            async def noticed() -> bool:
                return outages.down

            await until(noticed, "the media server's subscription to notice Redis gone")
            await redis.start()

            async def subscribed_again() -> bool:
                with contextlib.suppress(BrokerUnavailable):
                    return await broker.subscribers(channel.MEDIA_CHANNEL) == 1
                return False

            await until(subscribed_again, "the media server to subscribe to its channel again")
            await connect_heard(uuid.uuid4(), "a CONNECT after the outage")
        finally:
            await server.stop()
            await broker.close()
