"""The forwarding parts of the relay on their own (sip_service/video/media.py): one source's encoded
frames to its slots, and the keyframes it asks of its sender, on the service's clock (stopped and
moved here, so that the limit is checked exactly)."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from sip_service.kit import clock
from sip_service.video.media import KEYFRAME_INTERVAL_S, VIDEO_PAUSE_S, VIDEO_STABLE_S, Downlink, Slot, Source

KEY, DELTA = b"\x10\x02\x00\x9d\x01\x2a", b"\x11\x02\x00"  # VP8 frame tags: bit 0 clear on a keyframe


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(clock, "monotonic", c)
    return c


async def test_keyframes_are_asked_on_join_and_loss_at_most_once_an_interval(stopped: Clock) -> None:
    pc = RTCPeerConnection()
    frames: list[int] = []
    try:
        source = Source("video", pc.addTransceiver("video").receiver, lambda: frames.append(1), lambda: None)
        first, second, third = Slot("video"), Slot("video"), Slot("video")
        first.attach(source)  # someone joins: ask at once
        assert source.keyframes_asked == 1
        second.attach(source)  # another, at the same moment: the same keyframe will do
        source.frame_arrived(DELTA, 0)
        assert source.keyframes_asked == 1
        stopped.now += KEYFRAME_INTERVAL_S / 2
        source.frame_arrived(DELTA, 3000)
        assert source.keyframes_asked == 1
        stopped.now += KEYFRAME_INTERVAL_S / 2  # still no keyframe a whole interval later: ask again
        source.frame_arrived(DELTA, 6000)
        assert source.keyframes_asked == 2
        assert frames == [1, 1, 1]  # every frame counts as media arriving (attendance)

        # The keyframe: both start with it, the same packet; nobody waits, nobody asks.
        source.frame_arrived(KEY, 9000)
        stopped.now += 10 * KEYFRAME_INTERVAL_S
        source.frame_arrived(DELTA, 12000)
        got = [first._queue.popleft(), first._queue.popleft()]
        assert [second._queue.popleft(), second._queue.popleft()] == got  # the very same objects
        assert [p.data for p in got] == [KEY, DELTA]
        assert got[1].timestamp - got[0].timestamp == 3000  # the sender's timing, kept
        assert source.keyframes_asked == 2

        # A receiver on a bad line reports lost pictures again and again: one keyframe an interval.
        for _ in range(20):
            first.picture_lost()
            source.frame_arrived(DELTA, 15000)
        assert source.keyframes_asked == 3
        stopped.now += KEYFRAME_INTERVAL_S
        first.picture_lost()
        assert source.keyframes_asked == 4

        # A receiver that joins starts at a keyframe, not in the middle.
        stopped.now += KEYFRAME_INTERVAL_S
        third.attach(source)
        assert source.keyframes_asked == 5
        source.frame_arrived(DELTA, 18000)
        assert not third._queue
        source.frame_arrived(KEY, 21000)
        assert [p.data for p in third._queue] == [KEY]
        await source.stop()
        assert not source.slots and first.source is None
    finally:
        await pc.close()


async def test_audio_goes_to_everyone_at_once_and_never_asks(stopped: Clock) -> None:
    pc = RTCPeerConnection()
    try:
        source = Source("audio", pc.addTransceiver("audio").receiver, lambda: None, lambda: None)
        slot = Slot("audio")
        slot.attach(source)
        for n in range(3):
            source.frame_arrived(bytes([0xFC, n]), 960 * n)  # Opus: each packet stands alone
        assert [p.data for p in slot._queue] == [b"\xfc\x00", b"\xfc\x01", b"\xfc\x02"]
        assert source.keyframes_asked == 0
    finally:
        await pc.close()


async def test_a_receiver_whose_line_loses_too_much_gets_audio_only_for_a_while(stopped: Clock) -> None:
    pc = RTCPeerConnection()
    try:
        video = Source("video", pc.addTransceiver("video").receiver, lambda: None, lambda: None)
        audio = Source("audio", pc.addTransceiver("audio").receiver, lambda: None, lambda: None)
        poor, good = Downlink(), Downlink()
        theirs, their_sound, mine = Slot("video", poor), Slot("audio", poor), Slot("video", good)
        for slot, source in ((theirs, video), (their_sound, audio), (mine, video)):
            slot.attach(source)
        video.frame_arrived(KEY, 0)
        assert len(theirs._queue) == len(mine._queue) == 1

        # A few per cent lost is a lossy line, not a full one: video stays.
        for _ in range(20):
            their_sound.report(0.05, None)
            theirs.report(0.04, None)
        assert poor.carries_video() and poor.pauses == 0

        # Its reports say it loses a third (smoothed: two reports): its video stops, its audio goes
        # on, and so does the other receiver's video.
        theirs.report(0.35, None)
        assert poor.carries_video()
        their_sound.report(0.35, None)
        theirs.report(0.35, None)
        assert not poor.carries_video() and poor.pauses == 1 and good.carries_video()
        asked = video.keyframes_asked
        for n in range(1, 40):
            video.frame_arrived(DELTA, 3000 * n)
            audio.frame_arrived(b"\xfc\x00", 960 * n)
        assert len(theirs._queue) == 1 and len(their_sound._queue) == 39 and len(mine._queue) == 40
        assert video.keyframes_asked == asked  # nobody's camera is asked for keyframes it cannot use

        # After the first pause it is tried again, from a keyframe.
        stopped.now += VIDEO_PAUSE_S[0]
        video.frame_arrived(DELTA, 200_000)
        assert poor.carries_video() and video.keyframes_asked == asked + 1 and len(theirs._queue) == 1
        video.frame_arrived(KEY, 203_000)
        assert len(theirs._queue) == 2

        # It fails again at once: the next pause is twice as long.
        theirs.report(0.6, None)
        theirs.report(0.6, None)
        assert not poor.carries_video() and poor.pauses == 2
        stopped.now += VIDEO_PAUSE_S[0]
        assert not poor.carries_video()
        stopped.now += VIDEO_PAUSE_S[0]
        assert poor.carries_video()
        # Video that holds a while: a later failure pauses it for the first pause again.
        stopped.now += VIDEO_STABLE_S
        theirs.report(0.9, None)
        theirs.report(0.9, None)
        stopped.now += VIDEO_PAUSE_S[0]
        assert poor.carries_video() and poor.pauses == 3
    finally:
        await pc.close()
