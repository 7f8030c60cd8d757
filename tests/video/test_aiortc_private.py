"""The relay's private hooks into aiortc (sip_service/video/aiortc_private.py), each on real aiortc
connections over loopback: a "camera" sends a moving picture and a tone to a "relay" connection,
which takes the encoded frames from its tapped receivers and sends them straight back through
packing senders; the camera decodes what comes back. If an aiortc upgrade moves anything these
hooks touch, this fails here, loudly, rather than as a silent meeting."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aioice.ice
import aiortc
import aiortc.clock
import av
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from media_peers import WAIT_S, Moving, Tone

from sip_service.video import aiortc_private
from sip_service.video.media import CLOCKS, is_keyframe

ROOT = Path(__file__).resolve().parents[2]


def test_aiortc_is_the_release_the_hooks_were_written_for() -> None:
    assert aiortc.__version__ == aiortc_private.AIORTC_VERSION, (
        f"aiortc {aiortc.__version__} is installed; sip_service/video/aiortc_private.py was checked against "
        f"{aiortc_private.AIORTC_VERSION}: re-check it (and this test) against the new release, then move the pin"
    )
    pins = re.findall(r'"aiortc([^"]*)"', (ROOT / "pyproject.toml").read_text())
    assert pins == [f"=={aiortc_private.AIORTC_VERSION}"], pins
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert f"aiortc=={aiortc_private.AIORTC_VERSION} " in (ROOT / lock).read_text(), lock


class Packets(MediaStreamTrack):
    """A track of encoded packets, as the relay's slots are."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[aiortc_private.Encoded | av.Packet] = asyncio.Queue()

    async def recv(self) -> Any:
        return await self.queue.get()


async def until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        await asyncio.sleep(0.05)


async def test_tapped_receivers_and_packing_senders_forward_without_a_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    config = RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    relay, camera = RTCPeerConnection(config), RTCPeerConnection(config)
    tapped: dict[str, list[tuple[bytes, int]]] = {"audio": [], "video": []}
    ended: list[str] = []
    lost: list[str] = []
    reports: list[tuple[str, float | None, int | None]] = []
    decoded: Counter[str] = Counter()
    tasks: list[asyncio.Task[None]] = []
    inbound: dict[str, RTCRtpTransceiver] = {}
    outbound: dict[str, RTCRtpTransceiver] = {}
    try:
        for kind in ("audio", "video"):
            out = Packets(kind)

            def arrived(data: bytes, timestamp: int, kind: str = kind, out: Packets = out) -> None:
                tapped[kind].append((data, timestamp))
                if kind == "audio" or any(is_keyframe(kind, d) for d, _ in tapped[kind]):
                    if len(tapped[kind]) % 2:  # as the relay forwards
                        out.queue.put_nowait(aiortc_private.Encoded(data, timestamp))
                    else:  # as bench/encode_once_relay.py sends what it encoded
                        packet = av.Packet(data)
                        packet.pts, packet.time_base = timestamp, CLOCKS[kind]
                        out.queue.put_nowait(packet)

            inbound[kind] = relay.addTransceiver(kind, direction="recvonly")
            aiortc_private.tap_receiver(inbound[kind].receiver, arrived, lambda kind=kind: ended.append(kind))
            outbound[kind] = relay.addTransceiver(out, direction="sendonly")
            aiortc_private.send_encoded(
                outbound[kind].sender,
                lambda kind=kind: lost.append(kind),
                lambda lost, bitrate, kind=kind: reports.append((kind, lost, bitrate)),
            )

        def count(track: MediaStreamTrack) -> None:
            async def decode() -> None:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        await track.recv()
                        decoded[track.kind] += 1

            tasks.append(asyncio.create_task(decode()))

        camera.on("track", count)
        await relay.setLocalDescription(await relay.createOffer())
        await camera.setRemoteDescription(relay.localDescription)
        camera.addTrack(Tone())
        camera.addTrack(Moving())
        await camera.setLocalDescription(await camera.createAnswer())
        await relay.setRemoteDescription(camera.localDescription)

        # Encoded frames come out of the taps, a keyframe first; sent back, the camera decodes them.
        await until(
            "the camera decodes 20 forwarded pictures and tones", lambda: min(decoded.values(), default=0) >= 20
        )
        assert is_keyframe("video", tapped["video"][0][0]), tapped["video"][0][0][:10]
        assert [t for _, t in tapped["video"][:3]] == sorted(t for _, t in tapped["video"][:3])
        assert tapped["video"][0][1] == 0 and tapped["audio"][0][1] == 0  # counted from the first frame
        # Neither side of the relay made a codec.
        for kind in ("audio", "video"):
            assert not aiortc_private.decoding(inbound[kind].receiver)
            assert not aiortc_private.encoding(outbound[kind].sender)
        # The camera's own decoders and encoders run, as a participant's do (the check sees them).
        camera_video = next(t for t in camera.getTransceivers() if t.kind == "video" and t.sender.track)
        receiving = next(t for t in camera.getTransceivers() if t.mid == outbound["video"].mid)
        assert aiortc_private.encoding(camera_video.sender)
        assert aiortc_private.decoding(receiving.receiver)

        # A keyframe asked of the camera arrives (its sender counts the requests).
        asked: list[int] = []
        keyframe = camera_video.sender._send_keyframe
        camera_video.sender._send_keyframe = lambda: (asked.append(1), keyframe())[1]  # type: ignore[method-assign]
        keyframes = sum(is_keyframe("video", d) for d, _ in tapped["video"])
        await aiortc_private.request_keyframe(inbound["video"].receiver)
        await until("the camera's sender asked for a keyframe", lambda: bool(asked))
        await until(
            "a keyframe after the request",
            lambda: sum(is_keyframe("video", d) for d, _ in tapped["video"]) > keyframes,
        )

        # The camera's picture loss and reports reach the relay's packing sender.
        await receiving.receiver._send_rtcp_pli(outbound["video"].sender._ssrc)
        await until("the relay's sender heard the picture loss", lambda: lost == ["video"])
        await until(
            "receiver reports on audio and video",
            lambda: {k for k, f, _ in reports if f is not None} == {"audio", "video"},
        )
        await until("a bitrate estimate (REMB) for video", lambda: any(b for k, _, b in reports if k == "video"))

        # The camera goes: the taps hear the end of both streams.
        await camera.close()
        await until("both taps ended", lambda: sorted(ended) == ["audio", "video"])
    finally:
        for task in tasks:
            task.cancel()
        await camera.close()
        await relay.close()


def test_a_receiver_that_runs_already_cannot_be_tapped() -> None:
    class Running:
        _RTCRtpReceiver__decoder_queue = None
        _RTCRtpReceiver__decoder_thread = object()

    with pytest.raises(aiortc_private.AiortcChanged, match="tap it before it starts"):
        aiortc_private.tap_receiver(Running(), lambda data, ts: None, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(aiortc_private.AiortcChanged, match="has no _RTCRtpReceiver__decoder_queue"):
        aiortc_private.tap_receiver(object(), lambda data, ts: None, lambda: None)  # type: ignore[arg-type]


def test_the_ntp_time_is_aiortcs_own_made_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    before = aiortc_private.ntp_time()
    theirs = aiortc.clock.datetime_to_ntp(aiortc.clock.current_datetime())
    after = aiortc_private.ntp_time()
    assert before <= theirs <= after and after - before < 1 << 32, (before, theirs, after)  # within a second
    assert aiortc.clock.datetime_from_ntp(before).year == aiortc.clock.current_datetime().year
    monkeypatch.setattr(aiortc.clock, "current_ntp_time", aiortc.clock.current_ntp_time)  # restored after
    aiortc_private.fast_clock()
    assert aiortc.clock.current_ntp_time is aiortc_private.ntp_time
