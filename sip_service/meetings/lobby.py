"""The lobby's rules, without I/O: who goes straight in, what a signal may carry, which events a
participant's stream shows. Events are small JSON dicts: kind, from, fromName, to, toName, payload."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sip_service.kit.errors import Invalid
from sip_service.models.meetings import Presence

Event = dict[str, Any]
MAX_SIGNAL_BYTES = 64 * 1024  # an SDP with every candidate in it fits easily
SIGNALS_PER_WINDOW = 50
SIGNAL_WINDOW_S = 10.0
# The meeting's media relay (the SFU), as a peer in the signaling: it offers to every browser in the
# room, and the browser answers it. Signals to it are sent with this id as the addressee.
MEDIA_SERVER = uuid.UUID(int=0)
MEDIA_SERVER_NAME = "Mötesservern"


class EventKind(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"  # first on every stream: it is live, and says where you are
    JOINED = "JOINED"
    LEFT = "LEFT"
    WAITING = "WAITING"
    ADMITTED = "ADMITTED"
    REMOVED = "REMOVED"
    OFFER = "OFFER"
    ANSWER = "ANSWER"
    ICE_CANDIDATE = "ICE_CANDIDATE"
    MUTE_STATE = "MUTE_STATE"
    # From the media server, right before its OFFER: whose audio and video each m-line (mid) carries.
    MEDIA_TRACKS = "MEDIA_TRACKS"
    # To everyone, in the room or waiting: the meeting is over (staff cancelled it); the pages say so.
    CLOSED = "CLOSED"
    # From the media server to one participant: their media connection is gone (its Janus died); the
    # page says so and connects again in full at once, instead of waiting for its connection to fail.
    MEDIA_LOST = "MEDIA_LOST"


class SignalKind(StrEnum):
    OFFER = "OFFER"
    ANSWER = "ANSWER"
    ICE_CANDIDATE = "ICE_CANDIDATE"
    MUTE_STATE = "MUTE_STATE"


def channel(meeting_id: uuid.UUID) -> str:
    return f"sip:meeting:{meeting_id}"


def on_join(*, is_staff: bool, admitted: bool) -> Presence:
    """Staff participants go in; others wait until admitted (once is enough until removed)."""
    return Presence.IN_ROOM if is_staff or admitted else Presence.WAITING


def check_signal(kind: SignalKind, payload: str) -> None:
    if len(payload.encode()) > MAX_SIGNAL_BYTES:
        raise Invalid(f"the payload is larger than {MAX_SIGNAL_BYTES} bytes", field="payload")
    if kind in (SignalKind.OFFER, SignalKind.ANSWER) and not payload.startswith("v=0"):
        raise Invalid("an offer or answer is an SDP that starts with v=0", field="payload")


def event(
    kind: EventKind,
    sender: uuid.UUID,
    sender_name: str,
    to: uuid.UUID | None = None,
    to_name: str | None = None,
    payload: str | None = None,
) -> Event:
    return {
        "kind": kind.value,
        "from": str(sender),
        "fromName": sender_name,
        "to": str(to) if to else None,
        "toName": to_name,
        "payload": payload,
    }


def subject(e: Event) -> str | None:
    """Whom a lobby event is about: the one admitted or removed, or the one who came or went."""
    kind = e["kind"]
    if kind in (EventKind.ADMITTED, EventKind.REMOVED):
        return str(e["to"])
    if kind in (EventKind.JOINED, EventKind.LEFT, EventKind.WAITING):
        return str(e["from"])
    return None


def visible(e: Event, me: str, in_room: bool) -> bool:
    """Signals go to their addressee only (a MUTE_STATE without one, to the whole room); the lobby is
    seen from the room; someone outside the room sees only what is about them; that the meeting is
    over, everyone."""
    if e["kind"] == EventKind.CLOSED:
        return True
    if e["kind"] in SignalKind.__members__ or e["kind"] in (EventKind.MEDIA_TRACKS, EventKind.MEDIA_LOST):
        return in_room and e["to"] in (me, None)
    return in_room or subject(e) == me


def in_room_after(e: Event, me: str, in_room: bool) -> bool:
    if subject(e) != me:
        return in_room
    return e["kind"] in (EventKind.JOINED, EventKind.ADMITTED)
