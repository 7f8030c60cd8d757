"""Benchmark: the forwarding media relay (SFU) against the encode-once relay it replaced and a naive
MediaRelay relay; the API's latency while a meeting runs; and the time from an invite link to the
first remote frame (see bench/README.md).

    .venv/bin/python bench/video.py [--seconds N] [--picture 320x240]

Needs PostgreSQL (database `sip_bench`, made and dropped as bench/run.py does) and `redis-server`
(it starts one of its own on a free port). The participants are aiortc peers in this process
(tests/video/media_peers.py: a moving picture and a tone, answering the relay's offers over the
GraphQL websocket as a browser does); the service and the relays run in child processes, whose
CPU time is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "video")]  # the test peers
os.environ.setdefault("SIP_TEST_REDIS_URL", "redis://unused")  # the test helpers read it on import

from media_peers import MediaPeer  # noqa: E402
from run import SA_URL, build_data, cpu_seconds, free_port, recreate_database, wait_healthy  # noqa: E402

from sip_service.api.operations import documents  # noqa: E402
from sip_service.auth.principal import CitizenPrincipal, StaffPrincipal  # noqa: E402
from sip_service.http.devprovider import DevProvider  # noqa: E402
from sip_service.kit import clock, migrations  # noqa: E402
from sip_service.kit.db import Database  # noqa: E402
from sip_service.meetings import invites  # noqa: E402
from sip_service.meetings import service as meetings  # noqa: E402
from sip_service.models.identity import StaffMember  # noqa: E402
from sip_service.models.meetings import InvitationChannel, MeetingKind  # noqa: E402
from sip_service.models.meetings import Meeting as MeetingRow  # noqa: E402
from sip_service.models.plans import Participant, ParticipantKind, Plan  # noqa: E402
from sip_service.plans import service as plans  # noqa: E402
from sip_service.settings import Settings  # noqa: E402

from helpers import signed_in  # noqa: E402

# A Redis of the bench's own (started by main, inherited by the child processes): the relay listens
# on the global channel `sip:media`, where it would meet the test runs of a shared Redis.
REDIS = os.environ.get("SIP_BENCH_REDIS_URL", "")
# Who takes part: four staff (straight into the room) and the patient and a relative (admitted).
PEOPLE = ["staff-anna", "staff-johan", "citizen-elsa", "staff-omar", "staff-sara", "citizen-per"]


def settings_for(key_file: Path, **changes: Any) -> Settings:
    return Settings(
        database_url=SA_URL,
        dev_oidc_key_file=key_file,
        media_addresses=["127.0.0.1"],
        notify_interval_s=0,
        **changes,
    )


async def meeting_now(plan_id: uuid.UUID, decide: bool = True) -> uuid.UUID:
    """A video meeting of the bench plan that starts now, everyone invited (Per wanted by Elsa, once:
    `decide`)."""
    db = Database(SA_URL)
    async with db.write() as s:
        m = (await s.scalars(select(StaffMember).where(StaffMember.name == "Anna Lind"))).one()
        anna = StaffPrincipal(m.id, m.organisation_id, m.hsa_id, m.name)
        now = clock.now()
        meeting = await meetings.schedule_meeting(
            s, anna, plan_id, kind=MeetingKind.VIDEO, starts_at=now, ends_at=now + timedelta(hours=2)
        )
        await s.flush()
        everyone = list(await s.scalars(select(Participant).where(Participant.plan_id == plan_id)))
        # Elsa wants her son Per there (a relative sees the plan only then).
        patient = next(p for p in everyone if p.kind is ParticipantKind.PATIENT)
        per = next(p for p in everyone if p.role == "Son")
        plan = await s.get(Plan, plan_id)
        assert plan is not None and patient.citizen_id is not None
        elsa = CitizenPrincipal(patient.citizen_id, "Elsa Andersson")
        if decide:
            await plans.record_relatives_decision(s, elsa, plan_id, plan.version, [per.id])
            await s.flush()
        invited = [p.id for p in everyone if p.kind is not ParticipantKind.RELATIVE or p is per]  # Elsa's choice
        await meetings.invite(s, anna, meeting.id, meeting.version, invited, InvitationChannel.SMS)
        meeting_id = meeting.id
    await db.dispose()
    return meeting_id


async def fresh_link(meeting_id: uuid.UUID) -> str:
    """A new invite link for the patient (a link works once; issuing revokes the one before)."""
    db = Database(SA_URL)
    async with db.write() as s:
        m = (await s.scalars(select(StaffMember).where(StaffMember.name == "Anna Lind"))).one()
        anna = StaffPrincipal(m.id, m.organisation_id, m.hsa_id, m.name)
        meeting = await s.get(MeetingRow, meeting_id)
        assert meeting is not None
        patient = (
            await s.scalars(
                select(Participant.id).where(
                    Participant.plan_id == meeting.plan_id, Participant.kind == ParticipantKind.PATIENT
                )
            )
        ).one()
        token = (await invites.issue_link(s, anna, meeting_id, meeting.version, patient)).token
    await db.dispose()
    return token


# ---- child processes ------------------------------------------------------------------------------


def serve_api(port: int, key_file: Path, media_in_process: bool, more: dict[str, Any] | None = None) -> None:
    from sip_service.app import create_app

    redis_url = None if media_in_process else REDIS
    settings = settings_for(key_file, media_in_process=media_in_process, redis_url=redis_url, **(more or {}))
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run_relay(kind: str, key_file: Path) -> None:
    from sip_service.kit.pubsub import broker_for
    from sip_service.video.sfu import Sfu

    if kind == "naive":
        import naive_relay  # swaps the relay's fan-out for MediaRelay's, in this process only

        assert naive_relay.NaiveSfu is Sfu
    elif kind == "encode-once":
        import encode_once_relay  # swaps forwarding for decoding and encoding once, in this process only

        assert encode_once_relay.EncodeOnceSfu is Sfu

    async def main() -> None:
        settings = settings_for(key_file, redis_url=REDIS)
        await Sfu(settings, Database(SA_URL), broker_for(REDIS)).run_forever()

    asyncio.run(main())


@contextlib.contextmanager
def child(target: Any, *args: Any, port: int | None = None) -> Any:
    proc = mp.get_context("spawn").Process(target=target, args=args, daemon=True)
    proc.start()
    try:
        if port is not None:
            wait_healthy(port)
        else:
            time.sleep(3)  # a relay has no health check: give it time to subscribe
        yield proc.pid
    finally:
        proc.terminate()
        proc.join(15)


# ---- a meeting of aiortc peers -------------------------------------------------------------------


class Meeting:
    def __init__(
        self,
        url: str,
        meeting_id: uuid.UUID,
        tokens: dict[str, str],
        picture: tuple[int, int],
        separate: bool = False,  # on Janus: each publishes on a connection of its own
    ) -> None:
        self.url, self.meeting_id, self.tokens, self.picture = url, str(meeting_id), tokens, picture
        self.separate = separate
        self.peers: list[MediaPeer] = []
        self.reconnects = 0
        self.stack = AsyncExitStack()

    async def enter(self, who: str) -> MediaPeer:
        """Sign in, subscribe, join (admitted by the first peer if they wait), connect media."""
        socket = await self.stack.enter_async_context(signed_in(self.url, self.tokens[who]))
        events = await socket.events(self.meeting_id)
        first = await events.next()
        peer = MediaPeer(socket, events, self.meeting_id, first["fromParticipantId"])
        peer.picture = self.picture
        peer.separate = self.separate
        joined = await peer.run("JoinMeeting")
        if joined["state"] == "WAITING":
            admitted = await self.peers[0].run("AdmitToMeeting", participantId=peer.id)
            assert admitted["state"] == "IN_ROOM", admitted
            await peer.expect("ADMITTED")
        connected = await peer.connect()
        assert "mediaServerId" in connected, connected
        self.peers.append(peer)
        return peer

    async def flowing(self) -> None:
        """Everyone decodes frames from everyone else. A participant who does not within 20 s
        connects again in full, as the browser page does (counted in `reconnects`)."""
        for _ in range(3):
            received = await asyncio.gather(*(self._receives_all(p) for p in self.peers))
            missing = [peer for peer, done in zip(self.peers, received, strict=True) if not done]
            if not missing:
                return
            for peer in missing:
                self.reconnects += 1
                await peer.connect()
        raise SystemExit(f"media did not flow to everyone in the meeting of {len(self.peers)}")

    async def _receives_all(self, peer: MediaPeer) -> bool:
        try:
            await peer.receives(*(o for o in self.peers if o is not peer), frames=5, within=20)
        except AssertionError:
            return False
        return True

    def video_frames(self) -> int:
        return sum(n for p in self.peers for (_, media), n in p.frames.items() if media == "video")

    async def close(self) -> None:
        for peer in self.peers:  # media first, so that nobody answers the offers the leaving causes
            with contextlib.suppress(Exception):
                await peer.close()
        for peer in self.peers:
            with contextlib.suppress(Exception):
                await peer.run("LeaveMeeting")
        await self.stack.aclose()
        await asyncio.sleep(2)  # the relay closes their peers


@asynccontextmanager
async def meeting_of(
    n: int, url: str, meeting_id: uuid.UUID, tokens: dict[str, str], picture: tuple[int, int]
) -> AsyncIterator[Meeting]:
    m = Meeting(url, meeting_id, tokens, picture)
    try:
        for who in PEOPLE[:n]:
            await m.enter(who)
        await m.flowing()
        yield m
    finally:
        await m.close()


async def relay_cpu(m: Meeting, pid: int, seconds: float) -> dict[str, float]:
    """CPU of the relay process (% of one core) and the video frames each receiver decodes per
    second from each sender, over `seconds` of a running meeting."""
    await asyncio.sleep(2)  # settle after the last join
    n = len(m.peers)
    cpu0, frames0, t0 = cpu_seconds(pid), m.video_frames(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, frames1, t1 = cpu_seconds(pid), m.video_frames(), time.monotonic()
    fps = (frames1 - frames0) / (t1 - t0) / (n * (n - 1))
    return {"cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0), "fps": fps, "reconnects": m.reconnects}


async def api_latency(
    url: str, token: str, plan_id: uuid.UUID, seconds: float, concurrency: int = 4, operation: str = "PlanDetail"
) -> list[float]:
    variables = {"id": str(plan_id)} if operation == "PlanDetail" else {}
    body = {"query": documents()[operation], "variables": variables}
    headers = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def worker(until: float) -> None:
            while (t0 := time.perf_counter()) < until:
                r = await client.post("/graphql", json=body, headers=headers)
                assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
                out.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker(time.perf_counter() + 1) for _ in range(concurrency)))  # warm up
        out.clear()
        await asyncio.gather(*(worker(time.perf_counter() + seconds) for _ in range(concurrency)))
    return out


def p(latencies: list[float], q: float) -> float:
    s = sorted(latencies)
    return 1000 * s[min(len(s) - 1, int(q * len(s)))]


async def link_to_first_frame(
    url: str, meeting_id: uuid.UUID, tokens: dict[str, str], picture: tuple[int, int]
) -> float:
    """Seconds from opening an invite link (POST /auth/invite) to the patient's first decoded frame
    from the staff member already in the room, who admits them at once (no human reaction time)."""
    m = Meeting(url, meeting_id, tokens, picture)
    try:
        anna = await m.enter("staff-anna")
        link = await fresh_link(meeting_id)
        t0 = time.perf_counter()
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            exchanged = await http.post("/auth/invite", json={"token": link})
        assert exchanged.status_code == 200, exchanged.text
        m.tokens = tokens | {"guest": exchanged.json()["meetingToken"]}
        patient = await m.enter("guest")
        await patient.receives(anna, frames=1, within=60)
        return time.perf_counter() - t0
    finally:
        await m.close()


# ---- meetings side by side: each meeting's peers in a process of their own ------------------------


def meeting_process(
    url: str,
    meeting_id: uuid.UUID,
    people: list[str],
    tokens: dict[str, str],
    picture: tuple[int, int],
    janus_address: str,
    conn: Any,
) -> None:
    """A child process: some of one meeting's aiortc peers (the first of them staff, who admits the
    others if they wait). Says ("ready", reconnects) once media flows
    to everyone (or ("failed", why)), then answers each "frames" with (video frames decoded by all
    its peers, time.monotonic()), until "stop"."""
    if janus_address:  # Janus's ICE is on the host address only (it skips loopback): the peers' too
        import aioice.ice

        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [janus_address]  # type: ignore[assignment]

    async def main() -> None:
        m = Meeting(url, meeting_id, tokens, picture, separate=bool(janus_address))
        try:
            for who in people:
                await m.enter(who)
            await m.flowing()
            conn.send(("ready", m.reconnects))
            while (asked := await asyncio.to_thread(conn.recv)) != "stop":
                assert asked == "frames", asked
                conn.send((m.video_frames(), time.monotonic()))
        except (Exception, SystemExit) as failed:
            conn.send(("failed", repr(failed)[:200]))
        finally:
            await m.close()

    asyncio.run(main())


# Each meeting's peers in two processes of three (each with a staff member who admits the citizen):
# one process of six aiortc peers is about one core's worth of Python, and would starve on its own.
HALVES = [["staff-anna", "staff-johan", "citizen-elsa"], ["staff-omar", "staff-sara", "citizen-per"]]


class Apart:
    """A meeting of six whose peers run in child processes (their CPU is those processes', read apart
    from the media server's)."""

    def __init__(
        self, url: str, meeting_id: uuid.UUID, tokens: dict[str, str], args: argparse.Namespace, janus: str
    ) -> None:
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        spawn = mp.get_context("spawn")
        for people in HALVES:
            ours, theirs = spawn.Pipe()
            self.conns.append(ours)
            self.procs.append(
                spawn.Process(
                    target=meeting_process,
                    args=(url, meeting_id, people, tokens, args.picture, janus, theirs),
                    daemon=True,
                )
            )

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    async def start(self) -> None:
        for proc in self.procs:
            proc.start()
        for conn in self.conns:
            if not await asyncio.to_thread(conn.poll, 180):
                raise SystemExit("a meeting's peers did not connect within 3 minutes")
            said = conn.recv()
            if said[0] != "ready":
                raise SystemExit(f"a meeting's peers failed: {said[1]}")

    def frames(self) -> tuple[int, float]:
        """Video frames decoded by all six so far, and when."""
        total, at = 0, 0.0
        for conn in self.conns:
            conn.send("frames")
            if not conn.poll(30):
                raise SystemExit("a meeting's peers stopped answering")
            frames, at = conn.recv()
            total += int(frames)
        return total, float(at)

    def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send("stop")
        for proc in self.procs:
            proc.join(20)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def busy_jiffies() -> tuple[int, int]:
    """The whole machine's (busy, total) CPU time from /proc/stat, in clock ticks."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def side_by_side(
    label: str,
    url: str,
    tokens: dict[str, str],
    plan_id: uuid.UUID,
    server_pid: int,
    janus: str,
    args: argparse.Namespace,
) -> list[str]:
    """Add six-person meetings one at a time; after each, over `args.seconds`: the media server's CPU
    (its process, from /proc), the peers' CPU (their processes, apart), the whole machine's, and the
    video frames a second each receiver decodes from each sender in the worst meeting. Stops when that
    falls below 14 of 15, or the machine has no CPU left (≥ 95 % busy), or at --max-meetings."""
    lines: list[str] = []
    meetings: list[Apart] = []
    # Its cost with no meeting at all (the relay's event loop; Janus's threads and the service's long
    # polls), which a meeting's figure includes and the next meeting does not add again.
    server0, t0 = cpu_seconds(server_pid), time.monotonic()
    await asyncio.sleep(args.seconds)
    idle = 100 * (cpu_seconds(server_pid) - server0) / (time.monotonic() - t0)
    lines.append(f"{label}, no meeting: media server {idle:.1f} % of a core")
    print(lines[-1], flush=True)
    try:
        for k in range(1, args.max_meetings + 1):
            meeting_id = await meeting_now(plan_id, decide=False)
            apart = Apart(url, meeting_id, tokens, args, janus)
            meetings.append(apart)
            try:
                await apart.start()
            except SystemExit as failed:
                lines.append(f"{label}, {k} meetings: did not hold ({failed})")
                break
            await asyncio.sleep(2)  # settle after the last join
            server0, peers0 = cpu_seconds(server_pid), sum(cpu_seconds(pid) for m in meetings for pid in m.pids)
            busy0, total0 = busy_jiffies()
            frames0 = [m.frames() for m in meetings]
            await asyncio.sleep(args.seconds)
            frames1 = [m.frames() for m in meetings]
            busy1, total1 = busy_jiffies()
            server1, peers1 = cpu_seconds(server_pid), sum(cpu_seconds(pid) for m in meetings for pid in m.pids)
            fps = [(f1 - f0) / (t1 - t0) / 30 for (f0, t0), (f1, t1) in zip(frames0, frames1, strict=True)]
            window = frames1[0][1] - frames0[0][1]
            server = 100 * (server1 - server0) / window
            peers = 100 * (peers1 - peers0) / window
            machine = 100 * (busy1 - busy0) / max(1, total1 - total0)
            lines.append(
                f"{label}, {k} six-person meeting(s): media server {server:.0f} % of a core "
                f"({server / k:.1f} % per meeting, {(server - idle) / k:.1f} % above idle), "
                f"peers {peers:.0f} % (in {2 * k} processes apart), "
                f"machine {machine:.0f} % busy of {mp.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
                f"video frames/s per receiver and sender: worst meeting {min(fps):.1f}, best {max(fps):.1f}"
            )
            print(lines[-1], flush=True)
            if min(fps) < 14:
                lines.append(f"{label}: stopped at {k}: delivered frames below 14 of 15")
                break
            if machine >= 95:
                lines.append(f"{label}: stopped at {k}: the machine's CPU is saturated")
                break
    finally:
        for m in meetings:
            m.stop()
        await asyncio.sleep(2)
    return lines


async def api_p99_apart(
    url: str, token: str, tokens: dict[str, str], plan_id: uuid.UUID, janus: str, args: argparse.Namespace
) -> str:
    """The API's latency for a simple read (Me, two clients) idle and with a six-person meeting
    running (its peers in a process apart)."""
    idle = await api_latency(url, token, plan_id, args.seconds, concurrency=2, operation="Me")
    apart = Apart(url, await meeting_now(plan_id, decide=False), tokens, args, janus)
    try:
        await apart.start()
        busy = await api_latency(url, token, plan_id, args.seconds, concurrency=2, operation="Me")
    finally:
        apart.stop()
        await asyncio.sleep(2)
    return (
        f"idle {p(idle, 0.5):.1f}/{p(idle, 0.99):.1f} ms, "
        f"6-person meeting {p(busy, 0.5):.1f}/{p(busy, 0.99):.1f} ms (p99 x{p(busy, 0.99) / p(idle, 0.99):.2f})"
    )


# ---- the run ----------------------------------------------------------------------------------------


async def worker_case(
    kind: str,
    n: int,
    url: str,
    meeting_id: uuid.UUID,
    tokens: dict[str, str],
    plan_id: uuid.UUID,
    relay_pid: int,
    args: argparse.Namespace,
    lines: list[str],
) -> dict[str, float]:
    async with meeting_of(n, url, meeting_id, tokens, args.picture) as m:
        profiling = profile(relay_pid, args) if args.profile else None
        usage = await relay_cpu(m, relay_pid, args.seconds)  # alone: the same load as the naive relay's
        if profiling is not None:
            await profiling
        if kind != "forward" or n != 6 or args.profile:
            return usage
        busy = await api_latency(url, tokens["staff-anna"], plan_id, args.seconds)
        lines.append(
            "API p50/p99 with the relay in a worker process, 6-person meeting: "
            f"{p(busy, 0.5):.1f}/{p(busy, 0.99):.1f} ms"
        )
        return usage


async def profile(pid: int, args: argparse.Namespace) -> None:
    """py-spy's samples of the relay over the measured seconds (--profile; py-spy on PATH, not a
    dependency: `pip install --target DIR py-spy`). It reads the process from outside without
    stopping it (--nonblocking), so the CPU measured meanwhile is the relay's own."""
    found = shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy on PATH")
    spy = await asyncio.create_subprocess_exec(
        *(found, "record", "--pid", str(pid), "--duration", str(int(args.seconds) + 2), "--rate", "200"),
        *("--nonblocking", "--format", "raw", "--output", args.profile),
        stdout=asyncio.subprocess.DEVNULL,
    )
    await spy.wait()


def case(result: dict[str, float] | str) -> str:
    if isinstance(result, str):
        return f"did not hold ({result})"
    return (
        f"{result['cpu_pct']:.0f} % of a core, {result['fps']:.1f} video frames/s decoded per receiver and "
        f"sender, {result['reconnects']:.0f} reconnects while joining"
    )


def ratio(forward: dict[str, float] | str, other: dict[str, float] | str) -> str:
    if isinstance(forward, str) or isinstance(other, str):
        return ""
    return f" (x{other['cpu_pct'] / forward['cpu_pct']:.1f} the forwarding relay's CPU)"


async def measure(args: argparse.Namespace, key_file: Path, plan_id: uuid.UUID) -> list[str]:
    provider = DevProvider(settings_for(key_file))
    tokens = {who: provider.issue_token(who) for who in PEOPLE}
    meeting_id = await meeting_now(plan_id)
    picture, lines = args.picture, []

    if args.only_janus:
        return await beside_janus(args, key_file, tokens, plan_id)
    if args.profile:  # only the forwarding relay in its worker with 6, under py-spy
        port = free_port()
        with child(serve_api, port, key_file, False, port=port), child(run_relay, "forward", key_file) as relay_pid:
            url = f"http://127.0.0.1:{port}"
            used = await worker_case("forward", 6, url, meeting_id, tokens, plan_id, relay_pid, args, lines)
        return [f"6 participants, forwarding relay under py-spy: {case(used)}; samples in {args.profile}"]

    # 1. The relay in the API process (the default): the API's latency idle and with 6 in a meeting;
    #    the link to the first frame.
    port = free_port()
    with child(serve_api, port, key_file, True, port=port) as api_pid:
        url = f"http://127.0.0.1:{port}"
        idle = await api_latency(url, tokens["staff-anna"], plan_id, args.seconds)
        async with meeting_of(6, url, meeting_id, tokens, picture) as m:
            usage = relay_cpu(m, api_pid, args.seconds)
            busy, cpu = await asyncio.gather(api_latency(url, tokens["staff-anna"], plan_id, args.seconds), usage)
        lines.append(
            "API p50/p99 (PlanDetail, 4 clients), relay in the API process: "
            f"idle {p(idle, 0.5):.1f}/{p(idle, 0.99):.1f} ms, "
            f"6-person meeting {p(busy, 0.5):.1f}/{p(busy, 0.99):.1f} ms (p99 x{p(busy, 0.99) / p(idle, 0.99):.2f}; "
            f"API process CPU {cpu['cpu_pct']:.0f} % of a core)"
        )
        firsts = [await link_to_first_frame(url, meeting_id, tokens, picture) for _ in range(args.links)]
        lines.append(
            f"invite link to first remote frame: median {statistics.median(firsts):.2f} s "
            f"(min {min(firsts):.2f}, max {max(firsts):.2f}, {len(firsts)} runs; staff admit at once)"
        )

    # 2. The relay in its own worker (`sip-service media`), and the naive relay in the same place.
    port = free_port()
    with child(serve_api, port, key_file, False, port=port):
        url = f"http://127.0.0.1:{port}"
        cpu: dict[tuple[str, int], dict[str, float] | str] = {}
        for kind in ("forward", "encode-once", "naive"):
            with child(run_relay, kind, key_file) as relay_pid:
                for n in (3, 6):
                    try:
                        cpu[kind, n] = await worker_case(
                            kind, n, url, meeting_id, tokens, plan_id, relay_pid, args, lines
                        )
                    except SystemExit as failed:  # e.g. connections that fail when the relay is starved
                        cpu[kind, n] = str(failed)
        for n in (3, 6):
            lines.append(
                f"{n} participants, {picture[0]}x{picture[1]}: forwarding relay CPU {case(cpu['forward', n])}; "
                f"encode-once relay {case(cpu['encode-once', n])}{ratio(cpu['forward', n], cpu['encode-once', n])}; "
                f"naive MediaRelay {case(cpu['naive', n])}{ratio(cpu['forward', n], cpu['naive', n])}"
            )
    lines += await beside_janus(args, key_file, tokens, plan_id)
    return lines


async def beside_janus(
    args: argparse.Namespace, key_file: Path, tokens: dict[str, str], plan_id: uuid.UUID
) -> list[str]:
    """3. The forwarding relay (its worker) and Janus side by side, each meeting's peers in a process
    of their own: the media server's CPU per six-person meeting and how many meetings the box
    carries; then the API's p99 for a simple read with a meeting running, relay in process vs Janus."""
    from media_servers import janus_server

    lines: list[str] = []
    port = free_port()
    with child(serve_api, port, key_file, False, port=port), child(run_relay, "forward", key_file) as relay_pid:
        url = f"http://127.0.0.1:{port}"
        lines += await side_by_side("forwarding relay", url, tokens, plan_id, relay_pid, "", args)
    here = Path(tempfile.mkdtemp(prefix="sip-bench-janus-"))
    with janus_server(here) as (janus, process):
        more = {"media_backend": "janus", "janus_urls": [janus.url], "janus_admin_key": janus.admin_key}
        port = free_port()
        with child(serve_api, port, key_file, True, more, port=port):
            url = f"http://127.0.0.1:{port}"
            lines += await side_by_side("Janus", url, tokens, plan_id, process.pid, janus.address, args)
            janus_api = await api_p99_apart(url, tokens["staff-anna"], tokens, plan_id, janus.address, args)
    shutil.rmtree(here, ignore_errors=True)
    port = free_port()
    with child(serve_api, port, key_file, True, port=port):
        url = f"http://127.0.0.1:{port}"
        relay_api = await api_p99_apart(url, tokens["staff-anna"], tokens, plan_id, "", args)
    lines.append(f"API p50/p99 (Me, 2 clients; the meeting's peers in a process apart), relay in process: {relay_api}")
    lines.append(f"API p50/p99 (the same), Janus (its client in the API process): {janus_api}")
    return lines


def own_redis() -> subprocess.Popen[bytes]:
    global REDIS
    port = free_port()
    found = shutil.which("redis-server")
    if found is None:
        raise SystemExit("redis-server is not installed (tests/prerequisites.sh)")
    server = subprocess.Popen(  # noqa: S603 (our own arguments)
        [found, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    REDIS = os.environ["SIP_BENCH_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return server
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"redis-server on port {port} did not start")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per case (10)")
    parser.add_argument("--picture", type=lambda v: tuple(map(int, v.split("x"))), default=(320, 240))
    parser.add_argument("--links", type=int, default=3, help="link-to-first-frame runs (3)")
    parser.add_argument("--max-meetings", type=int, default=6, help="six-person meetings side by side, at most (6)")
    parser.add_argument("--only-janus", action="store_true", help="only part 3: the relay beside Janus")
    parser.add_argument("--profile", help="only the forwarding relay with 6, its py-spy samples (raw) to this file")
    args = parser.parse_args()

    asyncio.run(recreate_database())
    tmp = Path(tempfile.mkdtemp(prefix="sip-bench-video-"))
    redis = own_redis()
    try:
        migrations.upgrade(SA_URL)
        key_file = tmp / "dev-oidc-key.json"
        plan_id, _ = asyncio.run(build_data(settings_for(key_file)))
        DevProvider(settings_for(key_file))  # writes the key file the servers read
        load = os.getloadavg()
        lines = asyncio.run(measure(args, key_file, plan_id))
        print(
            f"\n{time.strftime('%Y-%m-%d %H:%M')}, {mp.cpu_count()} CPUs, {args.seconds:g} s per case; "
            f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}"
        )
        print("\n".join(lines))
    finally:
        redis.terminate()
        redis.wait(timeout=30)
        asyncio.run(recreate_database(drop_only=True))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
