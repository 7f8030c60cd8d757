"""Every place where the relay reaches into aiortc's private parts, and nowhere else.

aiortc (pinned exactly in pyproject.toml, AIORTC_VERSION here) has no public way to receive media
without decoding it, nor to send pre-encoded media without an encoder of its own standing by, nor to
see a receiver's feedback (RTCP) on what it sends. The relay needs all three to forward:
- a receiver's decoder queue is replaced by a tap: aiortc puts each reassembled encoded frame
  (after SRTP, NACKs and its jitter buffer) into it, and the tap hands the bytes on; the decoder
  thread aiortc starts reads "stop" from it at once and never makes a decoder;
- a sender gets a packer instead of an encoder: it only packetizes the encoded frames it is given
  (Encoded, or av.Packets as on the path `MediaPlayer(decode=False)` takes), with aiortc's own VP8
  payload descriptors, and its picture-loss and report handling is routed to the relay, whose
  sources are shared by every receiver;
- aiortc stamps every RTP packet it sends with the NTP time (abs-send-time, and again for its
  sender reports), through datetime arithmetic: its clock's current_ntp_time is replaced by the
  same 64-bit value computed from time.time_ns(), about a tenth of its cost (fast_clock).
tests/video/test_aiortc_private.py exercises each hook on real aiortc connections and fails loudly
when an upgrade moves any of them: then re-check this module against the new aiortc and the pin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiortc
import aiortc.clock
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.base import Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RTCP_PSFB_APP, AnyRtcpPacket, RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket, unpack_remb_fci

if TYPE_CHECKING:
    from av.frame import Frame
    from av.packet import Packet as AnyPacket
    from av.stream import Stream

    Packet = AnyPacket[Stream]

AIORTC_VERSION = "1.16.0"

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_ENCODER = "_RTCRtpSender__encoder"


class AiortcChanged(RuntimeError):
    """aiortc no longer has what this module relies on: an upgrade that needs this module re-checked."""


def _require(obj: object, name: str) -> None:
    if not hasattr(obj, name):
        raise AiortcChanged(
            f"aiortc {aiortc.__version__}: {type(obj).__name__} has no {name} (this module was written "
            f"for aiortc {AIORTC_VERSION})"
        )


class _Tap:
    """Stands in for a receiver's decoder queue (a queue.Queue of (codec, JitterFrame), None at the end)."""

    def __init__(self, on_frame: Callable[[bytes, int], None], on_end: Callable[[], None]) -> None:
        self._on_frame, self._on_end = on_frame, on_end

    def put(self, task: tuple[Any, Any] | None) -> None:  # in the event loop, as aiortc receives RTP
        if task is None:
            self._on_end()
        else:
            self._on_frame(task[1].data, task[1].timestamp)

    def get(self) -> None:  # in aiortc's decoder thread: it ends at once, without making a decoder
        return None


def tap_receiver(receiver: RTCRtpReceiver, on_frame: Callable[[bytes, int], None], on_end: Callable[[], None]) -> None:
    """Encoded frames instead of decoded ones: on_frame(frame bytes, RTP timestamp counted from the
    first frame), on_end() when the sender's stream ends. Before the receiver starts (its offer)."""
    _require(receiver, _DECODER_QUEUE)
    _require(receiver, _DECODER_THREAD)
    if getattr(receiver, _DECODER_THREAD) is not None:
        raise AiortcChanged("the receiver is running already: tap it before it starts")
    setattr(receiver, _DECODER_QUEUE, _Tap(on_frame, on_end))


def decoding(receiver: RTCRtpReceiver) -> bool:
    """Whether aiortc decodes this receiver's media (a running decoder thread)."""
    thread = getattr(receiver, _DECODER_THREAD)
    return thread is not None and thread.is_alive()


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """RTCP PLI to whoever sends to this receiver (every SSRC heard lately; a sender ignores others)."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)


class Encoded:
    """One encoded frame as a sender packetizes it: its bytes and RTP timestamp (90 kHz for VP8, 48 kHz
    for Opus). What the relay forwards: lighter than an av.Packet, whose pts in a Fraction time base
    aiortc converts for every packet of every receiver. A sender given av.Packets still takes them."""

    __slots__ = ("data", "timestamp")

    def __init__(self, data: bytes, timestamp: int) -> None:
        self.data, self.timestamp = data, timestamp


class _OpusPacker(Encoder):
    """aiortc's OpusEncoder.pack without the libopus encoder its constructor makes."""

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise AiortcChanged("the relay sends encoded audio only")

    def pack(self, packet: Encoded | Packet) -> tuple[list[bytes], int]:
        if isinstance(packet, Encoded):
            return [packet.data], packet.timestamp
        assert packet.pts is not None and packet.time_base is not None
        return [bytes(packet)], int(packet.pts * packet.time_base * 48_000)


class _Vp8Packer(Vp8Encoder):
    """aiortc's Vp8Encoder.pack (its own payload descriptors and picture ids) for Encoded frames too.
    Its libvpx context is made only when it first encodes, which this one never does."""

    def pack(self, packet: Encoded | Packet) -> tuple[list[bytes], int]:
        if not isinstance(packet, Encoded):
            return super().pack(packet)
        payloads = self._packetize(packet.data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, packet.timestamp


def send_encoded(
    sender: RTCRtpSender,
    on_picture_lost: Callable[[], None],
    on_report: Callable[[float | None, int | None], None],
) -> None:
    """The sender packetizes the encoded frames its track gives (never encodes). Its receiver's picture
    loss (PLI/FIR) goes to on_picture_lost; its reports to on_report(fraction lost 0–1 or None,
    estimated maximum bitrate in bit/s (REMB) or None)."""
    _require(sender, _ENCODER)
    _require(sender, "_send_keyframe")
    _require(sender, "_handle_rtcp_packet")
    packer: Encoder = _OpusPacker()
    if sender.kind == "video":
        packer = _Vp8Packer()
        _require(packer, "_packetize")
        _require(packer, "picture_id")
    setattr(sender, _ENCODER, packer)
    sender._send_keyframe = on_picture_lost  # type: ignore[method-assign]
    handle = sender._handle_rtcp_packet

    async def handle_rtcp(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc == sender._ssrc:
                    on_report(report.fraction_lost / 256, None)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                pass
            else:
                if sender._ssrc in ssrcs:
                    on_report(None, bitrate)
        await handle(packet)

    sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]


_NTP_UNIX = 2_208_988_800  # seconds from 1900-01-01 (NTP's epoch) to 1970-01-01


def ntp_time() -> int:
    """aiortc.clock.current_ntp_time's value (64-bit NTP: seconds, and microseconds as a 32-bit
    fraction) from time.time_ns(), without datetime objects."""
    seconds, ns = divmod(time.time_ns(), 1_000_000_000)
    return ((seconds + _NTP_UNIX) << 32) | (((ns // 1000) << 32) // 1_000_000)


def fast_clock() -> None:
    """aiortc's senders and receivers take the NTP time from ntp_time (process-wide: the same value,
    cheaper)."""
    _require(aiortc.clock, "current_ntp_time")
    aiortc.clock.current_ntp_time = ntp_time


def encoding(sender: RTCRtpSender) -> bool:
    """Whether aiortc encodes for this sender (an encoder that made a codec context of its own)."""
    encoder = getattr(sender, _ENCODER)
    return encoder is not None and not isinstance(encoder, _OpusPacker) and getattr(encoder, "codec", None) is not None
