"""The production stack as local processes (deploy/local/: honcho runs PostgreSQL, Redis, the OIDC
provider, an SMTP catcher, coturn, the media relay, two API processes and nginx with a self-signed
certificate), used as a region's staff would: signed in through the proxy over TLS at the separate
OIDC provider (panva/oidc-provider, tests/oidc_provider), a plan read over GraphQL, a video meeting
joined by two aiortc peers whose media goes through the relay, the patient invited by e-mail (caught
by the SMTP catcher); then one API process is killed
(SIGKILL) and the other carries on behind the proxy, and the killed one is started again. The
service's own database role cannot delete from the audit trail, and `sip-service audit verify`
finds the chain complete up to the API processes' signed checkpoints.

Every wait is for a condition with a deadline; the whole takes about 30 s."""

from __future__ import annotations

import asyncio
import json
import mailbox
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from conftest import REPO_ROOT, op
from helpers import Socket, subscribed, until, within

sys.path[:0] = [str(REPO_ROOT / "tests" / "video"), str(REPO_ROOT / "tests" / "interop")]
from media_peers import MediaPeer  # noqa: E402
from test_oidc_provider import npm_ci, through_provider  # noqa: E402

STACK = REPO_ROOT / "deploy" / "local" / "stack.py"
START_S = 90.0  # the whole stack, both API processes answering, on a busy machine
STOP_S = 30.0


@dataclass
class Stack:
    env: dict[str, str]
    folder: Path
    honcho: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return self.env["SIP_PUBLIC_URL"]

    def tls(self) -> ssl.SSLContext:
        """Trusting the stack's own self-signed certificate, and nothing else."""
        return ssl.create_default_context(cafile=self.folder / "tls.crt")

    def pids(self) -> list[int]:
        """Every process honcho started (each leads a process group of its own)."""
        return [int(p) for p in re.findall(r"started \(pid=(\d+)\)", self.log.read_text(errors="replace"))]

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def api_pid(self, n: int) -> int:
        return int((self.folder / f"api{n}.pid").read_text())


def answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        return httpx.get(url, verify=context or True, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def local_stack(folder: Path) -> Iterator[Stack]:
    npm_ci()  # the OIDC provider, as the interop tests install it
    prepared = subprocess.run([sys.executable, str(STACK), "prepare", str(folder)], capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    dotenv = Path(prepared.stdout.strip())
    env = {k: v[1:-1] for k, _, v in (line.partition("=") for line in dotenv.read_text().splitlines())}
    log = folder / "honcho.log"
    honcho = Path(sys.executable).parent / "honcho"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(honcho), "-f", str(STACK.parent / "Procfile"), "-e", str(dotenv), "-d", str(REPO_ROOT), "start"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(env, folder, process, log)
    try:
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)  # honcho stops every process it started
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            for pid in [*stack.pids(), process.pid]:
                with suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            process.wait()
        pg_dir = Path(env.get("PG_DIR", folder))
        if not pg_dir.is_relative_to(folder):  # as root, the cluster is in a folder of its own
            shutil.rmtree(pg_dir, ignore_errors=True)


async def sip_service(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`sip-service …` with the stack's settings (as the service's role)."""
    return await asyncio.to_thread(
        subprocess.run,
        [stack.env["VENV_BIN"] + "/sip-service", *args],
        env=os.environ | stack.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )


def mailed_to(stack: Stack, address: str) -> bool:
    if not (stack.folder / "mail" / "new").is_dir():  # aiosmtpd makes the maildir with the first message
        return False
    maildir = mailbox.Maildir(stack.folder / "mail", create=False)
    return any(address in str(message.get("To", "")) for message in maildir)


async def up(stack: Stack) -> None:
    """Both API processes answer, and through the proxy too."""
    ports = (stack.env["API1_PORT"], stack.env["API2_PORT"])
    context = stack.tls()
    deadline = time.monotonic() + START_S
    while not (
        all(await asyncio.gather(*(asyncio.to_thread(answers, f"http://127.0.0.1:{p}/healthz") for p in ports)))
        and await asyncio.to_thread(answers, f"{stack.url}/healthz", context)
    ):
        assert stack.honcho.poll() is None, f"the stack stopped:\n{stack.tail()}"
        assert time.monotonic() < deadline, f"the stack did not come up within {START_S:g} s:\n{stack.tail()}"
        await asyncio.sleep(0.1)


@asynccontextmanager
async def browser(stack: Stack, sub: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser signed in as `sub` through the proxy at the OIDC provider; with its CSRF token."""
    async with httpx.AsyncClient(base_url=stack.url, verify=stack.tls(), timeout=30) as http:
        start = await http.get("/auth/login", params={"next": "/auth/"})
        assert start.headers["location"].startswith(f"{stack.env['SIP_OIDC_ISSUER']}/auth?"), start.headers
        page = await through_provider(http, start, sub)
        assert page.status_code == 200 and page.url == httpx.URL(f"{stack.url}/auth/"), page.text[:500]
        me = (await http.get("/auth/me")).json()
        yield http, me["csrfToken"]


async def gql(http: httpx.AsyncClient, csrf: str, name: str, **variables: Any) -> dict[str, Any]:
    answer = await http.post(
        "/graphql", json={"query": op(name), "variables": variables}, headers={"X-CSRF-Token": csrf}
    )
    body = answer.json()
    assert answer.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@asynccontextmanager
async def websocket(stack: Stack, http: httpx.AsyncClient, csrf: str) -> AsyncIterator[Socket]:
    """The meeting page's websocket through the proxy (wss), signed in by the session cookie."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
    async with connect(
        stack.url.replace("https://", "wss://") + "/graphql",
        ssl=stack.tls(),
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"Cookie": cookie, "Origin": stack.url},
        open_timeout=30,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"csrf": csrf}}))
        assert json.loads(await within(ws.recv(), "connection_ack")) == {"type": "connection_ack"}
        socket = Socket(ws)
        try:
            yield socket
        finally:
            await socket.close()


async def test_local_stack_signs_in_meets_and_survives_a_killed_api_process(tmp_path: Path) -> None:
    with local_stack(tmp_path / "stack") as stack:
        await up(stack)
        seeded = await sip_service(stack, "seed-demo")
        assert seeded.returncode == 0 and "demo data added" in seeded.stdout, seeded.stderr

        async with AsyncExitStack() as stack_of:
            anna_http, anna_csrf = await stack_of.enter_async_context(browser(stack, "staff-anna"))
            johan_http, johan_csrf = await stack_of.enter_async_context(browser(stack, "staff-johan"))

            # A plan, read over GraphQL through the proxy
            plans = (await gql(anna_http, anna_csrf, "Plans"))["plans"]["nodes"]
            elsa = next(p for p in plans if p["patient"]["name"] == "Elsa Andersson")
            detail = (await gql(anna_http, anna_csrf, "PlanDetail", id=elsa["id"]))["plan"]
            assert detail["id"] == elsa["id"] and detail["patient"]["name"] == "Elsa Andersson"

            # A video meeting now, which Anna and Johan join with media
            start = datetime.now(UTC)
            meeting = (
                await gql(
                    anna_http,
                    anna_csrf,
                    "ScheduleMeeting",
                    planId=elsa["id"],
                    input={
                        "kind": "VIDEO",
                        "startsAt": start.isoformat(),
                        "endsAt": (start + timedelta(hours=1)).isoformat(),
                    },
                )
            )["scheduleMeeting"]
            peers: list[MediaPeer] = []
            for http, csrf in ((anna_http, anna_csrf), (johan_http, johan_csrf)):
                socket = await stack_of.enter_async_context(websocket(stack, http, csrf))
                peer = MediaPeer(socket, await subscribed(socket, meeting["id"]), meeting["id"], "")
                stack_of.push_async_callback(peer.close)
                joined = await peer.run("JoinMeeting")
                assert joined["state"] == "IN_ROOM", joined
                peer.id = joined["participantId"]
                peers.append(peer)
            anna, johan = peers
            for peer in peers:
                assert "mediaServerId" in await peer.connect()
            await anna.receives(johan, frames=10)
            await johan.receives(anna, frames=10)

            # Elsa invited by e-mail: the outbox sends it to the SMTP catcher (its maildir)
            patient = next(p for p in detail["participants"] if p["kind"] == "PATIENT")
            invited = (
                await gql(
                    anna_http,
                    anna_csrf,
                    "InviteToMeeting",
                    meetingId=meeting["id"],
                    expectedVersion=meeting["version"],
                    participantIds=[patient["id"]],
                    channel="EMAIL",
                )
            )["inviteToMeeting"]
            assert invited["invitations"] == [{"participantId": patient["id"], "channel": "EMAIL"}], invited
            sent = await sip_service(stack, "notify")  # now, not at the API processes' next round
            assert sent.returncode == 0, sent
            await until(
                lambda: asyncio.to_thread(mailed_to, stack, "elsa.andersson@example.se"),
                "the invitation in the SMTP catcher's maildir",
            )

            # One API process dies at once; the proxy sends what it cannot deliver there to the other
            killed = stack.api_pid(1)
            logged_before = (stack.folder / "nginx-access.log").stat().st_size
            os.kill(killed, signal.SIGKILL)
            await until(
                lambda: asyncio.to_thread(lambda: not answers(f"http://127.0.0.1:{stack.env['API1_PORT']}/healthz")),
                "the killed API process to stop answering",
            )
            for _ in range(10):
                again = (await gql(anna_http, anna_csrf, "PlanDetail", id=elsa["id"]))["plan"]
                assert again["id"] == elsa["id"]
            with (stack.folder / "nginx-access.log").open() as log:
                log.seek(logged_before)
                since_kill = [line for line in log.read().splitlines() if line.startswith("POST /graphql")]
            api1, api2 = (f"127.0.0.1:{stack.env[p]}" for p in ("API1_PORT", "API2_PORT"))
            # the one request that found the dead process went on to the other; then the dead one was
            # left alone (max_fails=1, fail_timeout=30s), so every later request went straight to the other
            retried = f"POST /graphql 200 upstream={api1}, {api2} upstream_status=502, 200"
            assert since_kill.count(retried) == 1, since_kill
            after = since_kill[since_kill.index(retried) + 1 :]
            assert after and all(line.endswith(f"upstream={api2} upstream_status=200") for line in after), since_kill
            # a new websocket (a page loaded again) meets the meeting on the one left
            async with websocket(stack, johan_http, johan_csrf) as socket:
                room = await socket.run("MeetingRoom", meetingId=meeting["id"])
                assert {m["participantId"] for m in room["members"]} >= {anna.id, johan.id}, room

            # the killed process is started again (deploy/local/stack.py supervise) and serves
            await until(
                lambda: asyncio.to_thread(
                    lambda: stack.api_pid(1) != killed and answers(f"http://127.0.0.1:{stack.env['API1_PORT']}/healthz")
                ),
                "the killed API process to be started again",
                seconds=START_S,
            )
        assert stack.honcho.poll() is None, stack.tail()

        # The service's role may only add to the audit trail, and its checkpoints cover the chain
        psql = [
            stack.env["PG_BIN"] + "/psql",
            "-h",
            "127.0.0.1",
            "-p",
            stack.env["PG_PORT"],
            "-U",
            "sip_app",
            "-d",
            "sip",
        ]
        refused = await asyncio.to_thread(
            subprocess.run, [*psql, "-c", "DELETE FROM audit_events"], capture_output=True, text=True
        )
        assert refused.returncode != 0 and "permission denied" in refused.stderr, refused
        await until(
            lambda: asyncio.to_thread((stack.folder / "audit-checkpoints.jsonl").exists),
            "a signed audit checkpoint from the API processes",
        )
        verified = await sip_service(stack, "audit", "verify")
        assert verified.returncode == 0 and "audit trail intact" in verified.stdout, verified
