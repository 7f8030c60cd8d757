"""A participant on a poor line (issue 14, part 4): Elsa, the patient, at home on 300 kbit/s that
loses 5 % of its packets, in a meeting with three on good lines (aiortc peers as in
test_media_relay.py). The others keep their frame rate from each other; Elsa keeps her audio, and
her video is held back while her line cannot carry it (the relay's rule: sip_service/video/media.py,
Downlink, unit-tested on a stopped clock in test_media.py).

The poor line is real, in the kernel: Elsa's peer runs in a process of its own inside a network
namespace, joined to this one by a veth pair, and both ends of the pair send through the same tc
tree: an HTB class of 300 kbit/s (its queue 20 packets, about 0.6 s) and, for 5 % of the packets at
random, a class whose queue holds nothing (pfifo limit 0): they are dropped. The random choice is a
classic-BPF classifier (cls_bpf `bytecode`: the kernel's `ld rand` against a threshold). `tc netem`
is what the issue names, but this machine's kernel is built without it (CONFIG_NET_SCH_NETEM is
not set: "Specified qdisc kind is unknown", and there are no modules to load); HTB, cls_bpf and
pfifo are built in. Everything Elsa's browser does crosses the line: her signaling (the websocket,
TCP) as well as her media.

The three others run in this process, with the service and the relay; the relay offers its host
candidates on loopback and on the veth's address. Their voices, and Elsa's, are Opus at 32 kbit/s
as browsers send (BrowserVoice; aiortc's 96 kbit/s would not leave room for three voices on
300 kbit/s, whatever the relay did).

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN: a namespace, a veth pair, tc) and iproute2, as .ci/run
has; without them it fails, saying so. It takes 15 to 25 s a database (on a 2-core machine busy
with other work): the four joining (half of it), Elsa's line
flooded until the relay has seen her reports (1 to 2 s), her first pause (4 s), a try at video
that fails, and a second pause."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aioice.ice
import aiortc.codecs
import httpx
import pytest
from media_peers import FPS, WAIT_S, BrowserVoice, MediaPeer, Moving

from sip_service.video import ice
from sip_service.video.media import VIDEO_PAUSE_S, Downlink
from sip_service.video.sfu import Sfu

from conftest import GraphQLClient, Service
from helpers import Setup, issue, plan_with_meetings, serving, signed_in, subscribed, token_of

RATE_KBIT, LOSS, QUEUE = 300, 0.05, 20  # the poor line: kbit/s, the share lost at random, packets queued
AUDIO_FPS = 50  # Opus frames of 20 ms
POOR_PEER = Path(__file__).resolve().parent / "poor_peer.py"
NEEDS = "this test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2 (ip, tc), as .ci/run has"


@pytest.fixture(autouse=True)
def patient_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in test_media_relay.py: peers and relay share this process's event loop, and consent
    checks get a busy machine's deadline."""
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 24)


@pytest.fixture(autouse=True)
def browser_voices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc.codecs, "OpusEncoder", BrowserVoice)


def lose_at_random(share: float, lost: int, kept: int) -> str:
    """tc's cls_bpf bytecode (classic BPF): a random 32-bit number (SKF_AD_RANDOM); from
    (1 - share) of the range up the packet goes to class `lost`, below it to `kept`."""
    ld_rand = (0x20, 0, 0, 0xFFFFF038)  # BPF_LD|BPF_W|BPF_ABS, SKF_AD_OFF + SKF_AD_RANDOM
    jge = (0x35, 0, 1, int((1 - share) * 2**32))  # BPF_JMP|BPF_JGE|BPF_K: true → next, false → skip one
    program = [ld_rand, jge, (0x06, 0, 0, lost), (0x06, 0, 0, kept)]  # BPF_RET|BPF_K: a class id
    return f"{len(program)}," + ",".join(" ".join(str(n) for n in op) for op in program)


@dataclass
class Line:
    namespace: str
    host: str  # this side's address on the veth pair (the relay's, the service's)
    peer: str  # the namespace's
    ip: str  # the ip command


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)}: {done.stderr.strip() or done.returncode} ({NEEDS})")


@pytest.fixture
def poor_line() -> Iterator[Line]:
    """A namespace behind a veth pair whose two ends each send at most RATE_KBIT and lose LOSS."""
    ip, tc = shutil.which("ip"), shutil.which("tc")
    if ip is None or tc is None:
        pytest.fail(f"no ip or tc on PATH: {NEEDS}")
    n = os.getpid() % 250 + 1
    line = Line(f"sip-poor-{os.getpid()}", f"10.213.{n}.1", f"10.213.{n}.2", ip)
    outside, inside = f"sipp{os.getpid()}h", f"sipp{os.getpid()}n"  # at most 15 characters
    _run(ip, "netns", "add", line.namespace)
    try:
        within = (ip, "netns", "exec", line.namespace)
        _run(ip, "link", "add", outside, "type", "veth", "peer", "name", inside)
        _run(ip, "link", "set", inside, "netns", line.namespace)
        _run(ip, "addr", "add", f"{line.host}/30", "dev", outside)
        _run(ip, "link", "set", outside, "up")
        _run(*within, ip, "addr", "add", f"{line.peer}/30", "dev", inside)
        _run(*within, ip, "link", "set", inside, "up")
        _run(*within, ip, "link", "set", "lo", "up")
        for prefix, dev in (((), outside), (within, inside)):
            qdisc = (*prefix, tc)
            _run(*qdisc, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10")
            _run(
                *qdisc, "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", f"{RATE_KBIT}kbit"
            )
            _run(*qdisc, "qdisc", "add", "dev", dev, "parent", "1:10", "pfifo", "limit", str(QUEUE))
            _run(*qdisc, "class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "1mbit")
            _run(*qdisc, "qdisc", "add", "dev", dev, "parent", "1:20", "pfifo", "limit", "0")  # holds nothing
            bytecode = lose_at_random(LOSS, lost=0x10020, kept=0x10010)
            _run(*qdisc, "filter", "add", "dev", dev, "parent", "1:", "bpf", "bytecode", bytecode)
        yield line
    finally:
        subprocess.run([ip, "netns", "del", line.namespace], check=False)  # the veth pair goes with it


@dataclass
class PoorPeer:
    """Elsa's browser in the namespace (poor_peer.py): what it says, as it says it."""

    process: asyncio.subprocess.Process
    said: list[dict[str, Any]] = field(default_factory=list)
    frames: dict[str, int] = field(default_factory=dict)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            self.said.append(message)
            self.frames = message.get("frames", self.frames)

    async def until(self, what: str, check: Callable[[], bool], within: float = WAIT_S) -> None:
        deadline = time.monotonic() + within
        while not check():
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"Elsa's peer: not {what} within {within} s; it said {self.said[-3:]}")
            await asyncio.sleep(0.05)

    def decoded(self, who: str, kind: str) -> int:
        return self.frames.get(f"{who}/{kind}", 0)


@asynccontextmanager
async def poor_peer(line: Line, url: str, bearer: str, meeting: str, participant: str) -> AsyncIterator[PoorPeer]:
    process = await asyncio.create_subprocess_exec(
        *(line.ip, "netns", "exec", line.namespace, sys.executable, str(POOR_PEER), url, bearer, meeting, participant),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    peer = PoorPeer(process)
    reader = asyncio.create_task(peer._read())
    try:
        yield peer
    finally:
        assert process.stdin is not None
        with contextlib.suppress(ConnectionError):
            process.stdin.write(b"stop\n")
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), WAIT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
        await reader


@dataclass
class Held:
    """When the relay held Elsa's video back (time.monotonic()), as seen every 20 ms."""

    intervals: list[tuple[float, float]] = field(default_factory=list)
    since: float | None = None

    async def watch(self, downlink: Downlink) -> None:
        while True:
            now = time.monotonic()
            if not downlink.video and self.since is None:
                self.since = now
            elif downlink.video and self.since is not None:
                self.intervals.append((self.since, now))
                self.since = None
            await asyncio.sleep(0.02)


async def guest_bearer(gql: GraphQLClient, http: httpx.AsyncClient, setup: Setup, participant: str) -> str:
    """As helpers.guest_token, with the invite link taken at the instance that `http` talks to."""
    exchanged = await http.post("/auth/invite", json={"token": token_of((await issue(gql, setup, participant))["url"])})
    assert exchanged.status_code == 200, exchanged.text
    token: str = exchanged.json()["meetingToken"]
    return token


def camera(peer: MediaPeer) -> Moving:
    return next(track for track in peer.sending if isinstance(track, Moving))


def per_second(times: list[float]) -> tuple[float, int]:
    """So many a second, as one over the median step between these times, and how many. The median,
    not the span: pictures made before the window (while the machine was busy with the connections)
    and decoded in it would otherwise bring their slower pace into the decoded side only."""
    steps = [b - a for a, b in itertools.pairwise(sorted(times)) if b > a]
    return (1 / statistics.median(steps) if steps else 0.0), len(times)


def picture_rate(me: MediaPeer, other: MediaPeer, since: float) -> tuple[float, int]:
    """Pictures a second from `other` decoded since then, by the media clock (as MediaPeer.picture_rate)."""
    return per_second(
        [m for who, kind, at, m in me.decoded if who == other.id and kind == "video" and at >= since and m is not None]
    )


async def test_a_poor_line_keeps_its_audio_and_costs_the_others_nothing(
    gql: GraphQLClient, world: Service, poor_line: Line
) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    meeting = setup.meetings[0]["id"]
    # An instance that listens on the veth's address too, and a relay with host candidates there.
    settings = world.settings.model_copy(update={"media_addresses": ["127.0.0.1", poor_line.host]})
    held = Held()
    try:
        # A deadline for the whole (teardown too): whatever hangs fails, with where it hung.
        async with (
            asyncio.timeout(3 * WAIT_S),
            serving(world, host=poor_line.host) as service,
            AsyncExitStack() as stack,
        ):
            relay = Sfu(settings, world.db, service.broker)
            await relay.start()
            stack.push_async_callback(relay.stop)
            # Guests' meeting tokens are the instance's own (its secret): their invite links are taken there.
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=service.url, timeout=WAIT_S))
            elsa_bearer, per_bearer = [await guest_bearer(gql, http, setup, p) for p in (setup.patient, setup.relative)]

            async def enter(bearer: str, participant: str) -> MediaPeer:
                socket = await stack.enter_async_context(signed_in(service.url, bearer))
                peer = MediaPeer(socket, await subscribed(socket, meeting), meeting, participant)
                stack.push_async_callback(peer.close)
                peer.id = (await peer.run("JoinMeeting"))["participantId"]
                return peer

            # Anna and Johan (staff) and Per (Elsa's son, admitted from the lobby), on good lines.
            anna = await enter(world.token("staff-anna"), "")
            johan = await enter(world.token("staff-johan"), "")
            per = await enter(per_bearer, setup.relative)
            await anna.expect("WAITING")
            await anna.run("AdmitToMeeting", participantId=setup.relative)
            await per.expect("ADMITTED")
            good = [anna, johan, per]
            for peer in good:
                assert "mediaServerId" in await peer.connect()
            for me in good:
                await me.receives(*[o for o in good if o is not me])

            before = [await me.packets() for me in good]
            # Elsa joins from home, is admitted, and connects.
            elsa = await stack.enter_async_context(
                poor_peer(poor_line, service.url, elsa_bearer, meeting, setup.patient)
            )
            await anna.expect("WAITING")
            await anna.run("AdmitToMeeting", participantId=setup.patient)
            await elsa.until("connected", lambda: any(m.get("connected") for m in elsa.said))
            since = time.monotonic()
            (room,) = relay.rooms.values()
            await elsa.until("in the relay's room", lambda: setup.patient in room.peers)
            downlink = room.peers[setup.patient].downlink
            watcher = asyncio.create_task(held.watch(downlink))
            stack.callback(watcher.cancel)

            # Her line cannot carry three pictures besides three voices: the relay holds her video
            # back, tries it again after the first pause, and holds it back again.
            await elsa.until("held back, tried, held back again", lambda: downlink.pauses >= 2 and bool(held.intervals))
            others = {
                (me.id, other.id): picture_rate(me, other, since) for me in good for other in good if other is not me
            }
            made = {p.id: per_second([t for t in camera(p).made if t >= since]) for p in good}
            lost = {
                (me.id, who): _lost_share(then[(who, "video")], now[(who, "video")])
                for me, then, now in zip(good, before, [await me.packets() for me in good], strict=True)
                for who in (o.id for o in good if o is not me)
            }
            heard = {other.id: other.frames[(setup.patient, "audio")] for other in good}
        # Elsa's peer has left (the exit stack): every frame it decoded, and when.
        (decoded,) = [m["decoded"] for m in elsa.said if "decoded" in m]
    finally:
        ice.gather_on(world.settings.media_addresses)  # the relay's lookup is process-wide
    assert elsa.process.returncode == 0, elsa.said[-3:]

    # The others, all along (her first seconds, when everything went down her line, her pauses,
    # the try between them): every picture from each other as their cameras made them (15 a
    # second, by the pictures' own timestamps, where the machine keeps up: a camera on a machine
    # busy with other work makes fewer, and the rate is judged against its own), no packet lost.
    for (me, other), (rate, pictures) in others.items():
        assert rate >= 0.9 * min(FPS, made[other][0]), (me, other, rate, pictures, made[other])
    assert all(share <= 0.01 for share in lost.values()), lost
    assert all(heard.values()), heard  # and what Elsa sends reaches them

    # Elsa, while her video was held back (from a second after the first pause began, when what was
    # on her line had arrived, to its end): every other's audio, as her line carries it (5 % lost),
    # and none of their video.
    start, end = held.intervals[0]
    assert end - start >= 0.9 * VIDEO_PAUSE_S[0], held.intervals
    reports = [m for m in elsa.said if "packets" in m and start + 1.0 <= m["at"] <= end]
    assert len(reports) >= 2, elsa.said
    first, last = reports[0], reports[-1]
    window = last["at"] - first["at"]
    for other in good:
        then, now = (
            {kind: m["packets"].get(f"{other.id}/{kind}", (0, 0)) for kind in ("audio", "video")} for m in (first, last)
        )
        # Audio keeps flowing at a good part of its rate: the senders are peers on this machine, and
        # a machine busy with other work makes fewer frames (29.4 a second seen in CI, against the
        # 30 asked for before); what the relay forwards of what they sent is judged by the RTP
        # sequence numbers (lost share), and the sound's continuity by the decoded frames below.
        audio = now["audio"][0] - then["audio"][0]
        assert audio >= 0.4 * AUDIO_FPS * window, (other.id, audio, window)
        assert _lost_share(then["audio"], now["audio"]) <= 0.15, (other.id, then, now)
        assert now["video"] == then["video"], (other.id, then, now)
        # Decoded all the while (aiortc's jitter buffer drops some frames more around each lost
        # packet; and a machine busy with other work can hold up the process that decodes).
        sound = sorted(
            at for who, kind, at, _ in decoded if who == other.id and kind == "audio" and first["at"] <= at < last["at"]
        )
        assert max(b - a for a, b in itertools.pairwise([first["at"], *sound, last["at"]])) <= 1.5, (other.id, sound)


def _lost_share(then: tuple[int, int], now: tuple[int, int]) -> float:
    """Of the packets sent between two (received, lost) counts, the share lost."""
    received, lost = now[0] - then[0], now[1] - then[1]
    return lost / max(1, received + lost)
