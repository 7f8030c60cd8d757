"""Participants with real media, as a browser takes part: an aiortc peer connection that sends a
moving 320×240 picture and a tone, answers the media server's offers over the meeting's websocket,
and counts the frames it decodes from each other participant (by MEDIA_TRACKS).

Every wait here is for a condition, with a deadline generous enough for a busy machine (WAIT_S); a
rate is measured on the media's own clock (the RTP timestamps), never by counting within a time."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import itertools
import json
import math
import statistics
import struct
import time
from collections import Counter, defaultdict
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from sip_service.meetings import lobby

from helpers import Events, Socket

MEDIA_SERVER = str(lobby.MEDIA_SERVER)
WAIT_S = 60.0  # a deadline, not a pause: every wait ends as soon as what it waits for has happened
RATE, SAMPLES = 48_000, 960  # 20 ms of audio
FPS = 15  # the meeting page's camera: frameRate at most 15 (video/js/media.js)


class Pace:
    """Frames at the pace of real time. Paused, a track gives none (a camera and microphone that went
    away: the connection stays, nothing is sent); resumed, it goes on from now, without a burst."""

    def __init__(self, interval: float) -> None:
        self.interval, self._due = interval, 0.0
        self.live = asyncio.Event()
        self.live.set()

    async def next(self) -> None:
        await self.live.wait()
        now = time.monotonic()
        if now - self._due > 0.1:  # the first frame, or after a pause
            self._due = now
        await asyncio.sleep(max(0.0, self._due - now))
        self._due += self.interval


class Tone(MediaStreamTrack):
    """400 Hz, mono, in 20 ms frames."""

    kind = "audio"
    _chunk = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 400 * i / RATE))) for i in range(SAMPLES))

    def __init__(self) -> None:
        super().__init__()
        self.pace, self._pts = Pace(SAMPLES / RATE), 0

    async def recv(self) -> AudioFrame:
        await self.pace.next()
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(self._chunk)
        frame.pts, frame.sample_rate, frame.time_base = self._pts, RATE, fractions.Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


class BrowserVoice(OpusEncoder):
    """Opus as a browser sends a voice: about 32 kbit/s (constrained VBR). aiortc's own encoder sends
    96 kbit/s, and on this tone about 130 kbit/s: more than a poor line carries for one voice. A test
    that wants browsers' voices puts it where aiortc looks for its encoder (aiortc.codecs.OpusEncoder)."""

    BITRATE = 32_000

    def __init__(self) -> None:
        super().__init__()
        self.codec.bit_rate = self.BITRATE
        self.codec.options = {"application": "voip", "vbr": "constrained"}


class Moving(VideoStreamTrack):
    """A grey ramp sliding sideways, 320×240 (unless told) at 15 frames a second (as the meeting page
    asks of a camera: the relay forwards every picture as it was sent)."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.made: list[float] = []  # when each picture was made (time.monotonic())
        self._ramp = bytes(x % 256 for x in range(2 * width))
        self._chroma = bytes([128]) * (width // 2 * height // 2)
        self.pace, self._start = Pace(1 / FPS), time.monotonic()

    async def recv(self) -> VideoFrame:
        await self.pace.next()
        self.made.append(time.monotonic())
        shift = (len(self.made) * 4) % self.width
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(self._ramp[shift : shift + self.width] * self.height)
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts, frame.time_base = int((time.monotonic() - self._start) * 90_000), fractions.Fraction(1, 90_000)
        return frame


class MediaPeer:
    """One participant's browser: their websocket and event stream, and (once connected) media.

    Every event of their stream is kept; `expect` takes the next one of a kind. Offers are answered
    as they come (unless `bad_answers`: then with an SDP the relay cannot use)."""

    def __init__(self, socket: Socket, events: Events, meeting_id: str, participant_id: str) -> None:
        self.socket, self.meeting_id, self.id = socket, meeting_id, participant_id
        self.seen: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        self.frames: Counter[tuple[str, str]] = Counter()  # (participant id, audio|video) → decoded frames
        self.sizes: dict[str, tuple[int, int]] = {}  # participant id → the last decoded picture's size
        # (participant id, mid) → the media time (s, from the RTP timestamps) of each decoded picture
        self.picture_times: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        self.keyframe_requests = 0  # PLI/FIR that reached this participant's camera (a browser's pliCount)
        self.sound_times: defaultdict[str, list[float]] = defaultdict(list)  # participant id → as picture_times
        # Every decoded frame: (participant id, audio|video, when it was decoded (time.monotonic), media time)
        self.decoded: list[tuple[str, str, float, float | None]] = []
        self.relayed = 0  # this participant's signals that the service relayed (SendSignal answered so)
        self.picture = (320, 240)  # what this participant's camera sends
        self.sending: list[Tone | Moving] = []
        self.mapping: dict[str, tuple[str, str]] = {}  # mid → (participant id, audio|video)
        self._tracks: list[dict[str, str]] = []
        self.pc: RTCPeerConnection | None = None
        # Janus (MediaConnection.publishSeparately, known before connecting: its offers may come before
        # ConnectMedia's answer): ours go on a connection of their own, which we offer
        self.separate = False
        self.publisher: RTCPeerConnection | None = None
        self.bad_answers = False
        self.offers = self.bad_answers_sent = 0
        self.sessions: set[str] = set()  # the relay's connections (o= session ids) offered to us
        self._stale: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._pump = asyncio.create_task(self._read(events))

    async def _read(self, events: Events) -> None:
        while True:
            message = await events.queue.get()
            assert message["type"] == "next" and "errors" not in message["payload"], message
            e: dict[str, Any] = message["payload"]["data"]["meetingEvents"]
            self.seen.append(e)
            if e["kind"] == "MEDIA_TRACKS":
                assert e["fromParticipantId"] == MEDIA_SERVER and e["toParticipantId"] == self.id, e
                self._tracks = json.loads(e["payload"])
            elif e["kind"] == "OFFER" and e["fromParticipantId"] == MEDIA_SERVER:
                await self._answer(e["payload"])
            elif e["kind"] == "ANSWER" and e["fromParticipantId"] == MEDIA_SERVER and self.publisher is not None:
                await self.publisher.setRemoteDescription(RTCSessionDescription(e["payload"], "answer"))

    async def expect(self, kind: str, within: float = WAIT_S) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for i, e in enumerate(self.seen):
                if i not in self._taken and e["kind"] == kind:
                    self._taken.add(i)
                    return e
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind} event within {within} s; seen {[e['kind'] for e in self.seen]}")

    async def run(self, name: str, **variables: Any) -> Any:
        result = await self.socket.run(name, meetingId=self.meeting_id, **variables)
        if name == "SendSignal" and "toParticipantId" in result:
            self.relayed += 1
        return result

    async def connect(self) -> dict[str, Any]:
        """ConnectMedia, with a new peer connection (any old one is closed: a rejoin is in full)."""
        await self.disconnect()
        self._stale |= self.sessions  # offers still coming for the old connection are not answered
        # Ready before asking: the relay's offer may arrive before ConnectMedia's own answer does.
        pc = self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.on("track", lambda track: self._count(pc, track))
        result: dict[str, Any] = await self.run("ConnectMedia")
        if "mediaServerId" not in result:
            await self.disconnect()
            return result
        assert result["mediaServerId"] == MEDIA_SERVER and result["participantId"] == self.id
        assert result["publishSeparately"] == self.separate, result
        if self.separate:
            await self._publish()
        return result

    async def _publish(self) -> None:
        """Our camera and microphone on a connection of their own: we offer, the media server answers."""
        pc = self.publisher = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.sending = [Tone(), Moving(*self.picture)]
        for track in self.sending:
            sender = pc.addTrack(track)
            if track.kind == "video":
                self._count_keyframe_requests(sender)
        await pc.setLocalDescription(await pc.createOffer())  # every candidate in it
        sent = await self.run("SendSignal", toParticipantId=MEDIA_SERVER, kind="OFFER", payload=pc.localDescription.sdp)
        assert sent == {"toParticipantId": MEDIA_SERVER}, sent

    async def disconnect(self) -> None:
        if self.publisher is not None:
            publisher, self.publisher = self.publisher, None
            await publisher.close()
        if self.pc is not None:
            pc, self.pc = self.pc, None
            await pc.close()

    async def _answer(self, sdp: str) -> None:
        pc = self.pc
        try:
            await self._answer_on_this_connection(sdp)
        except InvalidStateError:  # closed meanwhile (left, connected again, or the relay closed it)
            if pc is self.pc and pc is not None and pc.connectionState != "closed":
                raise

    async def _answer_on_this_connection(self, sdp: str) -> None:
        session = sdp.split("\r\n")[1].split()[1]  # o=- <session id> <version> ...
        pc = self.pc
        if pc is None or session in self._stale:
            return
        self.sessions.add(session)
        self.offers += 1
        if self.bad_answers:
            sent = await self.run(
                "SendSignal", toParticipantId=MEDIA_SERVER, kind="ANSWER", payload="v=0\r\nnot=an sdp\r\n"
            )
            assert sent == {"toParticipantId": MEDIA_SERVER}, sent
            self.bad_answers_sent += 1  # on its way to the relay: what comes after it, the relay hears after it
            return
        # The first offer on this connection (with Janus it only receives: ours went on our own one)
        first = pc.remoteDescription is None if self.separate else not any(t.sender.track for t in pc.getTransceivers())
        if not first:
            # aiortc (not browsers) starts new receivers only if the connection is up by then.
            deadline = time.monotonic() + WAIT_S
            while pc.connectionState in ("new", "connecting") and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        if first and not self.separate:  # the first offer: send ours on it
            self.sending = [Tone(), Moving(*self.picture)]
            for track in self.sending:
                sender = pc.addTrack(track)
                if track.kind == "video":
                    self._count_keyframe_requests(sender)
        await pc.setLocalDescription(await pc.createAnswer())  # every candidate in it
        self.mapping = {t["mid"]: (t["participantId"], t["media"]) for t in self._tracks}
        sent = await self.run(
            "SendSignal", toParticipantId=MEDIA_SERVER, kind="ANSWER", payload=pc.localDescription.sdp
        )
        assert sent == {"toParticipantId": MEDIA_SERVER}, sent

    def _count_keyframe_requests(self, sender: RTCRtpSender) -> None:
        keyframe = sender._send_keyframe  # aiortc's answer to PLI/FIR; browsers show them as pliCount

        def requested() -> None:
            self.keyframe_requests += 1
            keyframe()

        sender._send_keyframe = requested  # type: ignore[method-assign]

    def _count(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
        self._tasks.append(asyncio.create_task(self._decode(transceiver, track)))

    async def _decode(self, transceiver: RTCRtpTransceiver, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()  # a decoded frame
                who = self.mapping.get(str(transceiver.mid))
                if who is not None:
                    self.frames[who] += 1
                    self.decoded.append((*who, time.monotonic(), frame.time))
                    if isinstance(frame, VideoFrame):
                        self.sizes[who[0]] = (frame.width, frame.height)
                        if frame.time is not None:
                            self.picture_times[(who[0], str(transceiver.mid))].append(frame.time)
                    elif frame.time is not None:
                        self.sound_times[who[0]].append(frame.time)

    async def receives(self, *others: MediaPeer, frames: int = 10, within: float = WAIT_S) -> None:
        """At least `frames` more decoded audio and video frames from each of them, from now."""
        wanted = {(o.id, media): self.frames[(o.id, media)] + frames for o in others for media in ("audio", "video")}
        deadline = time.monotonic() + within
        while any(self.frames[k] < n for k, n in wanted.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.id} decoded {dict(self.frames)} within {within} s; wanted {wanted}")
            await asyncio.sleep(0.05)

    async def packets(self) -> dict[tuple[str, str], tuple[int, int]]:
        """RTP packets received from each other participant, and lost on the way (by the sequence
        numbers: the receivers' inbound-rtp stats). What the relay and the line delivered, before
        aiortc's audio jitter buffer (16 packets), which stops at a lost packet until it overflows
        and then drops what it must: it decodes fewer frames than arrive, where a browser conceals
        the one lost."""
        got: Counter[tuple[str, str]] = Counter()
        lost: Counter[tuple[str, str]] = Counter()
        for transceiver in self.pc.getTransceivers() if self.pc is not None else []:
            if (who := self.mapping.get(str(transceiver.mid))) is not None:
                for stats in (await transceiver.receiver.getStats()).values():
                    if stats.type == "inbound-rtp":
                        got[who] += stats.packetsReceived
                        lost[who] += stats.packetsLost
        return {who: (got[who], lost[who]) for who in got}

    def picture_rate(self, other: MediaPeer) -> tuple[float, int]:
        """Pictures a second sent on by the relay from `other`, by the media clock (the relay forwards
        each picture with its sender's timestamp), so a busy machine that decodes late does not change
        it: one over the median step between pictures, on the longest run on one m-line (timestamps of
        different m-lines are not comparable). A picture lost on a busy machine's loopback makes one
        step longer, not the rate lower; a relay that sent fewer pictures would make every step longer.
        And how many pictures."""
        times = max((t for (who, _), t in self.picture_times.items() if who == other.id), key=len, default=[])
        steps = [b - a for a, b in itertools.pairwise(times) if b > a]
        if not steps:
            return 0.0, len(times)
        return 1 / statistics.median(steps), len(times)

    def pause(self) -> None:
        """Stop sending (the connection stays up), as a browser whose camera and microphone went away."""
        for track in self.sending:
            track.pace.live.clear()

    def resume(self) -> None:
        for track in self.sending:
            track.pace.live.set()

    async def close(self) -> None:
        await self.disconnect()
        for task in [self._pump, *self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
