"""One participant's audio or video, forwarded as it was encoded to everyone else.

Nothing here decodes or encodes. A `Source` is one incoming transceiver: aiortc reassembles the
sender's RTP into encoded frames (SRTP, NACKs, jitter buffer) and, through the tap in
aiortc_private, hands each frame here; the source wraps it once (aiortc_private.Encoded: its bytes
and RTP timestamp) and passes that same object to one `Slot` per receiver. A slot is the track of
one outgoing transceiver, whose sender only packetizes what it is given. Pictures depend on the
ones before them, so a receiver starts (or starts again, after a loss) at a keyframe, which the
source asks its sender for (RTCP PLI) when a receiver joins or reports a lost picture, at most once
per KEYFRAME_INTERVAL_S.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sip_service.kit import clock
from sip_service.video import aiortc_private
from sip_service.video.aiortc_private import Encoded

log = logging.getLogger(__name__)

# Keyframes asked of one sender, however many receivers join or lose pictures: a receiver on a bad
# line must not turn everyone's stream into keyframes. A receiver still waiting after this long
# (the request or the keyframe was lost) makes the source ask again.
KEYFRAME_INTERVAL_S = 1.0
CLOCKS = {"video": fractions.Fraction(1, 90_000), "audio": fractions.Fraction(1, 48_000)}  # RTP, VP8 and Opus
# A receiver on a line that cannot carry everything (part 4 of issue 14): audio goes first. When the
# loss it reports (smoothed over its RTCP receiver reports, about one a second per stream) passes
# LOSS_OFF, its video stops, and its audio keeps the line; video is tried again after a pause that
# doubles while tries fail soon after they start. The others are not touched: each receiver's slots
# are its own, and a paused slot asks no keyframes of anyone.
LOSS_OFF = 0.15  # a merely lossy line (a few per cent) keeps its video
LOSS_SMOOTHING = 0.3
VIDEO_PAUSE_S = (4.0, 60.0)  # the first pause, the longest
VIDEO_STABLE_S = 20.0  # video that held this long: the next pause is the first again
# Per receiver: about two seconds. A receiver that falls further behind loses the oldest packets
# rather than holding up the source (and so everyone else).
QUEUES = {"video": 60, "audio": 100}


class Traffic:
    """Bytes of encoded media through this process's relay, by kind: received from the participants'
    senders, and sent (handed to the receivers' senders). For /metrics, where their rate is the
    bitrate; two integer additions per frame."""

    def __init__(self) -> None:
        self.received = {"audio": 0, "video": 0}
        self.sent = {"audio": 0, "video": 0}


TRAFFIC = Traffic()


def _clock(kind: str) -> int:
    """A process-wide media clock: a slot that switches to another source never goes back in time."""
    return int(time.monotonic() / CLOCKS[kind])


def is_keyframe(kind: str, frame: bytes) -> bool:
    """VP8 (RFC 6386 9.1): bit 0 of the frame tag is 0 for a key frame. Every audio frame stands alone."""
    return kind == "audio" or (len(frame) > 0 and not frame[0] & 1)


class Downlink:
    """One receiver's line, as its reports tell: whether it carries video now. Audio always."""

    def __init__(self) -> None:
        self.video = True
        self.pauses = 0  # how often its video was stopped
        self._loss = {"audio": 0.0, "video": 0.0}
        self._pause = VIDEO_PAUSE_S[0]
        self._until = 0.0
        self._since: float | None = None  # when video came back last

    def report(self, kind: str, fraction_lost: float) -> None:
        self._loss[kind] += LOSS_SMOOTHING * (fraction_lost - self._loss[kind])
        if self.video and max(self._loss.values()) > LOSS_OFF:
            now = clock.monotonic()
            failed_soon = self._since is not None and now - self._since < VIDEO_STABLE_S
            self._pause = min(2 * self._pause, VIDEO_PAUSE_S[1]) if failed_soon else VIDEO_PAUSE_S[0]
            self.video, self._until = False, now + self._pause
            self.pauses += 1
            lost = 100 * max(self._loss.values())
            log.info("media relay: a receiver's line loses %.0f %%: its video paused for %.0f s", lost, self._pause)

    def carries_video(self) -> bool:
        if not self.video and clock.monotonic() >= self._until:
            self.video, self._since = True, clock.monotonic()
            self._loss = {"audio": 0.0, "video": 0.0}  # the next try is judged on what it meets
        return self.video


class Slot(MediaStreamTrack):
    """The track of one outgoing transceiver: whatever source is attached now, as encoded packets.

    It lives as long as its transceiver, whatever it carries: the sender keeps reading it (a track
    that ended would stop the sender for good), and an empty slot simply waits."""

    def __init__(self, kind: str, downlink: Downlink | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.downlink = downlink or Downlink()
        self.source: Source | None = None
        self._queue: deque[Encoded] = deque(maxlen=QUEUES[kind])
        self._waiter: asyncio.Future[None] | None = None  # the sender's, while the queue is empty
        self.want_keyframe = kind == "video"

    def attach(self, source: Source | None) -> None:
        if self.source is not None:
            self.source.slots.discard(self)
        self.source = source
        self._queue.clear()
        if source is not None:
            source.slots.add(self)
            if self.kind == "video":  # a decoder can start only from a keyframe
                self.want_keyframe = True
                source.request_keyframe()

    def serve(self, sender: RTCRtpSender) -> None:
        """Be the track of this sender, which then only packetizes; a receiver's picture loss is the
        source's to answer (its sender's keyframe serves every receiver)."""
        aiortc_private.send_encoded(sender, self.picture_lost, self.report)

    def picture_lost(self) -> None:
        """The receiver lost a picture (RTCP PLI/FIR): it needs a keyframe."""
        if self.source is not None:
            self.source.request_keyframe()

    def report(self, fraction_lost: float | None, bitrate: int | None) -> None:
        """The receiver's report on what it gets (RTCP receiver report, REMB)."""
        if fraction_lost is not None:
            self.downlink.report(self.kind, fraction_lost)

    @property
    def waiting(self) -> bool:
        """For a keyframe, to start (not while its receiver's line has no room for video)."""
        return self.want_keyframe and (self.kind == "audio" or self.downlink.carries_video())

    def put(self, packet: Encoded, keyframe: bool) -> None:
        if self.kind == "video" and not self.downlink.carries_video():
            self.want_keyframe = True  # when video comes back, it starts at a keyframe
            return
        if self.want_keyframe:
            if not keyframe:
                return
            self.want_keyframe = False
        if len(self._queue) == self._queue.maxlen and self.kind == "video":
            # Dropping one video packet breaks every frame after it until the next keyframe: start over.
            self._queue.clear()
            self.want_keyframe = True
            return
        self._queue.append(packet)  # audio: the deque drops the oldest
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def recv(self) -> Any:  # Encoded: the sender packetizes it as it is
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        packet = self._queue.popleft()
        TRAFFIC.sent[self.kind] += len(packet.data)
        return packet

    def stop(self) -> None:
        self.attach(None)
        super().stop()
        self._wake()  # the sender sees the end


class Source:
    """One incoming transceiver of one participant: its encoded frames, passed on to the slots.

    Made with the transceiver, before its media starts; offered to others once its track arrives."""

    def __init__(
        self, kind: str, receiver: RTCRtpReceiver, on_frame: Callable[[], None], on_end: Callable[[], None]
    ) -> None:
        self.kind, self.receiver = kind, receiver
        self.slots: set[Slot] = set()
        self.tag: dict[str, str] = {}  # whose it is, as MEDIA_TRACKS tells the receivers
        self._on_frame, self._on_end = on_frame, on_end
        self._base: int | None = None  # the media clock at the first frame
        self._asked_at: float | None = None  # clock.monotonic() of the last keyframe request
        self._want_keyframe = False
        self.keyframes_asked = 0
        self._requests: set[asyncio.Task[None]] = set()
        aiortc_private.tap_receiver(receiver, self.frame_arrived, self._ended)

    def start(self) -> None:
        """Its track arrived (nothing to start: the frames come through the tap)."""

    async def stop(self) -> None:
        for slot in list(self.slots):
            slot.attach(None)
        for task in list(self._requests):
            task.cancel()

    def _ended(self) -> None:
        self._on_end()

    def frame_arrived(self, data: bytes, timestamp: int) -> None:
        """One encoded frame (its RTP timestamp counted from the first): passed on as it is."""
        self._on_frame()
        TRAFFIC.received[self.kind] += len(data)
        if self._base is None:
            self._base = _clock(self.kind)
        packet = Encoded(data, self._base + timestamp)  # the RTP timestamp out
        keyframe = is_keyframe(self.kind, data)
        for slot in list(self.slots):
            slot.put(packet, keyframe)  # the same object for everyone: the senders only read it
        if self._want_keyframe or any(s.waiting for s in self.slots):
            self.request_keyframe()

    def request_keyframe(self) -> None:
        """Ask the sender for a keyframe now, or as soon as the last request is KEYFRAME_INTERVAL_S old."""
        if self.kind != "video":
            return
        now = clock.monotonic()
        if self._asked_at is not None and now - self._asked_at < KEYFRAME_INTERVAL_S:
            self._want_keyframe = True  # a frame that arrives after the interval asks
            return
        self._asked_at, self._want_keyframe = now, False
        self.keyframes_asked += 1
        task = asyncio.get_running_loop().create_task(self._ask())
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _ask(self) -> None:
        try:
            await aiortc_private.request_keyframe(self.receiver)
        except Exception:  # the connection is going: the source ends with it
            log.info("media relay: could not ask for a keyframe", exc_info=True)
