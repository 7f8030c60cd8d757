"""The lobby and signaling over real websockets (graphql-transport-ws), as the browser does it:
staff go in, guests wait until admitted, signals reach only their addressee.

Events of one subscription arrive in the order they were published: that an event did not reach
someone shows in the next one they get, not in a pause. The signal limit is checked with the
service's clock stopped, so that its window cannot slide while a slow machine runs the test."""

from __future__ import annotations

import json
import math
import uuid
from datetime import timedelta

import pytest

from sip_service.kit import clock
from sip_service.kit.pubsub import InProcessBroker
from sip_service.meetings import lobby
from sip_service.meetings.room import Live
from sip_service.models.meetings import Presence

from conftest import GraphQLClient, Service
from helpers import guest_token, plan_with_meetings, signed_in, subscribed, within

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class StoppedClock:
    """The service's monotonic clock (kit/clock.py), standing still until moved on. On a whole
    second, not behind the real one: moving it by a whole or half window is then exact."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seconds = float(math.ceil(clock.monotonic()))
        monkeypatch.setattr(clock, "monotonic", lambda: self.seconds)


async def test_the_lobby_and_signaling(gql: GraphQLClient, world: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    stopped = StoppedClock(monkeypatch)  # every signal of this test in one window of the limit
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10), timedelta(minutes=20))
    meeting, other_meeting = setup.meetings[0]["id"], setup.meetings[1]["id"]
    patient_token = await guest_token(gql, setup, setup.patient)
    async with signed_in(world.url, world.token("staff-anna")) as anna, signed_in(world.url, patient_token) as elsa:
        staff_events = await subscribed(anna, meeting)
        joined = await anna.run("JoinMeeting", meetingId=meeting)
        assert joined["state"] == "IN_ROOM"
        anna_id = joined["participantId"]
        assert (await staff_events.expect("JOINED"))["fromName"] == "Anna Lind"

        # The patient waits; the staff member sees it, with her name, and admits her.
        patient_events = await subscribed(elsa, meeting)
        assert (await elsa.run("JoinMeeting", meetingId=meeting))["state"] == "WAITING"
        waiting = await staff_events.expect("WAITING")
        assert (waiting["fromParticipantId"], waiting["fromName"]) == (setup.patient, "Elsa Andersson")
        await patient_events.expect("WAITING")
        # Waiting is not being in the room: no signals yet, either way.
        refused = await anna.run(
            "SendSignal", meetingId=meeting, toParticipantId=setup.patient, kind="OFFER", payload=SDP
        )
        assert refused["code"] == "NOT_FOUND", refused
        admitted = await anna.run("AdmitToMeeting", meetingId=meeting, participantId=setup.patient)
        assert admitted["state"] == "IN_ROOM"
        got = await patient_events.expect("ADMITTED")
        assert (got["toParticipantId"], got["fromName"]) == (setup.patient, "Anna Lind")
        await staff_events.expect("ADMITTED")
        assert (await elsa.run("JoinMeeting", meetingId=meeting))["state"] == "IN_ROOM"
        await staff_events.expect("JOINED")
        await patient_events.expect("JOINED")

        # Offer and answer reach their addressee only.
        sent = await anna.run("SendSignal", meetingId=meeting, toParticipantId=setup.patient, kind="OFFER", payload=SDP)
        assert sent == {"toParticipantId": setup.patient}
        offer = await patient_events.expect("OFFER")
        assert (offer["fromParticipantId"], offer["payload"]) == (anna_id, SDP)
        await elsa.run("SendSignal", meetingId=meeting, toParticipantId=anna_id, kind="ANSWER", payload=SDP)
        # The offer did not come back to its sender: the next event the staff member gets is the answer.
        answer = await staff_events.expect("ANSWER")
        assert answer["fromName"] == "Elsa Andersson"
        # Nor the answer to its sender: below, the next event the patient gets is the staff's signal.

        # Another meeting, malformed or oversized SDP: refused, typed.
        for meeting_id, to in ((other_meeting, anna_id), (meeting, str(uuid.uuid4()))):
            wrong = await elsa.run(
                "SendSignal", meetingId=meeting_id, toParticipantId=to, kind="ICE_CANDIDATE", payload="c"
            )
            assert wrong["code"] == "NOT_FOUND", wrong
        for payload in ("not an sdp", "v=0" + "x" * lobby.MAX_SIGNAL_BYTES):
            bad = await elsa.run(
                "SendSignal", meetingId=meeting, toParticipantId=anna_id, kind="OFFER", payload=payload
            )
            assert (bad["code"], bad["field"]) == ("VALIDATION_ERROR", "payload")

        # A flood is cut off after her fiftieth attempt in the window (her answer, the signal to
        # nobody and the two malformed ones count too; another meeting's is not hers to count), and
        # does not hold up anyone else.
        results = [
            await elsa.run("SendSignal", meetingId=meeting, toParticipantId=anna_id, kind="MUTE_STATE", payload="{}")
            for _ in range(lobby.SIGNALS_PER_WINDOW)
        ]
        allowed = lobby.SIGNALS_PER_WINDOW - 4
        assert results[:allowed] == [{"toParticipantId": anna_id}] * allowed, results
        limited = results[allowed:]
        assert [r["code"] for r in limited] == ["RATE_LIMITED"] * len(limited), results
        assert {r["retryAfterSeconds"] for r in limited} == {lobby.SIGNAL_WINDOW_S}, limited
        assert (
            await anna.run(
                "SendSignal", meetingId=meeting, toParticipantId=setup.patient, kind="MUTE_STATE", payload="{}"
            )
        ) == {"toParticipantId": setup.patient}
        assert (await patient_events.expect("MUTE_STATE"))["fromParticipantId"] == anna_id
        for _ in range(allowed):  # what got through before the limit did reach the staff member
            assert (await staff_events.expect("MUTE_STATE"))["fromParticipantId"] == setup.patient
        # A whole window later she may signal again.
        stopped.seconds += lobby.SIGNAL_WINDOW_S
        again = await elsa.run(
            "SendSignal", meetingId=meeting, toParticipantId=anna_id, kind="MUTE_STATE", payload="{}"
        )
        assert again == {"toParticipantId": anna_id}, again
        assert (await staff_events.expect("MUTE_STATE"))["fromParticipantId"] == setup.patient


async def test_a_dropped_guest_rejoins_without_waiting_until_removed(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    patient_token = await guest_token(gql, setup, setup.patient)
    async with signed_in(world.url, world.token("staff-anna")) as anna:
        staff_events = await subscribed(anna, meeting)
        await anna.run("JoinMeeting", meetingId=meeting)
        await staff_events.expect("JOINED")
        async with signed_in(world.url, patient_token) as elsa:
            await subscribed(elsa, meeting)
            await elsa.run("JoinMeeting", meetingId=meeting)
            await staff_events.expect("WAITING")
            await anna.run("AdmitToMeeting", meetingId=meeting, participantId=setup.patient)
            await staff_events.expect("ADMITTED")
        # The connection dropped: she is away, and comes back in without waiting.
        assert (await staff_events.expect("LEFT"))["fromParticipantId"] == setup.patient
        async with signed_in(world.url, patient_token) as elsa:
            patient_events = await subscribed(elsa, meeting)
            assert (await elsa.run("JoinMeeting", meetingId=meeting))["state"] == "IN_ROOM"
            await staff_events.expect("JOINED")
            await patient_events.expect("JOINED")
            # Removed: out, and she must be admitted again.
            removed = await anna.run("RemoveFromMeeting", meetingId=meeting, participantId=setup.patient)
            assert removed["state"] == "AWAY"
            assert (await patient_events.expect("REMOVED"))["toParticipantId"] == setup.patient
            await staff_events.expect("REMOVED")
            assert (await elsa.run("JoinMeeting", meetingId=meeting))["state"] == "WAITING"
            await staff_events.expect("WAITING")
            # A guest cannot admit anyone (nor themselves).
            self_admit = await elsa.run("AdmitToMeeting", meetingId=meeting, participantId=setup.patient)
            assert self_admit["code"] == "FORBIDDEN"
            left = await elsa.run("LeaveMeeting", meetingId=meeting)
            assert left["state"] == "AWAY"
            await staff_events.expect("LEFT")


async def test_outsiders_get_not_found_on_join_and_subscription(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    for who in ("staff-sara", "staff-karin", "citizen-gustav"):  # not in the plan / not a participant
        async with signed_in(world.url, world.token(who)) as outsider:
            joined = await outsider.run("JoinMeeting", meetingId=meeting)
            assert (joined["code"], joined["kind"]) == ("NOT_FOUND", "Meeting"), (who, joined)
            events = await outsider.events(meeting)
            message = await within(events.queue.get(), f"{who}'s refusal on the subscription")
            assert message["type"] in ("next", "error"), message
            assert "NOT_FOUND" in json.dumps(message) and 'meetingEvents": {' not in json.dumps(message), message


async def test_a_signed_in_patient_who_is_invited_waits_too(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    async with signed_in(world.url, world.token("citizen-elsa")) as elsa:
        assert (await elsa.run("JoinMeeting", meetingId=meeting)) == {
            "participantId": setup.patient,
            "state": "WAITING",
        }


def test_signals_are_limited_to_fifty_per_ten_seconds_each(monkeypatch: pytest.MonkeyPatch) -> None:
    stopped = StoppedClock(monkeypatch)
    signals = Live(InProcessBroker()).signals  # as the service makes it
    assert [signals.attempt("m:elsa") for _ in range(lobby.SIGNALS_PER_WINDOW)] == [None] * lobby.SIGNALS_PER_WINDOW
    assert signals.attempt("m:elsa") == lobby.SIGNAL_WINDOW_S  # the 51st: a whole window to wait
    assert signals.attempt("m:anna") is None  # per participant
    stopped.seconds += lobby.SIGNAL_WINDOW_S - 0.5
    assert signals.attempt("m:elsa") == 0.5
    stopped.seconds += 0.5  # the first fifty leave the window together
    assert signals.attempt("m:elsa") is None


def test_the_rules() -> None:
    me, other = str(uuid.uuid4()), uuid.uuid4()
    assert lobby.on_join(is_staff=True, admitted=False) is Presence.IN_ROOM
    assert lobby.on_join(is_staff=False, admitted=True) is Presence.IN_ROOM
    assert lobby.on_join(is_staff=False, admitted=False) is Presence.WAITING
    to_me = lobby.event(lobby.EventKind.OFFER, other, "x", uuid.UUID(me), None, SDP)
    to_other = lobby.event(lobby.EventKind.OFFER, uuid.UUID(me), "x", other, None, SDP)
    assert lobby.visible(to_me, me, in_room=True) and not lobby.visible(to_me, me, in_room=False)
    assert not lobby.visible(to_other, me, in_room=True)
    somebody_waits = lobby.event(lobby.EventKind.WAITING, other, "x")
    assert lobby.visible(somebody_waits, me, in_room=True) and not lobby.visible(somebody_waits, me, in_room=False)
    admitted = lobby.event(lobby.EventKind.ADMITTED, other, "x", uuid.UUID(me), "me")
    assert lobby.visible(admitted, me, in_room=False) and lobby.in_room_after(admitted, me, in_room=False)
    removed = lobby.event(lobby.EventKind.REMOVED, other, "x", uuid.UUID(me), "me")
    assert not lobby.in_room_after(removed, me, in_room=True)


def test_that_the_meeting_is_over_reaches_everyone_and_a_lost_connection_only_its_owner() -> None:
    """CLOSED (staff cancelled the meeting) is seen in the room and in the lobby, so that a patient
    still waiting reads "Mötet är avslutat." too; MEDIA_LOST only by its addressee, in the room."""
    me, other = str(uuid.uuid4()), uuid.uuid4()
    closed = lobby.event(lobby.EventKind.CLOSED, lobby.MEDIA_SERVER, lobby.MEDIA_SERVER_NAME)
    assert lobby.visible(closed, me, in_room=True) and lobby.visible(closed, me, in_room=False)
    assert lobby.in_room_after(closed, me, in_room=True)  # what it does to the page is the page's
    lost = lobby.event(lobby.EventKind.MEDIA_LOST, lobby.MEDIA_SERVER, lobby.MEDIA_SERVER_NAME, uuid.UUID(me), "me")
    assert lobby.visible(lost, me, in_room=True) and not lobby.visible(lost, me, in_room=False)
    to_other = lobby.event(lobby.EventKind.MEDIA_LOST, lobby.MEDIA_SERVER, lobby.MEDIA_SERVER_NAME, other, "x")
    assert not lobby.visible(to_other, me, in_room=True)
