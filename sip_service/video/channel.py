"""Where meeting events go. The browsers listen on their meeting's channel; the media relay (which
may run in another process, `sip-service media`) listens on one channel for every meeting: to
requests for a media connection, to the answers and candidates addressed to it, and to who left."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sip_service.kit.pubsub import Broker, Message
from sip_service.meetings import lobby
from sip_service.meetings.room import MediaMember

MEDIA_CHANNEL = "sip:media"
CONNECT = "CONNECT"  # only on the media channel: (re)connect this participant's media
CLOSE = "CLOSE"  # only on the media channel: the meeting was cancelled; its room closes, everyone out


def route(meeting_id: uuid.UUID, e: lobby.Event) -> list[tuple[str, lobby.Event]]:
    meeting, for_relay = lobby.channel(meeting_id), e | {"meeting": str(meeting_id)}
    if e.get("to") == str(lobby.MEDIA_SERVER):
        if e["kind"] == lobby.EventKind.MUTE_STATE:  # the relay passes it on to the whole room
            return [(meeting, e | {"to": None, "toName": None})]
        return [(MEDIA_CHANNEL, for_relay)]
    if e["kind"] in (lobby.EventKind.LEFT, lobby.EventKind.REMOVED):
        return [(meeting, e), (MEDIA_CHANNEL, for_relay)]
    return [(meeting, e)]


async def publish(broker: Broker, meeting_id: uuid.UUID, events: Iterable[lobby.Event]) -> None:
    for e in events:
        for channel, message in route(meeting_id, e):
            await broker.publish(channel, message)


async def close_room(broker: Broker, meeting_id: uuid.UUID) -> None:
    """The meeting is over (cancelled): everyone's page says so (CLOSED, in the room or waiting), and
    the media server closes its room, whoever is still in it."""
    closed = lobby.event(lobby.EventKind.CLOSED, lobby.MEDIA_SERVER, lobby.MEDIA_SERVER_NAME)
    await broker.publish(lobby.channel(meeting_id), closed)
    await broker.publish(MEDIA_CHANNEL, {"kind": CLOSE, "meeting": str(meeting_id)})


def tag(message: Message) -> dict[str, str]:
    """Who a participant connecting media is (from their CONNECT), as MEDIA_TRACKS names them."""
    return {
        "participantId": str(message["from"]),
        "name": str(message.get("fromName") or ""),
        "kind": str(message.get("participantKind") or ""),
        "role": str(message.get("role") or ""),
    }


def connect_request(meeting_id: uuid.UUID, who: MediaMember) -> lobby.Event:
    me = who.member
    return {
        "kind": CONNECT,
        "meeting": str(meeting_id),
        "from": str(me.participant_id),
        "fromName": me.name,
        "participantKind": who.kind.value,
        "role": who.role,
    }
