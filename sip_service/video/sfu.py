"""The media relay (SFU): every browser in a meeting's room has one peer connection with it.

It listens on the broker's media channel (see channel.py) and, per participant:
- CONNECT: a new peer connection (any old one is thrown away: aiortc has no ICE restart), receiving
  their audio and video and sending everyone else's; then MEDIA_TRACKS and an OFFER to them.
- ANSWER / ICE_CANDIDATE: applied to their peer connection. A broken answer drops their peer only.
- LEFT / REMOVED: their peer closes and their media is taken away from the others.
The relay always offers (the browser is the polite peer and never does): when someone's media comes
or goes, each other peer gets a new offer, one at a time: changes while an offer waits for its answer
are folded into one more offer after it.

Rooms work one message at a time each (rooms.py, shared with the Janus backend), so a slow room does
not hold up the others and a participant's messages are handled in the order they were sent.

Over 400 lines on purpose: Peer, Room and Sfu are one negotiation (offers, answers, renegotiation
folded while an answer waits), read top to bottom. Attendance is written by presence.MediaAttendance.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
import uuid

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.sdp import candidate_from_sdp

from sip_service.kit.db import Database
from sip_service.kit.pubsub import Broker, Message
from sip_service.meetings import lobby
from sip_service.settings import Settings
from sip_service.video import aiortc_private, channel, ice, media, rooms
from sip_service.video.media import Downlink, Slot, Source
from sip_service.video.presence import MediaAttendance

log = logging.getLogger(__name__)

# No media from a participant for this long: they are no longer attending (their row closes).
SILENCE_S = 5.0
CODECS = {"audio": ("audio/opus",), "video": ("video/vp8", "video/rtx")}  # rtx: VP8's retransmissions


def _prefer_codecs(transceiver: RTCRtpTransceiver) -> None:
    """Opus and VP8 only: what every browser has, so that what one sends every other can decode."""
    kind = transceiver.kind
    caps = RTCRtpSender.getCapabilities(kind).codecs
    transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() in CODECS[kind]])


async def _nothing() -> None:
    pass


class Peer:
    """One participant's connection: their media in (two recvonly transceivers, first in the SDP),
    everyone else's out (one slot per outgoing transceiver, reused when its source goes)."""

    def __init__(self, room: Room, connect: Message, config: RTCConfiguration) -> None:
        self.room = room
        self.id = str(connect["from"])
        self.tag = channel.tag(connect)
        self.pc = RTCPeerConnection(config)
        self.presence = MediaAttendance(room.sfu.db, room.sfu.broker, room.meeting_id, uuid.UUID(self.id))
        # Their media, forwarded from the moment it arrives; offered to the others once its track has.
        self.inlets: dict[str, Source] = {}
        for kind in ("audio", "video"):
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            _prefer_codecs(transceiver)
            self.inlets[kind] = self._inlet(kind, transceiver)
        self.slots: list[tuple[RTCRtpTransceiver, Slot]] = []
        self.downlink = Downlink()  # what their line carries: their slots share it
        self.sources: dict[str, Source] = {}  # the inlets whose media the others get
        self.offering = self.again = self.closed = self.answered = False
        # The o= line of our offers: one session id per connection, its version counting the offers
        # (as SDP means them). A browser that connected again tells by the id which offers are stale.
        self.session_id, self.offers = secrets.randbelow(2**62) + 1, 0
        self.pc.on("track", lambda track: room.post(lambda: room.media_arrived(self, track)))
        self.pc.on("connectionstatechange", self._state_changed)

    def _inlet(self, kind: str, transceiver: RTCRtpTransceiver) -> Source:
        def ended() -> None:
            self.room.post(lambda: self.room.media_ended(self, source))

        source = Source(kind, transceiver.receiver, on_frame=self.presence.frame, on_end=ended)
        source.tag = self.tag
        return source

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        if state in ("failed", "closed"):
            self.room.post(lambda: self.room.drop(self, f"connection {state}"))
        elif state == "connected":  # what changed while it was connecting is offered now
            self.room.post(lambda: self.room.negotiate(self) if self.again else _nothing())

    def carry(self, source: Source) -> None:
        """Send this source to this participant: in a free slot of its kind, or a new transceiver."""
        slot = next((s for _, s in self.slots if s.kind == source.kind and s.source is None), None)
        if slot is None:
            slot = Slot(source.kind, self.downlink)
            transceiver = self.pc.addTransceiver(slot, direction="sendonly")
            _prefer_codecs(transceiver)
            slot.serve(transceiver.sender)
            self.slots.append((transceiver, slot))
        slot.attach(source)

    def tracks(self) -> list[dict[str, str]]:
        """MEDIA_TRACKS: whose media each outgoing m-line carries now, in m-line order."""
        return [
            {"mid": str(t.mid), **s.source.tag, "media": s.kind}
            for t, s in self.slots
            if s.source is not None and t.mid is not None
        ]

    async def close(self) -> None:
        self.closed = True
        for source in self.inlets.values():
            await source.stop()
        self.presence.stopped()
        for _, slot in self.slots:
            slot.stop()
        await self.pc.close()


class Room(rooms.MediaRoom):
    """The peers of one meeting."""

    def __init__(self, sfu: Sfu, meeting_id: uuid.UUID) -> None:
        self.sfu = sfu
        self.peers: dict[str, Peer] = {}
        super().__init__(sfu, meeting_id)

    @property
    def empty(self) -> bool:
        return not self.peers

    @property
    def participant_count(self) -> int:
        return len(self.peers)

    async def closing(self) -> set[asyncio.Task[None]]:
        writes: set[asyncio.Task[None]] = set()
        for peer in list(self.peers.values()):
            await peer.close()
            writes |= peer.presence.tasks
        self.peers.clear()
        return writes

    async def _publish(self, kind: lobby.EventKind, to: Peer, payload: str) -> None:
        e = lobby.event(kind, lobby.MEDIA_SERVER, lobby.MEDIA_SERVER_NAME, uuid.UUID(to.id), to.tag["name"], payload)
        await self.sfu.broker.publish(lobby.channel(self.meeting_id), e)

    # ---- what the room does, one at a time ----

    async def connect(self, message: Message) -> None:
        who = str(message["from"])
        if (old := self.peers.get(who)) is not None:
            await self.drop(old, "connected again")
        peer = self.peers[who] = Peer(self, message, self.sfu.config)
        for other in self.peers.values():
            for source in other.sources.values() if other is not peer else ():
                peer.carry(source)
        await self.negotiate(peer)

    async def negotiate(self, peer: Peer) -> None:
        """Offer what the peer should get now; if an offer already waits for its answer, once more after it."""
        if peer.closed:
            return
        # aiortc starts the senders of a renegotiation only if DTLS is up by then (RTCPeerConnection
        # .__connect skips transports still connecting): so no second offer before that.
        if peer.offering or (peer.answered and peer.pc.connectionState != "connected"):
            peer.again = True
            return
        peer.offering, peer.again = True, False
        try:
            await peer.pc.setLocalDescription(await peer.pc.createOffer())  # waits for every candidate
        except InvalidStateError:  # aiortc closed it (the browser's side went away): its drop follows
            peer.offering = False
            return
        await self._publish(lobby.EventKind.MEDIA_TRACKS, peer, json.dumps(peer.tracks(), ensure_ascii=False))
        peer.offers += 1
        origin = f"o=- {peer.session_id} {peer.offers} IN IP4 0.0.0.0"
        sdp = re.sub(r"^o=[^\r\n]*", origin, peer.pc.localDescription.sdp, count=1, flags=re.MULTILINE)
        await self._publish(lobby.EventKind.OFFER, peer, sdp)

    async def answer(self, message: Message) -> None:
        peer = self.peers.get(str(message["from"]))
        if peer is None or not peer.offering:
            log.info("media relay: an answer nobody waited for, from %s", message.get("from"))
            return
        try:
            await peer.pc.setRemoteDescription(RTCSessionDescription(str(message.get("payload")), "answer"))
        except Exception as exc:  # a malformed or unacceptable SDP: this participant connects again
            log.warning("media relay: bad answer from %s (%s); dropping their connection", peer.id, exc)
            await self.drop(peer, "bad answer")
            return
        peer.offering, peer.answered = False, True
        if peer.again:
            await self.negotiate(peer)

    async def candidate(self, message: Message) -> None:
        """A browser's trickled candidate. Optional (answers that waited for gathering carry them)."""
        peer = self.peers.get(str(message["from"]))
        if peer is None:
            return
        try:
            init = json.loads(str(message.get("payload")))
            line = str(init.get("candidate") or "")
            if not line:  # the end-of-candidates marker
                return
            found = candidate_from_sdp(line.removeprefix("candidate:"))
            found.sdpMid, found.sdpMLineIndex = init.get("sdpMid"), init.get("sdpMLineIndex")
            await peer.pc.addIceCandidate(found)
        except Exception as exc:
            log.info("media relay: ignored a candidate from %s (%s)", peer.id, exc)

    async def media_arrived(self, peer: Peer, track: MediaStreamTrack) -> None:
        if peer.closed or track.kind in peer.sources:
            return
        source = peer.sources[track.kind] = peer.inlets[track.kind]
        source.start()
        for other in list(self.peers.values()):
            if other is not peer:
                other.carry(source)
                await self.negotiate(other)

    async def media_ended(self, peer: Peer, source: Source) -> None:
        if peer.closed or peer.sources.get(source.kind) is not source:
            return
        del peer.sources[source.kind]
        await source.stop()
        if not peer.sources:
            peer.presence.stopped()
        await self._renegotiate_all()

    async def drop(self, peer: Peer, why: str) -> None:
        if peer.closed:
            return
        log.info("media relay: %s leaves meeting %s (%s)", peer.id, self.meeting_id, why)
        if self.peers.get(peer.id) is peer:
            del self.peers[peer.id]
        await peer.close()
        await self._renegotiate_all()

    async def _renegotiate_all(self) -> None:
        for other in list(self.peers.values()):
            try:
                await self.negotiate(other)
            except Exception:  # the others still get theirs
                log.exception("media relay: could not offer to %s", other.id)

    async def left(self, participant_id: str) -> None:
        if (peer := self.peers.get(participant_id)) is not None:
            await self.drop(peer, "left the room")

    def silent(self, now: float) -> None:
        for peer in self.peers.values():
            if peer.presence.present and now - peer.presence.last_frame > SILENCE_S:
                peer.presence.stopped()


class Sfu(rooms.RoomServer[Room]):
    """The relay for every meeting of this process (or of the `sip-service media` worker)."""

    name = "media relay"

    def __init__(self, settings: Settings, db: Database, broker: Broker) -> None:
        super().__init__(db, broker)
        stun = [u for u in settings.ice_servers if u.startswith(("stun:", "stuns:"))]
        # One transport for everything from the start: with aiortc's default (balanced) policy, a
        # transceiver added while the first offer waits for its answer gets a transport that the
        # answer's BUNDLE then throws away, and its media never flows.
        self.config = RTCConfiguration(
            iceServers=[RTCIceServer(urls=stun)] if stun else [], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )
        if settings.media_addresses:
            ice.gather_on(settings.media_addresses)
        aiortc_private.fast_clock()

    @property
    def traffic(self) -> media.Traffic:
        return media.TRAFFIC

    def new_room(self, meeting_id: uuid.UUID) -> Room:
        return Room(self, meeting_id)

    def helpers(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._watch(), name="sfu-watch")]

    async def _watch(self) -> None:
        """Close the attendance of participants whose media stopped without their connection ending."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for room in list(self.rooms.values()):
                room.silent(now)
