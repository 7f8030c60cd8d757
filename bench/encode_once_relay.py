"""The baseline for bench/video.py: the relay as it was before it forwarded (issue 14): the same
signaling, rooms, offers and attendance, but each incoming track decoded by aiortc and encoded once
(VP8 640×480 at most, 15 pictures a second at most; Opus) for every receiver. Only the benchmark's
relay process imports this: it swaps the relay's Source and Slot for these.

One participant's audio or video, decoded once, encoded once, sent to everyone else.

aiortc always decodes what it receives, and a sender given decoded frames encodes them again for each
receiver: N(N−1) encodes in a room of N. Here each incoming track (a `Source`) encodes its frames
once, in a thread, and hands the very same `av.Packet`s to one `Slot` per receiver. A slot is the
track of one outgoing transceiver; aiortc's sender only packetizes what a track gives it when that is
not a decoded frame (RTCRtpSender._next_encoded_frame → encoder.pack).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import PictureType, VideoFrame

from sip_service.video import sfu

if TYPE_CHECKING:
    from av.packet import Packet as AnyPacket
    from av.stream import Stream

    Packet = AnyPacket[Stream]

log = logging.getLogger(__name__)

MAX_WIDTH, MAX_HEIGHT, MAX_FPS = 640, 480, 15
VIDEO_BITRATE = 500_000
AUDIO_BITRATE = 32_000
KEYFRAME_EVERY_S = 2.0  # late joiners and receivers who lost packets recover within this
# A receiver's report of a lost picture (RTCP PLI/FIR) brings a keyframe, but not more often than
# this: one receiver on a bad line must not turn everyone's stream into keyframes.
LOSS_KEYFRAME_S = 0.5
VIDEO_CLOCK = fractions.Fraction(1, 90_000)
AUDIO_RATE = 48_000
AUDIO_CLOCK = fractions.Fraction(1, AUDIO_RATE)
OPUS_FRAME = 960  # 20 ms, what browsers send and expect
# Per receiver: about two seconds. A receiver that falls further behind loses the oldest packets
# rather than holding up the source (and so everyone else).
VIDEO_QUEUE, AUDIO_QUEUE = 30, 100


def _clock(rate: int) -> int:
    """A process-wide media clock: a slot that switches to another source never goes back in time."""
    return int(time.monotonic() * rate)


class Slot(MediaStreamTrack):
    """The track of one outgoing transceiver: whatever source is attached now, as encoded packets.

    It lives as long as its transceiver, whatever it carries: the sender keeps reading it (a track
    that ended would stop the sender for good), and an empty slot simply waits."""

    def __init__(self, kind: str, downlink: object = None) -> None:  # no per-receiver handling
        super().__init__()
        self.kind = kind
        self.source: Source | None = None
        self._queue: deque[Packet] = deque(maxlen=VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE)
        self._ready = asyncio.Event()
        self._want_keyframe = kind == "video"

    def attach(self, source: Source | None) -> None:
        if self.source is not None:
            self.source.slots.discard(self)
        self.source = source
        self._queue.clear()
        if source is not None:
            source.slots.add(self)
            if self.kind == "video":  # a decoder can start only from a keyframe
                self._want_keyframe = True
                source.request_keyframe()

    def serve(self, sender: RTCRtpSender) -> None:
        # aiortc answers a receiver's picture loss by asking the sender's own encoder for a
        # keyframe; here the encoder is the source's, shared by every receiver: ask it instead.
        sender._send_keyframe = self.picture_lost  # type: ignore[method-assign]

    def picture_lost(self) -> None:
        """The receiver lost a picture (RTCP PLI/FIR): it needs a keyframe."""
        if self.source is not None:
            self.source.request_keyframe(after_loss=True)

    def report(self, fraction_lost: float | None, bitrate: int | None) -> None:
        pass

    def put(self, packet: Packet, keyframe: bool = False) -> None:
        if self._want_keyframe:
            if not packet.is_keyframe:
                return
            self._want_keyframe = False
        if len(self._queue) == self._queue.maxlen and self.kind == "video":
            # Dropping one video packet breaks every frame after it until the next keyframe: start over.
            self._queue.clear()
            self._want_keyframe = True
            if self.source is not None:
                self.source.request_keyframe()
            return
        self._queue.append(packet)  # audio: the deque drops the oldest
        self._ready.set()

    async def recv(self) -> Any:  # av.Packet: the sender packetizes it as it is
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def stop(self) -> None:
        self.attach(None)
        super().stop()
        self._ready.set()  # wake the sender so that it sees the end


class Source:
    """One incoming track of one participant: read, capped, encoded once, passed to the slots."""

    def __init__(
        self, kind: str, receiver: RTCRtpReceiver, on_frame: Callable[[], None], on_end: Callable[[], None]
    ) -> None:
        self.receiver, self.kind = receiver, kind
        self.slots: set[Slot] = set()
        self.tag: dict[str, str] = {}  # whose it is, as MEDIA_TRACKS tells the receivers
        self._on_frame, self._on_end = on_frame, on_end
        self._task: asyncio.Task[None] | None = None
        # Video: the reader keeps only the newest frame; the encoder takes it when it is free. A slow
        # encode then drops frames instead of queueing them without bound.
        self._latest: VideoFrame | None = None
        self._fresh = asyncio.Event()
        self._keyframe_at = 0.0  # monotonic time of the last keyframe; 0: the next one is
        self._next_due = 0.0
        self._video: av.VideoCodecContext | None = None
        self._audio: av.AudioCodecContext | None = None
        self._resampler: AudioResampler | None = None
        self._audio_pts = 0

    def start(self) -> None:
        self.track = self.receiver.track  # decoded frames, as aiortc gives them unless tapped
        self._task = asyncio.create_task(self._run(), name=f"sfu-source-{self.kind}")

    async def stop(self) -> None:
        for slot in list(self.slots):
            slot.attach(None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def request_keyframe(self, *, after_loss: bool = False) -> None:
        if after_loss and time.monotonic() - self._keyframe_at < LOSS_KEYFRAME_S:
            return
        self._keyframe_at = 0.0

    async def _run(self) -> None:
        try:
            if self.kind == "video":  # reading and encoding side by side; either ending ends both
                parts = {asyncio.create_task(self._read_video()), asyncio.create_task(self._encode_video_forever())}
                try:
                    done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
                    for part in done:
                        part.result()
                finally:
                    for part in parts:  # all of them first: this task may be cancelled while it waits
                        part.cancel()
                    await asyncio.wait(parts)
            else:
                await self._relay_audio()
        except MediaStreamError:
            pass  # the participant's track ended
        except asyncio.CancelledError:
            raise
        except Exception:  # one broken stream must not take the relay down
            log.exception("media source failed")
        self._on_end()

    async def _read_video(self) -> None:
        while True:
            frame = await self.track.recv()
            self._on_frame()
            now = time.monotonic()
            if now < self._next_due:  # at most MAX_FPS: the rest are dropped before any work is done
                continue
            # The next frame is due one interval later; frames that come a little early still count.
            self._next_due = max(self._next_due, now - 0.5 / MAX_FPS) + 1 / MAX_FPS
            assert isinstance(frame, VideoFrame)
            self._latest = frame
            self._fresh.set()

    async def _encode_video_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._fresh.wait()
            self._fresh.clear()
            frame, self._latest = self._latest, None
            if frame is None:
                continue
            now = time.monotonic()
            keyframe = now - self._keyframe_at >= KEYFRAME_EVERY_S
            if keyframe:
                self._keyframe_at = now
            for packet in await loop.run_in_executor(None, self._encode_video, frame, keyframe):
                self._fan_out(packet)

    def _encode_video(self, frame: VideoFrame, keyframe: bool) -> list[Packet]:
        """In a worker thread: PyAV releases the GIL while libvpx works."""
        scale = min(1.0, MAX_WIDTH / frame.width, MAX_HEIGHT / frame.height)
        width, height = int(frame.width * scale) & ~1, int(frame.height * scale) & ~1  # yuv420p: even
        frame = frame.reformat(width=width, height=height, format="yuv420p")
        codec = self._video
        if codec is None or (codec.width, codec.height) != (width, height):
            codec = self._video = _vp8_encoder(width, height)
            keyframe = True
        frame.pts, frame.time_base = _clock(VIDEO_CLOCK.denominator), VIDEO_CLOCK
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        packets = list(codec.encode(frame))
        for p in packets:  # the sender turns pts into the RTP timestamp
            p.pts, p.time_base = frame.pts, VIDEO_CLOCK
        return packets

    async def _relay_audio(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.track.recv()
            self._on_frame()
            assert isinstance(frame, AudioFrame)
            for packet in await loop.run_in_executor(None, self._encode_audio, frame):
                self._fan_out(packet)

    def _encode_audio(self, frame: AudioFrame) -> list[Packet]:
        if self._audio is None or self._resampler is None:
            self._audio, self._resampler = _opus_encoder()
            self._audio_pts = _clock(AUDIO_RATE)  # ahead of any source this slot carried before
        frame.pts = None  # the resampler cuts 20 ms frames; their timing is ours, not the sender's
        packets: list[Packet] = []
        for piece in self._resampler.resample(frame):
            packets += self._audio.encode(piece)
        for p in packets:
            p.pts, p.time_base = self._audio_pts, AUDIO_CLOCK
            self._audio_pts += OPUS_FRAME
        return packets

    def _fan_out(self, packet: Packet) -> None:
        for slot in list(self.slots):
            slot.put(packet)  # the same object for everyone: the senders only read it


def _vp8_encoder(width: int, height: int) -> av.VideoCodecContext:
    codec = av.CodecContext.create("libvpx", "w")
    assert isinstance(codec, av.VideoCodecContext)
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = VIDEO_CLOCK
    codec.framerate = fractions.Fraction(MAX_FPS, 1)
    codec.bit_rate = VIDEO_BITRATE
    codec.gop_size = 3000  # keyframes when asked for (new receiver, every KEYFRAME_EVERY_S), not by count
    codec.thread_count = 1  # one small stream per source; sources run side by side instead
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",  # the fastest: CPU is shared by every room on the machine
        "lag-in-frames": "0",  # no look-ahead: a frame in is a packet out
        "error-resilient": "1",  # receivers that lost a packet decode on
        "minrate": str(VIDEO_BITRATE),
        "maxrate": str(VIDEO_BITRATE),
        "bufsize": str(VIDEO_BITRATE),
        "static-thresh": "1",
        "partitions": "0",
    }
    return codec


def _opus_encoder() -> tuple[av.AudioCodecContext, AudioResampler]:
    codec = av.CodecContext.create("libopus", "w")
    assert isinstance(codec, av.AudioCodecContext)
    codec.bit_rate = AUDIO_BITRATE
    codec.format = "s16"
    codec.layout = "stereo"
    codec.sample_rate = AUDIO_RATE
    codec.time_base = AUDIO_CLOCK
    codec.options = {"application": "voip"}
    return codec, AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=OPUS_FRAME)


sfu.Source = Source  # type: ignore[misc,assignment]
sfu.Slot = Slot  # type: ignore[misc,assignment]
EncodeOnceSfu = sfu.Sfu
