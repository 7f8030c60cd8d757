"""`sip-service serve` as people run it: a process that migrates, serves on the port it is given
(sign-in included, with no other settings), and holds websockets to the same size limit as requests."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sip_service.auth.principal import StaffPrincipal
from sip_service.demo import _people
from sip_service.kit import clock, migrations
from sip_service.kit.db import Database
from sip_service.meetings import service as meetings
from sip_service.meetings.invitations import Letterhead
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import InvitationChannel, MeetingKind
from sip_service.models.notify import OutboxMessage
from sip_service.models.plans import ParticipantKind
from sip_service.plans import service as plans
from sip_service.settings import Settings

from conftest import free_port
from helpers import WAIT_S, within

# A new process imports the service, migrates a new database and starts: on a busy machine that is
# the slowest step of this test, so it gets longer than WAIT_S.
START_S = 60.0


async def answers(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_serve_migrates_serves_signs_in_on_its_port_and_caps_websocket_messages(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SIP_PUBLIC_URL"} | {
        "SIP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sip.sqlite3'}",
        "SIP_DEV_OIDC_KEY_FILE": str(tmp_path / "key.json"),
        "SIP_MAX_BODY_BYTES": str(64 * 1024),
        "SIP_NOTIFY_INTERVAL_S": "0",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:  # a file, not a pipe nobody reads: the server never blocks on its log
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from sip_service.cli import app; app()",
            "serve",
            "--port",
            str(port),
            env=env,
            stderr=stderr,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_S
        async with httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
            while not await answers(http):
                if server.returncode is not None or loop.time() > deadline:
                    pytest.fail(
                        f"sip-service serve did not answer /healthz within {START_S:g} s "
                        f"(exit code {server.returncode}); its log:\n{log.read_text()}"
                    )
                await asyncio.sleep(0.1)
            # sign-in on this port, with no SIP_PUBLIC_URL: to the embedded provider on the same port
            login = await http.get("/auth/login")
            assert login.status_code == 302, login.text
            assert login.headers["location"].startswith(f"{url}/dev-oidc/authorize?"), login.headers["location"]
            assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fauth%2Fcallback" in login.headers["location"]
            assert (await http.get(login.headers["location"])).status_code == 200
        ws_url = url.replace("http", "ws") + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"padding": "x" * 100 * 1024}}))
            with pytest.raises(ConnectionClosed) as closed:
                await within(ws.recv(), "the server to close the connection")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await within(server.wait(), "sip-service serve to stop after SIGTERM")
            finally:
                if server.returncode is None:
                    server.kill()
                    await server.wait()


async def invitation_waiting(url: str, settings: Settings) -> str:
    """A database with the demo people, a plan for Elsa and a video meeting she is invited to by SMS:
    her message waits in the outbox. Returns its text."""
    await asyncio.to_thread(migrations.upgrade, url)
    db = Database(url)
    try:
        async with db.write() as s:
            await _people(s, settings)
        async with db.write() as s:
            member = (await s.scalars(select(StaffMember).where(StaffMember.name == "Anna Lind"))).one()
            elsa = (await s.scalars(select(Citizen).where(Citizen.name == "Elsa Andersson"))).one()
            anna = StaffPrincipal(member.id, member.organisation_id, member.hsa_id, member.name)
            plan = await plans.create_plan(s, anna, patient_id=elsa.id)
            await s.flush()
            start = clock.now() + timedelta(days=2)
            meeting = await meetings.schedule_meeting(
                s, anna, plan.id, kind=MeetingKind.VIDEO, starts_at=start, ends_at=start + timedelta(hours=1)
            )
            await s.flush()
            patient = next(p.id for p in plan.participants if p.kind is ParticipantKind.PATIENT)
            head = Letterhead(public_url="http://127.0.0.1", mail_from="SIP <noreply@sip.test>")
            await meetings.invite(
                s, anna, meeting.id, meeting.version, [patient], InvitationChannel.SMS, letterhead=head
            )
        async with db.read() as s:
            (message,) = await s.scalars(select(OutboxMessage))
            return message.body
    finally:
        await db.dispose()


async def test_serve_writes_every_outgoing_message_to_its_log_in_development(tmp_path: Path) -> None:
    """The README says so: under `serve`, in development without SMTP or SMS, each message the outbox
    sends is written to the log, readable, instead of being sent."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sip.sqlite3'}"
    body = await invitation_waiting(url, Settings(database_url=url, dev_oidc_key_file=tmp_path / "key.json"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIP_")} | {
        "SIP_DATABASE_URL": url,
        "SIP_DEV_OIDC_KEY_FILE": str(tmp_path / "key.json"),
        "SIP_NOTIFY_INTERVAL_S": "0.2",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from sip_service.cli import app; app()", "serve", "--port", str(port),
            env=env, stderr=stderr,
        )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_S
        # Wait for the whole message, not only its first line: another process writes the log.
        while "SMS to +46701234501" not in (written := log.read_text(encoding="utf-8")) or body.strip() not in written:
            if server.returncode is not None or loop.time() > deadline:
                pytest.fail(f"the message was not written to the log within {START_S:g} s:\n{written}")
            await asyncio.sleep(0.1)
        assert body.strip() in written  # the SMS text as it would be sent: readable, not escaped
        assert "Kallelse: videomöte om din plan" in written and "#t=" in written
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await within(server.wait(), "sip-service serve to stop after SIGTERM")
            finally:
                if server.returncode is None:
                    server.kill()
                    await server.wait()
