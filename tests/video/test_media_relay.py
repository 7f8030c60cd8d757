"""The media relay (SFU) with real peers: aiortc clients on loopback UDP that send a moving picture and
a tone through the running service, signalled over its websocket as a browser is.

A machine busy with other work makes all of this slower, never different: each step waits for what it
needs (with a generous deadline, saying what it waited for), and the signal limit is checked with the
limits' clock stopped, so that its window cannot slide while the test runs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import aioice.ice
import httpx
import pytest
from media_peers import FPS, MEDIA_SERVER, WAIT_S, MediaPeer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from typer.testing import CliRunner

from sip_service import cli
from sip_service.kit import clock, ratelimit
from sip_service.kit.pubsub import RedisBroker
from sip_service.meetings import lobby
from sip_service.models.audit import AuditEvent
from sip_service.video import aiortc_private
from sip_service.video.sfu import Sfu

from conftest import GraphQLClient, Service
from helpers import REDIS_URL, Setup, guest_token, instance, plan_with_meetings, serving, signed_in, subscribed

ATTENDANCE = """query($id: UUID!) { plan(id: $id) {
  readiness { blockers { code } }
  meetings { id attendances { participantId method joinedAt leftAt } }
} }"""


@pytest.fixture(autouse=True)
def patient_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Here the peers and the relay share one process. A connection stays up while the other end
    answers aioice's consent checks (RFC 7675: one every 5 s, each answered within 0.5 s, six missed
    in a row close it). On a machine busy with other work that process's event loop can fall that
    far behind for half a minute (the flood of signals below takes that long there), though no
    network is involved. Consent then gets a generous deadline too: two minutes, not thirty seconds."""
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 24)


@asynccontextmanager
async def room(gql: GraphQLClient, world: Service, setup: Setup) -> AsyncIterator[dict[str, MediaPeer]]:
    """Anna (staff) and Johan (staff) in the room, Elsa (the patient, by her invite link) admitted
    from the lobby; nobody has connected media yet."""
    meeting = setup.meetings[0]["id"]
    async with AsyncExitStack() as stack:
        peers: dict[str, MediaPeer] = {}

        async def enter(name: str, bearer: str, participant: str) -> MediaPeer:
            socket = await stack.enter_async_context(signed_in(world.url, bearer))
            peer = peers[name] = MediaPeer(socket, await subscribed(socket, meeting), meeting, participant)
            stack.push_async_callback(peer.close)
            return peer

        anna = await enter("anna", world.token("staff-anna"), "")
        anna.id = (await anna.run("JoinMeeting"))["participantId"]
        johan = await enter("johan", world.token("staff-johan"), "")
        johan.id = (await johan.run("JoinMeeting"))["participantId"]
        elsa = await enter("elsa", await guest_token(gql, setup, setup.patient), setup.patient)
        assert (await elsa.run("JoinMeeting"))["state"] == "WAITING"
        # Waiting in the lobby is not being in the room: no media.
        refused = await elsa.connect()
        assert refused["code"] == "FORBIDDEN", refused
        await anna.expect("WAITING")
        await anna.run("AdmitToMeeting", participantId=setup.patient)
        await elsa.expect("ADMITTED")
        yield peers


async def connect_all(*peers: MediaPeer) -> None:
    for peer in peers:
        assert "mediaServerId" in await peer.connect()


async def attendances(gql: GraphQLClient, setup: Setup) -> tuple[list[dict[str, Any]], list[str]]:
    plan = (await gql(ATTENDANCE, {"id": setup.plan_id}, as_="staff-anna"))["plan"]
    meeting = next(m for m in plan["meetings"] if m["id"] == setup.meetings[0]["id"])
    return meeting["attendances"], [b["code"] for b in plan["readiness"]["blockers"]]


async def until(what: str, check: Any, within: float = WAIT_S) -> Any:
    """Poll an async check until it returns something truthy; fail, saying what for, at the deadline.
    A poll that did not get through (a kept-alive connection the server closed as the client reused
    it, on a machine that stalled) is a poll that found nothing yet: the check only reads."""
    deadline = time.monotonic() + within
    failed: httpx.TransportError | None = None
    while True:
        try:
            if result := await check():
                return result
        except httpx.TransportError as exc:
            failed = exc
        assert time.monotonic() < deadline, f"not within {within} s: {what}" + (
            f" (the last poll that failed: {failed!r})" if failed else ""
        )
        await asyncio.sleep(0.2)


async def test_three_participants_see_and_hear_each_other_and_attend(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    async with room(gql, world, setup) as peers:
        anna, johan, elsa = peers["anna"], peers["johan"], peers["elsa"]
        _, blockers = await attendances(gql, setup)
        assert "PATIENT_ATTENDED" in blockers
        await connect_all(anna, johan, elsa)
        for me in (anna, johan, elsa):
            others = [p for p in (anna, johan, elsa) if p is not me]
            await me.receives(*others)
        # MEDIA_TRACKS names who each m-line carries: never yourself, each other's audio and video.
        assert sorted(elsa.mapping.values()) == sorted((p.id, m) for p in (anna, johan) for m in ("audio", "video"))
        tracks = await elsa.expect("MEDIA_TRACKS")
        assert tracks["fromName"] == lobby.MEDIA_SERVER_NAME
        # /metrics: one meeting with its three in the room, on this process's relay.
        wanted = {
            ("sip_media_rooms", ()): 1,
            ("sip_media_participants", ()): 3,
            ("sip_meetings_in_progress", ()): 1,
            ("sip_meeting_participants", (("presence", "IN_ROOM"),)): 3,
            ("sip_meeting_participants", (("presence", "WAITING"),)): 0,
        }

        async def figures() -> bool:
            text = (await gql.http.get("/metrics")).text
            got = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
            }
            # … and the media's bytes through the relay (their rate is the bitrate), in and out
            flowing = all(
                got.get((f"sip_media_{direction}_bytes_total", (("kind", kind),)), 0) > 0
                for direction in ("received", "sent")
                for kind in ("audio", "video")
            )
            return flowing and all(got.get(k) == v for k, v in wanted.items())

        await until("the meeting in /metrics", figures)

        # Her media arrived: she attended, and the plan no longer waits for that.
        rows, blockers = await until("elsa's attendance", lambda: _rows_of(gql, setup, setup.patient))
        assert [(r["method"], r["leftAt"]) for r in rows] == [("MEDIA", None)] and rows[0]["joinedAt"]
        assert "PATIENT_ATTENDED" not in blockers

        # She leaves: her media stops for the others, and her attendance closes.
        await elsa.run("LeaveMeeting")
        await elsa.disconnect()
        await until("elsa's attendance closed", lambda: _closed(gql, setup, setup.patient, 1))
        await until(
            "anna's offer without elsa", lambda: _async(all(who != elsa.id for who, _ in anna.mapping.values()))
        )
        await anna.receives(johan)

        # She comes back (admitted once, in without waiting) with a new connection: all flows again.
        assert (await elsa.run("JoinMeeting"))["state"] == "IN_ROOM"
        await connect_all(elsa)
        await elsa.receives(anna, johan)
        await anna.receives(elsa, johan)
        await johan.receives(elsa, anna)
        rows, _ = await until("elsa's second attendance", lambda: _rows_of(gql, setup, setup.patient, count=2))
        assert rows[0]["leftAt"] and rows[1]["leftAt"] is None, rows
        staff_rows = await until("anna's and johan's attendance", lambda: _staff_rows(gql, setup, 2))
        assert {r["method"] for r in staff_rows} == {"MEDIA"} and len(staff_rows) == 2, staff_rows
        # Each opening and closing is in the audit trail, by the participant, recorded by the system.
        async with world.db.read() as s:
            audited = (
                await s.execute(
                    select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.auth_method).where(
                        AuditEvent.plan_id == uuid.UUID(setup.plan_id), AuditEvent.action.startswith("attendance.")
                    )
                )
            ).all()
        mine = sorted(a for a, actor, method in audited if actor == "Elsa Andersson" and method == "SYSTEM")
        assert mine == ["attendance.media", "attendance.media", "attendance.mediaEnd"], audited
        # The relay forwards every picture as it was sent (15 a second), by the pictures' own
        # timestamps: how fast a busy machine decodes them does not enter into it.
        rate, pictures = anna.picture_rate(johan)
        assert pictures >= 2 * FPS and 0.93 * FPS <= rate <= 1.07 * FPS, (rate, pictures)


async def test_media_that_stops_ends_attendance_and_pictures_arrive_as_sent(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    async with AsyncExitStack() as stack:
        peers = []
        for who in ("staff-anna", "staff-johan"):
            socket = await stack.enter_async_context(signed_in(world.url, world.token(who)))
            peer = MediaPeer(socket, await subscribed(socket, meeting), meeting, "")
            stack.push_async_callback(peer.close)
            peer.id = (await peer.run("JoinMeeting"))["participantId"]
            peers.append(peer)
        anna, johan = peers
        anna.picture = (960, 720)
        await connect_all(anna, johan)
        await johan.receives(anna)
        await anna.receives(johan)
        # Forwarded, not made again: each picture as its camera made it (the page asks for 640×480).
        assert johan.sizes[anna.id] == (960, 720)
        assert anna.sizes[johan.id] == (320, 240)

        # Her camera and microphone stop; the connection stays. After a few seconds she is not there.
        anna.pause()
        await until("anna's attendance closed", lambda: _closed(gql, setup, anna.id, 1))
        await anna.receives(johan)  # she still gets the others
        anna.resume()
        await johan.receives(anna)
        rows, _ = await until("anna's second attendance", lambda: _rows_of(gql, setup, anna.id, count=2))
        assert rows[0]["leftAt"] and rows[1]["leftAt"] is None, rows


MEETING_VERSIONS = """query($id: UUID!) { plan(id: $id) { meetings { id version } } }"""


async def test_a_cancelled_meeting_closes_its_room_on_the_relay(gql: GraphQLClient, world: Service) -> None:
    """Staff cancel the meeting while Anna and Elsa are in its room on the embedded relay, seeing each
    other: both are told (CLOSED, what their pages say "Mötet är avslutat." on), the relay closes their
    peer connections and forgets the room, their attendance closes, and no media connects again."""
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    async with AsyncExitStack() as stack:
        running = await stack.enter_async_context(serving(world, media_in_process=False))
        relay = Sfu(running.app.state.settings, world.db, running.broker)  # as the process would run it
        await relay.start()
        stack.push_async_callback(relay.stop)

        async def enter(bearer: str, participant: str) -> MediaPeer:
            socket = await stack.enter_async_context(signed_in(running.url, bearer))
            peer = MediaPeer(socket, await subscribed(socket, meeting), meeting, participant)
            stack.push_async_callback(peer.close)
            return peer

        anna = await enter(world.token("staff-anna"), "")
        anna.id = (await anna.run("JoinMeeting"))["participantId"]
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=running.url, timeout=30))
        elsa = await enter(await guest_token(GraphQLClient(http, world), setup, setup.patient), setup.patient)
        assert (await elsa.run("JoinMeeting"))["state"] == "WAITING"
        await anna.run("AdmitToMeeting", participantId=setup.patient)
        await elsa.expect("ADMITTED")
        await connect_all(anna, elsa)
        await anna.receives(elsa)
        await elsa.receives(anna)
        room = relay.rooms[uuid.UUID(meeting)]
        peers = list(room.peers.values())
        assert len(peers) == 2

        async def open_rows() -> set[str]:
            rows, _ = await attendances(gql, setup)
            return {a["participantId"] for a in rows if a["method"] == "MEDIA" and not a["leftAt"]}

        await until("both attend", lambda: _equals(open_rows, {anna.id, elsa.id}))

        plan = (await gql(MEETING_VERSIONS, {"id": setup.plan_id}, as_="staff-anna"))["plan"]
        version = next(m["version"] for m in plan["meetings"] if m["id"] == meeting)
        cancelled = await anna.run("CancelMeeting", expectedVersion=version)
        assert cancelled["status"] == "CANCELLED", cancelled
        for peer in (anna, elsa):  # told, whoever they are
            told = await peer.expect("CLOSED")
            assert told["fromParticipantId"] == str(MEDIA_SERVER) and told["toParticipantId"] is None, told
        await until("the room gone from the relay", lambda: _async(uuid.UUID(meeting) not in relay.rooms))
        await until("their connections closed", lambda: _async(all(p.pc.connectionState == "closed" for p in peers)))
        assert room.done and not room.peers
        await until("their attendance closed", lambda: _equals(open_rows, set()))
        refused = await anna.connect()  # the meeting takes no media any more
        assert "mediaServerId" not in refused, refused
        assert uuid.UUID(meeting) not in relay.rooms


async def _equals(read: Any, wanted: Any) -> bool:
    return bool(await read() == wanted)


def _video_arrived(relay: Sfu, participant: str) -> bool:
    peers = [room.peers.get(participant) for room in relay.rooms.values()]
    return any(p is not None and "video" in p.sources and p.presence.present for p in peers)


async def _async(value: bool) -> bool:
    return value


async def _rows_of(
    gql: GraphQLClient, setup: Setup, participant: str, count: int = 1
) -> tuple[list[dict[str, Any]], list[str]] | None:
    """The participant's attendance rows (oldest first) and the plan's blockers, once there are `count`."""
    rows, blockers = await attendances(gql, setup)
    mine = [r for r in rows if r["participantId"] == participant]
    return (mine, blockers) if len(mine) >= count else None


async def _staff_rows(gql: GraphQLClient, setup: Setup, count: int) -> list[dict[str, Any]] | None:
    """The staff's attendance rows, once there are `count`."""
    rows = [r for r in (await attendances(gql, setup))[0] if r["participantId"] != setup.patient]
    return rows if len(rows) >= count else None


async def _closed(gql: GraphQLClient, setup: Setup, participant: str, count: int) -> bool:
    found = await _rows_of(gql, setup, participant)
    return found is not None and len(found[0]) == count and all(r["leftAt"] for r in found[0])


async def test_bad_input_harms_only_its_sender(
    gql: GraphQLClient, world: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rate limits' clock stands still: every signal of this test falls in one window of the limit,
    # however long the test takes (a window that slid on a slow machine would let the flood through).
    # Only theirs: the relay's own timing (keyframe requests, a receiver's video paused after loss and
    # tried again) needs time to pass, or a picture lost on a busy machine would never be replaced.
    limits_clock = SimpleNamespace(now=clock.monotonic())
    monkeypatch.setattr(ratelimit, "clock", SimpleNamespace(monotonic=lambda: limits_clock.now))
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10), timedelta(minutes=20))
    async with room(gql, world, setup) as peers:
        anna, johan, elsa = peers["anna"], peers["johan"], peers["elsa"]
        await connect_all(anna, johan)
        await anna.receives(johan)
        await johan.receives(anna)

        # A malformed answer: the relay drops her connection, and only hers.
        elsa.bad_answers = True
        await connect_all(elsa)
        # Relayed: the relay hears it before her next ConnectMedia (one channel, in order).
        await until("elsa's bad answer relayed", lambda: _async(elsa.bad_answers_sent >= 1))
        await anna.receives(johan)
        await johan.receives(anna)
        # Her next try, in full, works.
        elsa.bad_answers = False
        await connect_all(elsa)
        await elsa.receives(anna, johan)
        await anna.receives(elsa)

        # A candidate that is no candidate is ignored; one for another meeting is not found.
        nonsense = await anna.run("SendSignal", toParticipantId=MEDIA_SERVER, kind="ICE_CANDIDATE", payload="{}")
        assert nonsense == {"toParticipantId": MEDIA_SERVER}
        await anna.run("SendSignal", toParticipantId=MEDIA_SERVER, kind="ICE_CANDIDATE", payload='{"candidate": 1')
        elsewhere = await elsa.socket.run(
            "SendSignal",
            meetingId=setup.meetings[1]["id"],
            toParticipantId=MEDIA_SERVER,
            kind="ICE_CANDIDATE",
            payload="{}",
        )
        assert elsewhere["code"] == "NOT_FOUND", elsewhere

        await johan.receives(elsa)  # his answers to the offers with her media are in: no more to come
        # A flood is cut off right after his fiftieth signal in the window (his answers count too);
        # the media of the one who floods, and of everyone else, goes on.
        results = [
            await johan.run("SendSignal", toParticipantId=MEDIA_SERVER, kind="MUTE_STATE", payload="{}")
            for _ in range(lobby.SIGNALS_PER_WINDOW + 1)
        ]
        codes = [r.get("code") for r in results]
        assert "RATE_LIMITED" in codes, results
        cut = codes.index("RATE_LIMITED")
        assert results[:cut] == [{"toParticipantId": MEDIA_SERVER}] * cut, results
        assert codes[cut:] == ["RATE_LIMITED"] * (len(codes) - cut), results
        assert johan.relayed == lobby.SIGNALS_PER_WINDOW, (johan.relayed, results)
        # The window opens when his first signal leaves it: a whole window from now, the clock stopped.
        assert {r["retryAfterSeconds"] for r in results[cut:]} == {lobby.SIGNAL_WINDOW_S}, results
        # A window later he may signal again: the answers he owes when people leave at the end get through.
        limits_clock.now += lobby.SIGNAL_WINDOW_S
        await anna.receives(johan, elsa)
        await elsa.receives(johan)


async def test_the_relay_as_a_worker_of_its_own_over_redis_forwards_without_a_codec(
    gql: GraphQLClient, world: Service
) -> None:
    """`sip-service media`: the relay in another process than the API instances, over Redis. Here it
    runs in the test's process, so that what it runs can be looked at: no decoder, no encoder. A
    participant who joins gets a keyframe from the others at once: the relay asks their cameras."""
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    settings = world.settings.model_copy(update={"redis_url": REDIS_URL, "media_in_process": False})
    broker = RedisBroker(REDIS_URL)
    relay = Sfu(settings, world.db, broker)  # what the worker runs (cli._media)
    await relay.start()
    try:
        async with AsyncExitStack() as stack:
            peers = []
            for who in ("staff-anna", "staff-johan"):  # each on an API instance of their own
                url = await stack.enter_async_context(instance(world, media_in_process=False))
                socket = await stack.enter_async_context(signed_in(url, world.token(who)))
                peer = MediaPeer(socket, await subscribed(socket, meeting), meeting, "")
                stack.push_async_callback(peer.close)
                peer.id = (await peer.run("JoinMeeting"))["participantId"]
                peers.append(peer)
            anna, johan = peers
            await connect_all(anna)
            await until("anna's video at the relay", lambda: _async(_video_arrived(relay, anna.id)))

            # Johan joins, and later connects again in full: each time the relay asks Anna's camera
            # for a keyframe, and he sees her.
            for _ in range(2):
                asked = anna.keyframe_requests
                await connect_all(johan)
                await johan.receives(anna)
                await anna.receives(johan)
                assert anna.keyframe_requests > asked, asked

            # Everything went through the relay, and nothing in it decoded or encoded.
            (room,) = relay.rooms.values()
            assert len(room.peers) == 2
            for peer in room.peers.values():
                transceivers = peer.pc.getTransceivers()
                assert len(transceivers) == 2 + 2  # theirs in, the other's audio and video out
                assert not any(aiortc_private.decoding(t.receiver) for t in transceivers)
                assert not any(aiortc_private.encoding(t.sender) for t in transceivers)
                assert all(s.keyframes_asked >= 1 for k, s in peer.sources.items() if k == "video")
    finally:
        await relay.stop()
        await broker.close()


def test_the_media_command_needs_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIP_REDIS_URL", raising=False)
    result = CliRunner().invoke(cli.app, ["media"])
    assert result.exit_code == 2 and "SIP_REDIS_URL" in result.output
