"""Meetings on Janus (SIP_MEDIA_BACKEND=janus): a real Janus started on loopback with the test's own
configuration (media_servers.janus), the service running its rooms (video/janus_rooms.py), and aiortc
peers signalled over the service's websocket as browsers are, publishing on a connection of their own.

Every wait is for a condition with a deadline (media_peers.WAIT_S), never a pause."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aioice.ice
import httpx
import pytest
from media_peers import WAIT_S, MediaPeer
from pydantic import SecretStr, ValidationError

from sip_service.app import create_app
from sip_service.settings import MediaBackend, Settings
from sip_service.video.janus import UNAUTHORIZED, Handle, JanusError, Session, VideoRoom
from sip_service.video.janus_rooms import JanusRelay

from conftest import GraphQLClient, Service
from helpers import Setup, guest_token, plan_with_meetings, serving, signed_in, subscribed
from media_servers import Janus, janus, janus_server, start_janus, stop

__all__ = ["janus"]  # the fixture (media_servers.py)

ATTENDANCE = """query($id: UUID!) { plan(id: $id) {
  meetings { id attendances { participantId method joinedAt leftAt } }
} }"""


@pytest.fixture
def peers_on_janus_address(janus: Janus, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test peers' ICE on the address Janus's ICE listens on (not loopback: Janus skips it)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [janus.address])


async def until(what: str, check: Callable[[], Awaitable[Any]], within: float = WAIT_S) -> Any:
    deadline = time.monotonic() + within
    while not (result := await check()):
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.1)
    return result


@asynccontextmanager
async def control(janus: Janus) -> AsyncIterator[tuple[Session, Handle]]:
    session = await Session.create(janus.url)
    try:
        yield session, await session.attach()
    finally:
        await session.destroy()


async def test_a_room_lets_in_only_the_tokens_its_owner_allowed(janus: Janus) -> None:
    """What keeps anyone who reaches Janus's API out of a meeting's room: creating one takes the
    admin key; joining takes the PIN and a token on the allowed list; a kicked and disallowed
    participant cannot come back; a destroyed room is gone."""
    async with control(janus) as (session, owner):
        with pytest.raises(JanusError) as refused:
            await VideoRoom.create(owner, "no admin key")
        assert "admin_key" in refused.value.reason
        with pytest.raises(JanusError) as refused:
            await VideoRoom.create(owner, "a wrong admin key", "guessed")
        assert refused.value.code == UNAUTHORIZED
        room = await VideoRoom.create(owner, "meeting", janus.admin_key)
        someone = await session.attach()

        async def join(**how: Any) -> dict[str, Any]:
            data, _ = await someone.send({"request": "join", "ptype": "publisher", "room": room.id} | how)
            return data

        for how in ({"pin": room.pin}, {"pin": room.pin, "token": "guessed"}, {"pin": "wrong", "token": "t1"}):
            with pytest.raises(JanusError) as refused:
                await join(**how)
            assert refused.value.code == UNAUTHORIZED, how
        await room.allow("t1")
        joined = await join(pin=room.pin, token="t1")
        assert [p["id"] for p in await room.participants()] == [joined["id"]]

        await room.disallow("t1")
        await room.kick(joined["id"])
        assert await room.participants() == []
        again = await session.attach()
        with pytest.raises(JanusError) as refused:
            await again.send({"request": "join", "ptype": "publisher", "room": room.id, "pin": room.pin, "token": "t1"})
        assert refused.value.code == UNAUTHORIZED
        await room.destroy()
        assert not await room.exists()


def test_the_janus_backend_needs_a_janus() -> None:
    with pytest.raises(ValidationError, match="SIP_JANUS_URLS"):
        Settings(media_backend=MediaBackend.JANUS)
    assert Settings().media_backend is MediaBackend.AIORTC  # the embedded relay unless told


@asynccontextmanager
async def on_janus(world: Service, janus: Janus, *more: Janus) -> AsyncIterator[tuple[str, JanusRelay]]:
    """The service with SIP_MEDIA_BACKEND=janus (on these instances); its Janus rooms run here, as a
    `sip-service media` worker would run them, on the instance's broker."""
    changed = {
        "media_backend": MediaBackend.JANUS,
        "janus_urls": [j.url for j in (janus, *more)],
        "janus_admin_key": SecretStr(janus.admin_key),
    }
    async with serving(world, media_in_process=False, **changed) as instance:
        relay = JanusRelay(instance.app.state.settings, world.db, instance.broker)
        await relay.start()
        try:
            yield instance.url, relay
        finally:
            await relay.stop()


@asynccontextmanager
async def meeting_room(gql: GraphQLClient, world: Service, url: str, setup: Setup) -> AsyncIterator[list[MediaPeer]]:
    """Anna and Johan (staff) in the room, Elsa (the patient, by her invite link) admitted from the
    lobby; nobody has connected media yet."""
    meeting = setup.meetings[0]["id"]
    async with AsyncExitStack() as stack:

        async def enter(bearer: str) -> MediaPeer:
            socket = await stack.enter_async_context(signed_in(url, bearer))
            peer = MediaPeer(socket, await subscribed(socket, meeting), meeting, "")
            peer.separate = True
            stack.push_async_callback(peer.close)
            return peer

        anna = await enter(world.token("staff-anna"))
        anna.id = (await anna.run("JoinMeeting"))["participantId"]
        johan = await enter(world.token("staff-johan"))
        johan.id = (await johan.run("JoinMeeting"))["participantId"]
        # Her invite link exchanged at this instance: its meeting tokens are its own
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        elsa = await enter(await guest_token(GraphQLClient(http, world), setup, setup.patient))
        elsa.id = setup.patient
        assert (await elsa.run("JoinMeeting"))["state"] == "WAITING"
        refused = await elsa.connect()  # waiting in the lobby: no media, and nothing of hers reaches Janus
        assert refused["code"] == "FORBIDDEN", refused
        await anna.expect("WAITING")
        await anna.run("AdmitToMeeting", participantId=setup.patient)
        await elsa.expect("ADMITTED")
        yield [anna, johan, elsa]


async def attendances(gql: GraphQLClient, setup: Setup) -> list[dict[str, Any]]:
    plan = (await gql(ATTENDANCE, {"id": setup.plan_id}, as_="staff-anna"))["plan"]
    found: list[dict[str, Any]] = next(m for m in plan["meetings"] if m["id"] == setup.meetings[0]["id"])["attendances"]
    return found


@pytest.mark.usefixtures("peers_on_janus_address")
async def test_participants_see_and_hear_each_other_through_janus(
    gql: GraphQLClient, world: Service, janus: Janus
) -> None:
    """Everyone publishes and decodes everyone else's audio and video, forwarded by Janus, as people
    come and go; attendance opens from Janus's events; staff removing Elsa kicks her out of the Janus
    room (and closes her attendance); the last one leaving destroys the room.

    Not here: someone connecting again in full. Janus then gives the m-lines that carried their old
    feed (inactive since) to their new one, and an aiortc receiver, once inactive, never receives
    again (browsers do)."""
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    async with on_janus(world, janus) as (url, relay), meeting_room(gql, world, url, setup) as (anna, johan, elsa):
        for peer in (anna, elsa):
            assert "mediaServerId" in await peer.connect()
        await anna.receives(elsa)
        await elsa.receives(anna)
        assert {who for who, _ in anna.frames} == {elsa.id} and {who for who, _ in elsa.frames} == {anna.id}
        room = relay.rooms[uuid_of(setup)]
        video = room.video
        assert video is not None

        # A third comes: everyone gets everyone.
        assert "mediaServerId" in await johan.connect()
        for me in (anna, johan, elsa):
            await me.receives(*[p for p in (anna, johan, elsa) if p is not me])
        assert len(await video.participants()) == 3

        async def open_rows() -> set[str]:
            rows = await attendances(gql, setup)
            return {a["participantId"] for a in rows if a["method"] == "MEDIA" and not a["leftAt"]}

        everyone = {anna.id, johan.id, elsa.id}
        assert await until("everyone attends, from Janus's events", lambda: _equals(open_rows, everyone))

        # Johan leaves: the others are offered connections without him.
        await johan.run("LeaveMeeting")
        assert await until("Anna answered Janus's offer without Johan", lambda: _gone(anna, johan))
        assert await until("Elsa answered Janus's offer without Johan", lambda: _gone(elsa, johan))
        await anna.receives(elsa)

        await anna.run("RemoveFromMeeting", participantId=elsa.id)
        assert await until("Elsa kicked out of the Janus room", lambda: _count(video.participants, 1))
        assert await until("Elsa's and Johan's attendance closes", lambda: _equals(open_rows, {anna.id}))
        assert await until("Anna answered Janus's offer without Elsa", lambda: _gone(anna, elsa))

        await anna.run("LeaveMeeting")
        assert await until("the room destroyed when the last one left", lambda: _not(video.exists))
        assert uuid_of(setup) not in relay.rooms
        assert await until("Anna's attendance closes", lambda: _equals(open_rows, set()))


@pytest.mark.usefixtures("peers_on_janus_address")
async def test_a_cancelled_meeting_closes_its_janus_room(gql: GraphQLClient, world: Service, janus: Janus) -> None:
    """Staff cancel the meeting while Anna and Elsa are in its Janus room, seeing each other: their
    handles go, the room is destroyed, their attendance closes; the relay forgets the meeting."""
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    async with on_janus(world, janus) as (url, relay), meeting_room(gql, world, url, setup) as (anna, _, elsa):
        for peer in (anna, elsa):
            assert "mediaServerId" in await peer.connect()
        await anna.receives(elsa)
        await elsa.receives(anna)
        room = relay.rooms[uuid_of(setup)]
        video, members = room.video, list(room.members.values())
        assert video is not None and len(await video.participants()) == 2

        async def open_rows() -> set[str]:
            rows = await attendances(gql, setup)
            return {a["participantId"] for a in rows if a["method"] == "MEDIA" and not a["leftAt"]}

        assert await until("both attend, from Janus's events", lambda: _equals(open_rows, {anna.id, elsa.id}))

        plan = (await gql(MEETING_VERSIONS, {"id": setup.plan_id}, as_="staff-anna"))["plan"]
        version = next(m["version"] for m in plan["meetings"] if m["id"] == setup.meetings[0]["id"])
        cancelled = await anna.run("CancelMeeting", expectedVersion=version)
        assert cancelled["status"] == "CANCELLED", cancelled
        for peer in (anna, elsa):  # their pages say "Mötet är avslutat."
            await peer.expect("CLOSED")
        assert await until("the room destroyed", lambda: _not(video.exists))
        assert uuid_of(setup) not in relay.rooms
        assert all(m.closed for m in members) and not room.members
        assert await until("their attendance closes", lambda: _equals(open_rows, set()))
        for member in members:  # their handles detached: Janus no longer knows them
            for handle in (member.publisher, member.subscriber):
                assert handle is not None
                with pytest.raises(JanusError):
                    await handle.send({"request": "list"})
        refused = await anna.connect()  # and the meeting cannot be joined on Janus again
        assert "mediaServerId" not in refused, refused
        assert uuid_of(setup) not in relay.rooms


MEETING_VERSIONS = """query($id: UUID!) { plan(id: $id) { meetings { id version } } }"""


def uuid_of(setup: Setup) -> uuid.UUID:
    return uuid.UUID(setup.meetings[0]["id"])


async def _equals(read: Callable[[], Awaitable[Any]], wanted: Any) -> bool:
    return bool(await read() == wanted)


async def _count(read: Callable[[], Awaitable[list[Any]]], n: int) -> bool:
    return len(await read()) == n


async def _gone(peer: MediaPeer, other: MediaPeer) -> bool:
    """The peer answered an offer whose MEDIA_TRACKS no longer name the other."""
    return not any(who == other.id for who, _ in peer.mapping.values())


async def _not(read: Callable[[], Awaitable[bool]]) -> bool:
    return not await read()


@pytest.mark.usefixtures("peers_on_janus_address")
async def test_a_meeting_whose_janus_dies_goes_on_on_another(
    gql: GraphQLClient, world: Service, janus: Janus, tmp_path: Path
) -> None:
    """Two instances; the meeting is on the first (the least loaded, first named). It is killed: the
    service notices within seconds and forgets the meeting there; the participants connect again (as
    the page does when its connections fail) and see each other through the other instance."""
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    with janus_server(tmp_path, janus.admin_key) as (doomed, process):
        async with (
            on_janus(world, doomed, janus) as (url, relay),
            meeting_room(gql, world, url, setup) as (anna, _, elsa),
        ):
            for peer in (anna, elsa):
                assert "mediaServerId" in await peer.connect()
            await anna.receives(elsa)
            await elsa.receives(anna)
            assert relay.rooms[uuid_of(setup)].instance.url == doomed.url

            process.kill()
            killed = time.monotonic()
            assert await until(
                "the meeting forgotten with its Janus", lambda: _async(uuid_of(setup) not in relay.rooms)
            )
            for peer in (anna, elsa):  # told at once, so that their pages say so and connect again
                lost = await peer.expect("MEDIA_LOST")
                assert lost["toParticipantId"] == peer.id, lost
            for peer in (anna, elsa):
                assert "mediaServerId" in await peer.connect()
            await anna.receives(elsa)
            await elsa.receives(anna)
            moved = time.monotonic() - killed
            assert relay.rooms[uuid_of(setup)].instance.url == janus.url
            assert moved < 30, moved
            print(f"killed Janus → both decoding each other on the other: {moved:.1f} s")

            # Attendance: the rows closed with the lost instance; new ones open on the other.
            async def rows() -> list[dict[str, Any]]:
                return [a for a in await attendances(gql, setup) if a["method"] == "MEDIA"]

            async def closed_and_open_again() -> bool:
                found = await rows()
                return all(
                    sorted(bool(a["leftAt"]) for a in found if a["participantId"] == who) == [False, True]
                    for who in (anna.id, elsa.id)
                )

            assert await until("each one's first row closed, a new one open", closed_and_open_again)

            # The instance comes back: the service has a session with it again (new meetings may go there).
            doomed_port = int(doomed.url.split(":")[2].split("/")[0])
            back = start_janus(tmp_path, doomed_port)
            try:
                assert await until("the instance answers again", lambda: _async(relay.instances[0].alive))
                assert relay.place() is relay.instances[0]  # it carries no meeting now: the next goes there
            finally:
                stop(back)


async def _async(value: bool) -> bool:
    return value


async def test_readyz_names_the_janus_instance_that_is_down(tmp_path: Path) -> None:
    """/readyz asks each Janus instance for its `info`: both answer → 200; the first killed → still
    200 (meetings go to the other), naming janus1 as down; both killed → 503, media unavailable."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with janus_server(tmp_path / "one") as (one, first), janus_server(tmp_path / "two") as (two, second):
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'ready.sqlite3'}",
            dev_oidc_key_file=tmp_path / "key.json",
            notify_interval_s=0,
            media_backend=MediaBackend.JANUS,
            janus_urls=[one.url, two.url],
        )
        app = create_app(settings)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["checks"] == {"database": "ok", "media": "ok", "janus1": "ok", "janus2": "ok"}

                first.kill()
                first.wait()
                ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
                checks = ready.json()["checks"]
                assert checks["media"] == "ok" and checks["janus2"] == "ok", checks
                assert checks["janus1"].startswith("unavailable"), checks
                assert one.url not in ready.text  # which one, by its place in SIP_JANUS_URLS, not its address

                second.kill()
                second.wait()
                started = time.monotonic()
                ready = await http.get("/readyz")
                assert time.monotonic() - started < 5, "each instance is asked with a short timeout"
                assert ready.status_code == 503 and ready.headers["retry-after"].isdigit(), ready.text
                checks = ready.json()["checks"]
                assert checks["media"].startswith("unavailable"), checks
                assert checks["janus1"].startswith("unavailable") and checks["janus2"].startswith("unavailable")
                assert checks["database"] == "ok", checks
        finally:
            await app.state.live.broker.close()
            await app.state.db.dispose()
