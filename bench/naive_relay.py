"""The baseline for bench/video.py: the same relay (signaling, rooms, offers, attendance) but with
the naive fan-out the issue warns about: each incoming track goes through aiortc's MediaRelay, every
receiver gets its own proxy of the decoded frames, and every receiver's sender encodes them on its
own: N decodes and N(N−1) encodes in a room of N. Frames are capped at the same 15 per second, so
that only the fan-out differs.

Only the benchmark's relay process imports this: it swaps the relay's Source and Slot for these.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sip_service.video import sfu

MAX_FPS = 15


class NaiveSource:
    def __init__(
        self, kind: str, receiver: RTCRtpReceiver, on_frame: Callable[[], None], on_end: Callable[[], None]
    ) -> None:
        self.receiver, self.kind = receiver, kind
        self.slots: set[NaiveSlot] = set()
        self.tag: dict[str, str] = {}
        self.relay = MediaRelay()
        self._on_frame, self._on_end = on_frame, on_end
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.track = self.receiver.track
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Frames arriving (for attendance, as the real relay does): one more proxy, no encode."""
        proxy = self.relay.subscribe(self.track)
        with contextlib.suppress(MediaStreamError):
            while True:
                await proxy.recv()
                self._on_frame()
        self._on_end()

    async def stop(self) -> None:
        for slot in list(self.slots):
            slot.attach(None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def request_keyframe(self, **_: Any) -> None:
        pass  # each receiver's own encoder starts with a keyframe


class NaiveSlot(MediaStreamTrack):
    def __init__(self, kind: str, downlink: object = None) -> None:  # no per-receiver handling
        super().__init__()
        self.kind = kind
        self.source: NaiveSource | None = None
        self._proxy: MediaStreamTrack | None = None
        self._next_due = 0.0

    def attach(self, source: NaiveSource | None) -> None:
        if self.source is not None:
            self.source.slots.discard(self)
        self.source = source
        self._proxy = source.relay.subscribe(source.track) if source is not None else None
        if source is not None:
            source.slots.add(self)

    def serve(self, sender: RTCRtpSender) -> None:
        pass  # aiortc's sender encodes what it is given, as it does by default

    def picture_lost(self) -> None:
        pass

    def report(self, fraction_lost: float | None, bitrate: int | None) -> None:
        pass

    async def recv(self) -> Any:  # a decoded frame: the sender encodes it, for this receiver alone
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._proxy is None:
                await asyncio.sleep(0.02)
                continue
            try:
                frame = await self._proxy.recv()
            except MediaStreamError:
                self._proxy = None
                continue
            if self.kind == "audio":
                return frame
            now = time.monotonic()
            if now >= self._next_due:  # the same cap as the real relay
                self._next_due = max(self._next_due, now - 0.5 / MAX_FPS) + 1 / MAX_FPS
                return frame


sfu.Source = NaiveSource  # type: ignore[misc,assignment]
sfu.Slot = NaiveSlot  # type: ignore[misc,assignment]
NaiveSfu = sfu.Sfu
