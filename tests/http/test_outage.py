"""PostgreSQL stopped under a running service, and started again (issue 16, "failing well").

The test makes its own cluster (initdb, pg_ctl on a free port), since it stops it: while it is down
every request that needs it is answered 503 with Retry-After (GraphQL-shaped errors, FHIR an
OperationOutcome), the log has one line for the outage, /readyz says 503; once it is back the next
requests succeed by themselves and what was acknowledged before is there."""

from __future__ import annotations

import glob
import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from sip_service.app import create_app
from sip_service.demo import _people
from sip_service.kit.db import Database
from sip_service.kit.outage import DATABASE_DOWN_REASON, is_outage
from sip_service.settings import Settings

from conftest import GraphQLClient, Service, _serve, free_port, op
from helpers import WAIT_S, plan_with_meetings, signed_in, staff, subscribed, within

ELSA = "194003122388"
UNAVAILABLE = "SERVICE_UNAVAILABLE"


class Cluster:
    """A PostgreSQL cluster of the test's own, in a temporary directory, trust authentication. As
    root, its programs run as the `postgres` user (PostgreSQL refuses to run as root)."""

    def __init__(self, root: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            pytest.fail(
                "PostgreSQL's initdb is not installed (/usr/lib/postgresql/*/bin/initdb): tests/prerequisites.sh"
            )
        self.bin = Path(found[-1]).parent
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                postgres = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, and there is no `postgres` user to run PostgreSQL's programs as")
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.fail("running as root, and there is no runuser to run PostgreSQL's programs as postgres")
            self.as_user = [runuser, "-u", "postgres", "--"]
            os.chown(root, postgres.pw_uid, postgres.pw_gid)
        self.data, self.log, self.port = root / "data", root / "postgres.log", free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin / program), *args], capture_output=True, text=True, timeout=WAIT_S
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            pytest.fail(f"{program} {' '.join(args)} failed ({done.returncode}): {done.stderr}{done.stdout}\n{log}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "start", "-w", "-t", str(int(WAIT_S)), "-D", str(self.data), "-l", str(self.log), "-o", options
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))


@contextmanager
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="sip-outage-"))
    made = Cluster(root)
    made.start()
    try:
        yield made
    finally:
        if (made.data / "postmaster.pid").exists():
            made.stop("fast")
        shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def service_on(url: str, tmp: Path) -> AsyncIterator[Service]:
    """The service, migrated and with the demo people, on the given database (conftest._serve)."""
    running = _serve("postgresql", url, tmp)
    service = await anext(running)
    try:
        async with service.db.write() as session:
            await _people(session, service.settings)
        yield service
    finally:
        await anext(running, None)  # stops it


def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"query": query, "variables": variables or {}}


async def signing_in(http: httpx.AsyncClient, sub: str) -> httpx.Response:
    """The browser's sign-in (tests/http/test_auth.py) up to the callback, which looks the person up."""
    login = await http.get("/auth/login", params={"next": "/"})
    assert login.status_code == 302, login.text
    to = urlsplit(login.headers["location"])
    chosen = await http.post(f"{to.scheme}://{to.netloc}{to.path}", data={**dict(parse_qsl(to.query)), "sub": sub})
    assert chosen.status_code == 303, chosen.text
    return await http.get(chosen.headers["location"])


async def websocket_closed_with(url: str, bearer: str) -> int | None:
    """The code a graphql-transport-ws socket is closed with after its connection_init."""
    async with connect(
        url.replace("http://", "ws://") + "/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": bearer}}))
        try:
            answer = await within(ws.recv(), "the socket's answer to connection_init")
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        raise AssertionError(f"the socket answered {answer!r} instead of closing")


def assert_unavailable(response: httpx.Response, what: str) -> None:
    assert response.status_code == 503, (what, response.status_code, response.text)
    assert response.headers.get("retry-after", "").isdigit(), (what, response.headers)
    body = response.json()
    if what.startswith("fhir"):
        assert body["resourceType"] == "OperationOutcome", body
        assert body["issue"][0]["code"] == "transient" and body["issue"][0]["details"]["text"] == UNAVAILABLE, body
    else:
        assert body == {"errors": [{"message": body["errors"][0]["message"], "extensions": {"code": UNAVAILABLE}}]}
        assert " / " in body["errors"][0]["message"], body  # Swedish / English


async def test_database_down_answers_503_logs_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with cluster() as pg:
        async with service_on(pg.url, tmp_path) as service:
            http = httpx.AsyncClient(base_url=service.url, timeout=WAIT_S)

            tokens: dict[str, str] = {}

            def as_(sub: str) -> dict[str, str]:  # one token each: the principal cache knows it after one use
                return {"Authorization": f"Bearer {tokens.setdefault(sub, service.token(sub))}"}

            async def post(body: dict[str, Any], sub: str) -> httpx.Response:
                return await http.post("/graphql", json=body, headers=as_(sub))

            # Up: a plan made (acknowledged), read as the compiled Plans query and over FHIR.
            patient = (await post(gql(op("FindPatient"), {"personalNumber": ELSA}), "staff-anna")).json()
            elsa = patient["data"]["patient"]["id"]
            made = (await post(gql(op("CreatePlan"), {"input": {"patientId": elsa}}), "staff-anna")).json()
            plan_id = made["data"]["createPlan"]["id"]
            plans = await post(gql(op("Plans")), "staff-anna")
            assert plan_id in {p["id"] for p in plans.json()["data"]["plans"]["nodes"]}, plans.text
            assert (await http.get("/fhir/CarePlan", headers=as_("staff-anna"))).status_code == 200
            assert (await http.get("/readyz")).json() == {"status": "ok", "checks": {"database": "ok", "media": "ok"}}

            pg.stop("immediate")
            caplog.clear()
            caplog.set_level(logging.WARNING)
            create_again = {"input": {"patientId": elsa, "allowAnotherOpenPlan": True}}
            for _round in range(2):  # the second round: nothing more in the log
                # The principal lookup (a person not seen yet), before GraphQL runs anything:
                assert_unavailable(await post(gql("{ me { name } }"), "staff-johan"), "principal lookup")
                # Anna is known from a moment ago: her requests reach the resolvers and the compiled path.
                assert_unavailable(await post(gql(op("PlanDetail"), {"id": plan_id}), "staff-anna"), "query")
                assert_unavailable(await post(gql(op("CreatePlan"), create_again), "staff-anna"), "mutation")
                assert_unavailable(await post(gql(op("Plans")), "staff-anna"), "compiled Plans")
                fhir = await http.get("/fhir/CarePlan", headers=as_("staff-anna"))
                assert_unavailable(fhir, "fhir search")
                assert_unavailable(await signing_in(http, "citizen-elsa"), "auth callback")
                bearer = as_("staff-johan")["Authorization"]
                assert await websocket_closed_with(service.url, bearer) == 1013, "websocket: Try Again Later"
                ready = await http.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unavailable"), (
                    ready.text
                )
                assert (await http.get("/healthz")).status_code == 200, "the process itself is alive"
            said = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
            assert len(said) == 1 and said[0][0] == "sip_service.outage", said
            assert "database unavailable" in said[0][2], said

            pg.start()
            # The very next requests succeed, with no retry by the client.
            again = await post(gql(op("PlanDetail"), {"id": plan_id}), "staff-anna")
            assert again.status_code == 200 and again.json()["data"]["plan"]["id"] == plan_id, again.text
            plans = await post(gql(op("Plans")), "staff-anna")
            assert plan_id in {p["id"] for p in plans.json()["data"]["plans"]["nodes"]}, plans.text
            me = await post(gql("{ me { name } }"), "staff-johan")
            assert me.status_code == 200 and "errors" not in me.json(), me.text
            fhir = await http.get("/fhir/CarePlan", headers=as_("staff-anna"))
            assert fhir.status_code == 200 and plan_id in fhir.text, fhir.text
            assert (await http.get("/readyz")).status_code == 200
            signed_in = await signing_in(http, "citizen-elsa")
            assert signed_in.status_code in (302, 303), signed_in.text
            assert (await http.get("/auth/me")).json()["name"].startswith("Elsa"), "signed in after the outage"
            said = [(r.name, r.getMessage()) for r in caplog.records]
            assert said[1:] == [("sip_service.outage", "database available again")], said

            # Restarted while nobody asked: the pool's connections are dead, and the first request
            # after gets a new one rather than an error.
            pg.stop("immediate")
            pg.start()
            again = await post(gql(op("PlanDetail"), {"id": plan_id}), "staff-anna")
            assert again.status_code == 200 and again.json()["data"]["plan"]["id"] == plan_id, again.text
            await http.aclose()


async def test_what_counts_as_an_outage(tmp_path: Path) -> None:
    """SQLite's own OperationalErrors (a locked file, a statement it cannot run) are not an outage;
    a refused connection, however wrapped, and a pool that gives no connection in time are."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        async with db.read() as session:
            with pytest.raises(sa_exc.OperationalError) as bad:
                await session.execute(text("SELEC 1"))
        assert not is_outage(bad.value)
    finally:
        await db.dispose()
    missing = Database(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}")
    try:
        with pytest.raises(sa_exc.OperationalError) as unopened:
            await missing.ping()
        assert is_outage(unopened.value)
    finally:
        await missing.dispose()
    refused = ConnectionRefusedError(111, "Connect call failed")
    try:
        try:
            raise refused
        except OSError as error:
            raise RuntimeError("while looking someone up") from error
    except RuntimeError as wrapped:
        assert is_outage(wrapped)
    assert is_outage(sa_exc.TimeoutError("QueuePool limit reached"))
    assert not is_outage(ValueError("not a number"))


@pytest.mark.parametrize("redis_up", [True, False])
async def test_readyz_asks_redis_when_it_is_configured(tmp_path: Path, redis_up: bool) -> None:
    redis_url = os.environ["SIP_TEST_REDIS_URL"] if redis_up else f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'ready.sqlite3'}",
        dev_oidc_key_file=tmp_path / "key.json",
        redis_url=redis_url,
        notify_interval_s=0,
    )
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            ready = await http.get("/readyz")
    finally:
        await app.state.live.broker.close()
        await app.state.db.dispose()
    if redis_up:
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "database": "ok",
            "redis": "ok",
            "media": "ok",
        }, ready.text
    else:
        assert ready.status_code == 503 and ready.headers["retry-after"].isdigit(), ready.text
        checks = ready.json()["checks"]
        assert checks["database"] == "ok" and checks["redis"].startswith("unavailable"), checks


async def test_open_websockets_are_closed_1013_on_a_database_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Open sockets (a plan page's PlanChanges, a meeting's events) are closed with 1013 and a reason
    when the outage begins, and a socket that meets it in an operation of its own likewise, rather
    than answering each message with an error; after it, new sockets work again."""
    with cluster() as pg:
        async with service_on(pg.url, tmp_path) as service:
            http = httpx.AsyncClient(base_url=service.url, timeout=WAIT_S)
            setup = await plan_with_meetings(GraphQLClient(http, service), service, timedelta(minutes=10))
            plan_id, meeting = setup.plan_id, setup.meetings[0]["id"]
            johan = await staff(service, "Johan")
            anna = service.token("staff-anna")
            headers = {"Authorization": f"Bearer {anna}"}

            async def add_action(description: str) -> int:
                read = await http.post("/graphql", json=gql(op("PlanDetail"), {"id": plan_id}), headers=headers)
                variables = {
                    "planId": plan_id,
                    "expectedVersion": read.json()["data"]["plan"]["version"],
                    "input": {"description": description, "responsibleOrganisationId": str(johan.organisation_id)},
                }
                added = await http.post("/graphql", json=gql(op("AddAction"), variables), headers=headers)
                assert added.status_code == 200 and "errors" not in added.json(), added.text
                version: int = added.json()["data"]["addAction"]["plan"]["version"]
                return version

            async def a_change_is_heard(what: str) -> None:
                async with plan_page(service.url, anna, plan_id) as page:
                    version = await add_action(what)
                    heard = json.loads(await within(page.recv(), f"{what}: the change on the page"))
                    assert heard["payload"]["data"]["planChanges"]["version"] == version, heard

            await a_change_is_heard("before")
            async with plan_page(service.url, anna, plan_id) as page, signed_in(service.url, anna) as socket:
                await subscribed(socket, meeting)
                await add_action("the page listens")
                assert json.loads(await within(page.recv(), "the page's change"))["type"] == "next"

                pg.stop("immediate")
                caplog.clear()
                caplog.set_level(logging.WARNING)
                # The first request to meet the outage begins it: every open socket is closed.
                read = await http.post("/graphql", json=gql(op("PlanDetail"), {"id": plan_id}), headers=headers)
                assert_unavailable(read, "query")
                assert await closed_with(page, "the plan page's socket") == (1013, DATABASE_DOWN_REASON)
                assert await closed_with(socket.ws, "the meeting's socket", read=False) == (
                    1013,
                    DATABASE_DOWN_REASON,
                )
                # A socket opened during it (Anna is known from a moment ago, so it is let in) is
                # closed when its subscription meets the outage.
                async with plan_page(service.url, anna, plan_id, acknowledged=False) as late:
                    assert await closed_with(late, "a socket subscribing during the outage") == (
                        1013,
                        DATABASE_DOWN_REASON,
                    )
            said = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
            assert len(said) == 1 and said[0][0] == "sip_service.outage", said  # and no traceback
            assert "database unavailable" in said[0][2], said

            pg.start()
            await a_change_is_heard("after")  # a new socket subscribes and hears a change
            async with signed_in(service.url, anna) as socket:
                events = await subscribed(socket, meeting)
                await socket.run("JoinMeeting", meetingId=meeting)
                assert (await events.expect("JOINED"))["fromName"] == "Anna Lind"
            await http.aclose()


@asynccontextmanager
async def plan_page(
    url: str, token: str, plan_id: str, *, acknowledged: bool = True
) -> AsyncIterator[ClientConnection]:
    """A plan page's websocket, subscribed to the plan's changes (the pages' own document)."""
    async with connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        open_timeout=WAIT_S,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        if acknowledged:
            assert json.loads(await within(ws.recv(), "connection_ack")) == {"type": "connection_ack"}
        payload = {"query": op("PlanChanges"), "variables": {"planId": plan_id}}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
        yield ws


async def closed_with(ws: ClientConnection, what: str, *, read: bool = True) -> tuple[int | None, str | None]:
    """How the server closed the socket. Any message before the close but a connection_ack fails the
    test (`read`: False where another task reads the socket)."""
    while read:
        try:
            message = json.loads(await within(ws.recv(), what))
        except ConnectionClosed:
            break
        assert message == {"type": "connection_ack"}, f"{what}: {message!r} instead of the socket closing"
    await within(ws.wait_closed(), what)
    return ws.close_code, ws.close_reason
