"""One participant in a process of its own, run by test_poor_link.py inside a network namespace
(`ip netns exec`), so that everything it sends and gets crosses the namespace's poor line.

    python tests/video/poor_peer.py <service url> <bearer> <meeting id> <participant id>

It joins (waiting in the lobby until admitted, if it must), connects media as MediaPeer does
(browsers' voices: BrowserVoice) and says on stdout, one JSON object a line:
    {"state": "IN_ROOM" | "WAITING"}   its JoinMeeting
    {"connected": true}                its ConnectMedia was taken
    {"at": time.monotonic(), "frames": {"<participant id>/<audio|video>": n, ...}, "packets": {...: [received, lost]}}
                                       every 0.2 s: what it has decoded, and RTP packets (MediaPeer.packets)
and, when a line `stop` (or the end) comes on stdin, every frame it decoded:
    {"decoded": [[participant id, audio|video, time.monotonic() when decoded, media time], ...]}
then leaves. Errors go to stderr, and the exit code is not 0."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # the test helpers, as pytest's rootdir conftest sets them
os.environ.setdefault("SIP_TEST_REDIS_URL", "redis://unused")  # the helpers read it on import

import aiortc.codecs  # noqa: E402
from media_peers import BrowserVoice, MediaPeer  # noqa: E402

from helpers import signed_in, subscribed  # noqa: E402


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main(url: str, bearer: str, meeting: str, participant: str) -> None:
    aiortc.codecs.OpusEncoder = BrowserVoice  # type: ignore[misc]
    loop = asyncio.get_running_loop()
    stop = loop.run_in_executor(None, sys.stdin.readline)  # "stop", or "" at the end
    async with signed_in(url, bearer) as socket:
        peer = MediaPeer(socket, await subscribed(socket, meeting), meeting, participant)
        try:
            state = (await peer.run("JoinMeeting"))["state"]
            say({"state": state})
            if state == "WAITING":
                await peer.expect("ADMITTED")
            connected = await peer.connect()
            assert "mediaServerId" in connected, connected
            say({"connected": True})
            while not stop.done():
                packets = await peer.packets()
                say(
                    {
                        "at": time.monotonic(),
                        "frames": {f"{who}/{kind}": n for (who, kind), n in peer.frames.items()},
                        "packets": {f"{who}/{kind}": n for (who, kind), n in packets.items()},
                    }
                )
                await asyncio.wait([stop], timeout=0.2)
            say({"decoded": peer.decoded})
        finally:
            await peer.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
