"""Benchmark: the GraphQL stack against hand-written asyncpg SQL, on PostgreSQL (see bench/README.md).

    .venv/bin/python bench/run.py [--seconds N] [--concurrency N] [--profile FILE]

Creates the database `sip_bench_<pid>` (or $SIP_BENCH_DATABASE), migrates it, builds the data through
the service layer, starts two uvicorn servers on loopback ports (the real app, and a tiny Starlette app
using asyncpg directly), checks that both answer the same JSON, loads each with concurrent keep-alive
clients, and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvicorn
import uvloop
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sip_service import demo
from sip_service.api.operations import documents
from sip_service.auth.principal import CitizenPrincipal, StaffPrincipal
from sip_service.http.devprovider import DevProvider
from sip_service.kit import clock, migrations
from sip_service.kit.db import Database
from sip_service.meetings import service as meetings
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import InvitationChannel, MeetingKind
from sip_service.models.plans import ParticipantKind
from sip_service.plans import service as plans
from sip_service.settings import Settings

T = TypeVar("T")
PG = "postgres@127.0.0.1:5432"
# One database per run (children inherit the name through the environment): two runs at once on
# this shared machine (run.py, fanout.py, video.py) would otherwise drop each other's `sip_bench`.
DB_NAME = os.environ.setdefault("SIP_BENCH_DATABASE", f"sip_bench_{os.getpid()}")
DSN = f"postgresql://{PG}/{DB_NAME}"
SA_URL = f"postgresql+asyncpg://{PG}/{DB_NAME}"
PAGE_PLANS = 59  # small plans besides the big one, so that a page of 50 has a next page
COUNTED = {"before_cursor_execute": "SQL", "begin": "BEGIN", "connect": "new conn"}  # engine event -> column

# The GraphQL side sends the browser's own documents (graphql/operations: PlanDetail, Plans), which
# the service answers through its compiled forms. They ask for more than the other two sides return
# (readiness, attention, consent, revisions, follow-ups, masked personal numbers, ...): the data
# check compares the fields the other side returns, and the GraphQL side does the extra work.


# ---- data, through the service layer ----------------------------------------------------------


async def recreate_database(drop_only: bool = False) -> None:
    con = await asyncpg.connect(f"postgresql://{PG}/postgres")
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            await con.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await con.close()


async def step(s: AsyncSession, use_case: Awaitable[T]) -> T:
    """Run one use case and flush, so the plan's version moves on as it does between API calls."""
    result = await use_case
    await s.flush()
    return result


async def build_data(settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """One big plan (8 participants, 10 goals, 20 actions, 3 meetings) and 59 small ones, all by Anna."""
    db = Database(SA_URL)
    async with db.write() as s:
        await demo._people(s, settings)
        s.add_all(Citizen(personal_number=f"19500101{i:04d}", name=f"Testperson {i:02d}") for i in range(PAGE_PLANS))
    async with db.read() as s:
        members = await s.scalars(select(StaffMember))
        staff = {m.name.split()[0]: StaffPrincipal(m.id, m.organisation_id, m.hsa_id, m.name) for m in members}
        people = {c.name: c.id for c in await s.scalars(select(Citizen))}
    anna, johan, sara = staff["Anna"], staff["Johan"], staff["Sara"]
    today, now, P, K = clock.today(), clock.now(), plans.NewParticipant, ParticipantKind
    async with db.write() as s:
        plan = await step(s, plans.create_plan(s, anna, patient_id=people["Elsa Andersson"], background="Hjärtsvikt."))
        pid = plan.id
        for new in (
            P(K.STAFF, staff_member_id=staff["Omar"].staff_id),
            P(K.STAFF, staff_member_id=johan.staff_id, role="SIP-samordnare kommunen"),
            P(K.STAFF, staff_member_id=sara.staff_id),
            P(K.RELATIVE, citizen_id=people["Per Andersson"], role="Son"),
            P(K.RELATIVE, citizen_id=people["Lena Andersson"], role="Dotter"),
            P(K.EXTERNAL, external_name="Försäkringskassan, handläggare", role="Extern part"),
        ):
            await step(s, plans.add_participant(s, anna, pid, plan.version, new))
        patient = next(p for p in plan.participants if p.kind is K.PATIENT)
        parties = [p for p in plan.participants if p.kind in (K.RELATIVE, K.EXTERNAL)]
        orgs = [anna.organisation_id, johan.organisation_id, sara.organisation_id]
        await step(s, plans.record_consent(s, anna, pid, plan.version, given_by_id=patient.id, organisation_ids=orgs))
        await step(s, plans.set_overall_responsibility(s, anna, pid, plan.version, johan.organisation_id))
        # Elsa wants both her children to take part: only then may they be invited (rules.takes_part)
        elsa = CitizenPrincipal(people["Elsa Andersson"], "Elsa Andersson")
        children = [p.id for p in plan.participants if p.kind is K.RELATIVE]
        await step(s, plans.record_relatives_decision(s, elsa, pid, plan.version, children))
        for i in range(10):
            goal, target = f"Mål {i + 1}: klara vardagen hemma.", today + timedelta(days=30 * i)
            await step(
                s,
                plans.add_goal(
                    s, anna, pid, plan.version, goal_text=goal, expressed_by_id=patient.id, target_date=target
                ),
            )
        for i in range(20):
            party = i % 5 == 4  # every fifth action lies with a relative or an external party
            details = plans.ActionDetails(
                description=f"Insats {i + 1}: stöd i hemmet",
                responsible_org_id=None if party else orgs[i % 3],
                responsible_participant_id=parties[i % 3].id if party else None,
                responsible_person=None if party else "Kontaktperson",
                goal_id=plan.goals[i % 10].id,
                start_date=today,
                due_date=today + timedelta(days=60),
            )
            await step(s, plans.add_action(s, anna, pid, plan.version, details))
        # two past meetings with attendance, one ahead with invitations only
        for days, kind, where in (
            (-14, MeetingKind.IN_PERSON, "Rum 12"),
            (-2, MeetingKind.HYBRID, "Hemma"),
            (7, MeetingKind.VIDEO, ""),
        ):
            start, end = now + timedelta(days=days), now + timedelta(days=days, hours=1)
            m = await step(
                s, meetings.schedule_meeting(s, anna, pid, kind=kind, starts_at=start, ends_at=end, location=where)
            )
            everyone = [p.id for p in plan.participants]
            await step(s, meetings.invite(s, anna, m.id, m.version, everyone, InvitationChannel.EMAIL))
            for p in plan.participants[:5] if days < 0 else []:
                await step(s, meetings.attest_attendance(s, anna, m.id, m.version, p.id))
    async with db.write() as s:
        for i in range(PAGE_PLANS):
            small = await step(s, plans.create_plan(s, anna, patient_id=people[f"Testperson {i:02d}"]))
            for new in (P(K.STAFF, staff_member_id=johan.staff_id), P(K.RELATIVE, citizen_id=people["Per Andersson"])):
                await step(s, plans.add_participant(s, anna, small.id, small.version, new))
            # one action of Anna's organisation due within the week: an ACTION item in her inbox
            due = plans.ActionDetails(
                description="Ring upp efter hemgång",
                responsible_org_id=anna.organisation_id,
                responsible_participant_id=None,
                responsible_person=None,
                goal_id=None,
                start_date=today,
                due_date=today + timedelta(days=3),
            )
            await step(s, plans.add_action(s, anna, small.id, small.version, due))
    await db.dispose()
    return pid, anna.organisation_id


# ---- the hand-written endpoint: asyncpg, SQL, JSON --------------------------------------------

# plans.repository.readable_condition for a staff member of organisation $2.
READABLE = """(p.created_by_org_id = $2 OR (
  EXISTS (SELECT 1 FROM participants x WHERE x.plan_id = p.id AND x.organisation_id = $2) AND
  EXISTS (SELECT 1 FROM consents k JOIN consent_organisations ko ON ko.consent_id = k.id
          WHERE k.plan_id = p.id AND k.withdrawn_at IS NULL AND k.replaced_at IS NULL
            AND (k.valid_until IS NULL OR k.valid_until >= current_date) AND ko.organisation_id = $2)))"""
# Columns are named as the JSON wants them; "a.b" columns become nested objects (see `nest`).
PLAN_SQL = (
    """SELECT p.id, p.version, p.status, p.background, p.follow_up_date AS "followUpDate",
  p.discharge_ready_at AS "dischargeReadyAt", p.created_at AS "createdAt", p.updated_at AS "updatedAt",
  p.finalized_at AS "finalizedAt", c.id AS "patient.id", c.name AS "patient.name",
  co.id AS "createdByOrganisation.id", co.name AS "createdByOrganisation.name",
  ro.id AS "overallResponsibleOrganisation.id", ro.name AS "overallResponsibleOrganisation.name"
FROM plans p JOIN citizens c ON c.id = p.patient_id JOIN organisations co ON co.id = p.created_by_org_id
LEFT JOIN organisations ro ON ro.id = p.overall_responsible_org_id WHERE p.id = $1 AND """
    + READABLE
)
PARTICIPANTS_SQL = """SELECT pa.id, pa.kind, coalesce(s.name, c.name, pa.external_name, '') AS name, pa.role,
  pa.is_coordinator AS "isCoordinator", pa.wanted_by_patient AS "wantedByPatient",
  pa.representative_kind AS "representativeKind",
  o.id AS "organisation.id", o.name AS "organisation.name", o.kind AS "organisation.kind"
FROM participants pa LEFT JOIN staff_members s ON s.id = pa.staff_member_id
LEFT JOIN citizens c ON c.id = pa.citizen_id LEFT JOIN organisations o ON o.id = pa.organisation_id
WHERE pa.plan_id = $1 ORDER BY pa.created_at"""
GOALS_SQL = """SELECT id, text, target_date AS "targetDate", expressed_by_id AS "expressedById"
FROM goals WHERE plan_id = $1 ORDER BY created_at"""
ACTIONS_SQL = """SELECT a.id, a.description, a.status, o.id AS "responsibleOrganisation.id",
  o.name AS "responsibleOrganisation.name", a.responsible_participant_id AS "responsibleParticipantId",
  a.responsible_person AS "responsiblePerson", a.goal_id AS "goalId", a.start_date AS "startDate",
  a.due_date AS "dueDate"
FROM actions a LEFT JOIN organisations o ON o.id = a.responsible_org_id WHERE a.plan_id = $1 ORDER BY a.created_at"""
MEETINGS_SQL = """SELECT id, version, kind, purpose, status, starts_at AS "startsAt", ends_at AS "endsAt", location
FROM meetings WHERE plan_id = $1 ORDER BY starts_at"""
INVITATIONS_SQL = """SELECT i.meeting_id AS "meetingId", i.participant_id AS "participantId", i.channel,
  i.invited_at AS "invitedAt"
FROM invitations i JOIN meetings m ON m.id = i.meeting_id WHERE m.plan_id = $1 ORDER BY i.invited_at"""
ATTENDANCES_SQL = """SELECT a.meeting_id AS "meetingId", a.participant_id AS "participantId", a.method,
  a.joined_at AS "joinedAt", a.left_at AS "leftAt", s.name AS "attestedBy.name"
FROM attendances a JOIN meetings m ON m.id = a.meeting_id LEFT JOIN staff_members s ON s.id = a.attested_by_staff_id
WHERE m.plan_id = $1 ORDER BY a.joined_at"""
PAGE_SQL = (
    """SELECT p.id, p.status, p.follow_up_date AS "followUpDate", p.version,
  c.name AS "patient.name", p.created_at AS "createdAt"
FROM plans p JOIN citizens c ON c.id = p.patient_id WHERE """
    + READABLE
    + """
ORDER BY p.created_at DESC, p.id DESC LIMIT $1"""
)
PAGE_PARTICIPANTS_SQL = """SELECT pa.plan_id AS "planId", pa.kind,
  coalesce(s.name, c.name, pa.external_name, '') AS name
FROM participants pa LEFT JOIN staff_members s ON s.id = pa.staff_member_id LEFT JOIN citizens c ON c.id = pa.citizen_id
WHERE pa.plan_id = ANY($1::uuid[]) ORDER BY pa.created_at"""


def nest(row: asyncpg.Record) -> dict[str, Any]:
    """A row as a dict; "obj.field" columns become a nested object, or None when all its columns are NULL."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        obj, _, name = key.rpartition(".")
        if obj:
            out.setdefault(obj, {})[name] = value
        else:
            out[key] = value
    return {k: None if isinstance(v, dict) and all(x is None for x in v.values()) else v for k, v in out.items()}


async def plan_detail(con: asyncpg.Connection, plan_id: uuid.UUID, org_id: uuid.UUID) -> dict[str, Any] | None:
    row = await con.fetchrow(PLAN_SQL, plan_id, org_id)
    if row is None:
        return None
    plan = nest(row)
    for sql, key in ((PARTICIPANTS_SQL, "participants"), (GOALS_SQL, "goals"), (ACTIONS_SQL, "actions")):
        plan[key] = [nest(r) for r in await con.fetch(sql, plan_id)]
    held = [nest(m) | {"invitations": [], "attendances": []} for m in await con.fetch(MEETINGS_SQL, plan_id)]
    by_id = {m["id"]: m for m in held}
    for sql, key in ((INVITATIONS_SQL, "invitations"), (ATTENDANCES_SQL, "attendances")):
        for r in map(nest, await con.fetch(sql, plan_id)):
            by_id[r.pop("meetingId")][key].append(r)
    return plan | {"meetings": held}


async def plan_page(con: asyncpg.Connection, first: int, org_id: uuid.UUID) -> dict[str, Any]:
    rows = [nest(r) for r in await con.fetch(PAGE_SQL, first + 1, org_id)]
    more, rows = len(rows) > first, rows[:first]
    cursor = f"{rows[-1]['createdAt'].isoformat()}|{rows[-1]['id']}" if rows else None
    nodes = {r["id"]: {k: v for k, v in r.items() if k != "createdAt"} | {"participants": []} for r in rows}
    for p in map(nest, await con.fetch(PAGE_PARTICIPANTS_SQL, list(nodes))):
        nodes[p.pop("planId")]["participants"].append(p)
    end = cursor and base64.urlsafe_b64encode(cursor.encode()).decode()
    return {"nodes": list(nodes.values()), "pageInfo": {"hasNextPage": more, "endCursor": end}}


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def raw_app(org_id: uuid.UUID) -> Starlette:
    pool: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pool.append(await asyncpg.create_pool(DSN, min_size=10, max_size=10))
        yield
        await pool[0].close()

    def respond(data: dict[str, Any]) -> Response:
        body = json.dumps({"data": data}, default=_json_default, separators=(",", ":"), ensure_ascii=False)
        return Response(body, media_type="application/json")

    async def detail(request: Request) -> Response:
        async with pool[0].acquire() as con:
            return respond({"plan": await plan_detail(con, uuid.UUID(request.path_params["id"]), org_id)})

    async def page(request: Request) -> Response:
        async with pool[0].acquire() as con:
            return respond({"plans": await plan_page(con, int(request.query_params.get("first", 20)), org_id)})

    async def healthz(_: Request) -> Response:
        return Response("ok")

    routes = [Route("/plans/{id}", detail), Route("/plans", page), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)


# ---- the two servers (child processes) --------------------------------------------------------


def serve_graphql(port: int, key_file: Path, profile: Path | None, redis_url: str | None = None) -> None:
    from sip_service.app import create_app

    # no outbox worker: its rounds would count among the statements (the data's invitations are not sent)
    settings = Settings(database_url=SA_URL, dev_oidc_key_file=key_file, redis_url=redis_url, notify_interval_s=0)
    app = create_app(settings)
    counts = dict.fromkeys(COUNTED.values(), 0)

    def counter(name: str) -> Callable[..., None]:
        def count(*args: Any) -> None:
            # SQLAlchemy says "begin" on an AUTOCOMMIT connection too, where no BEGIN is sent
            if name == "BEGIN" and args[0].get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                return
            counts[name] += 1

        return count

    for event_name, name in COUNTED.items():
        event.listen(app.state.db.engine.sync_engine, event_name, counter(name))

    async def bench_counts() -> dict[str, int]:
        return counts

    app.add_api_route("/_bench/counts", bench_counts)
    # uvicorn re-raises SIGTERM after its graceful shutdown; make that a SystemExit so the profile gets written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    if profile:
        profiler.enable()
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)


def serve_raw(port: int, org_id: uuid.UUID) -> None:
    uvicorn.run(raw_app(org_id), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(port: int, graphql: bool = False) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if graphql:  # PostGraphile has no health route: a trivial query
                ok = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{__typename}"}).status_code
            else:
                ok = httpx.get(f"http://127.0.0.1:{port}/healthz").status_code
            if ok == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server on port {port} did not start")


# ---- the third side: PostGraphile 4 on the same database, no access rule, no audit --------------

BENCH_DIR = Path(__file__).resolve().parent
POSTGRAPHILE = BENCH_DIR / "node_modules" / "postgraphile" / "cli.js"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")
NAME = "staffMemberByStaffMemberId { name } citizenByCitizenId { name } externalName"
PG_DETAIL_QUERY = """query PlanDetail($id: UUID!) { planById(id: $id) {
  id version status background followUpDate dischargeReadyAt createdAt updatedAt finalizedAt
  patient: citizenByPatientId { id name } createdByOrganisation: organisationByCreatedByOrgId { id name }
  overallResponsibleOrganisation: organisationByOverallResponsibleOrgId { id name }
  participants: participantsByPlanId(orderBy: CREATED_AT_ASC) { nodes { id kind NAME role isCoordinator
    wantedByPatient representativeKind organisation: organisationByOrganisationId { id name kind } } }
  goals: goalsByPlanId(orderBy: CREATED_AT_ASC) { nodes { id text targetDate expressedById } }
  actions: actionsByPlanId(orderBy: CREATED_AT_ASC) { nodes { id description status
    responsibleOrganisation: organisationByResponsibleOrgId { id name } responsibleParticipantId responsiblePerson
    goalId startDate dueDate } }
  meetings: meetingsByPlanId(orderBy: STARTS_AT_ASC) { nodes { id version kind purpose status startsAt endsAt
    location invitations: invitationsByMeetingId(orderBy: INVITED_AT_ASC) { nodes { participantId channel
    invitedAt } }
    attendances: attendancesByMeetingId(orderBy: JOINED_AT_ASC) { nodes { participantId method joinedAt leftAt
    attestedBy: staffMemberByAttestedByStaffId { name } } } } } } }""".replace("NAME", NAME)
PG_PAGE_QUERY = """query Plans { allPlans(first: 50, orderBy: [CREATED_AT_DESC, ID_DESC]) {
  nodes { id status followUpDate version patient: citizenByPatientId { name }
    participants: participantsByPlanId(orderBy: CREATED_AT_ASC) { nodes { kind NAME } } }
  pageInfo { hasNextPage endCursor } } }""".replace("NAME", NAME)


def _pg_name(p: dict[str, Any]) -> str:
    for part in (p.pop("staffMemberByStaffMemberId"), p.pop("citizenByCitizenId")):
        if part is not None:
            p.pop("externalName")
            return str(part["name"])
    return str(p.pop("externalName") or "")


def _pg_nodes(value: Any) -> Any:
    """PostGraphile's connections ({"nodes": [...]}) as plain lists, and participant names as ours."""
    if isinstance(value, dict):
        if set(value) == {"nodes"}:
            return [_pg_nodes(v) for v in value["nodes"]]
        if "staffMemberByStaffMemberId" in value:
            value = dict(value)
            value["name"] = _pg_name(value)
        return {k: _pg_nodes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pg_nodes(v) for v in value]
    if isinstance(value, str) and TIMESTAMP.fullmatch(value):  # it trims trailing zeros of the microseconds
        return datetime.fromisoformat(value).isoformat()
    return value


def as_ours(body: dict[str, Any]) -> dict[str, Any]:
    """A PostGraphile answer in the shape of ours (to check the data; its cursors are its own)."""
    data = _pg_nodes(body["data"])
    if "planById" in data:
        return {"plan": data["planById"]}
    page = data["allPlans"]
    return {"plans": {"nodes": page["nodes"], "pageInfo": {"hasNextPage": page["pageInfo"]["hasNextPage"]}}}


def start_postgraphile(port: int) -> subprocess.Popen[bytes]:
    """node bench/node_modules/postgraphile/cli.js: one node process (its CPU is read from /proc)."""
    if not POSTGRAPHILE.exists():
        raise SystemExit("PostGraphile is not installed: cd bench && npm ci")
    argv = ["node", str(POSTGRAPHILE), "--connection", DSN, "--schema", "public", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--disable-query-log", "--disable-default-mutations"]
    return subprocess.Popen(argv, cwd=BENCH_DIR, stdout=subprocess.DEVNULL)  # noqa: S603  # our own argv


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> dict[int, float]:
    """CPU time of each PostgreSQL process serving the bench database (the servers' pooled
    connections), from /proc: the work each side leaves to the database."""
    found: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if cmdline.startswith(b"postgres: ") and f" {DB_NAME} ".encode() in cmdline:
                found[int(proc.name)] = cpu_seconds(int(proc.name))
        except OSError:  # gone meanwhile
            continue
    return found


def database_cpu_since(before: dict[int, float]) -> float:
    """The database's CPU time since `before`: a connection opened meanwhile counts from zero; one
    closed meanwhile is lost (the pools keep theirs open, so there are few)."""
    return sum(now - before.get(pid, 0.0) for pid, now in database_cpu_seconds().items())


# ---- load and report ------------------------------------------------------------------------------

Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu_s: float
    client_cpu_s: float
    database_cpu_s: float
    per_request: dict[str, float]  # engine events counted on the GraphQL side

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def ms(self, q: float) -> float:
        s = sorted(self.latencies)
        return 1000 * s[min(len(s) - 1, int(q * len(s)))]


async def load(name: str, pid: int, send: Send, args: argparse.Namespace, counts_url: str | None = None) -> Result:
    """Warm up, then measure: latencies, CPU time of server and client, and (GraphQL) engine events per request."""
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker(until: float, out: list[float]) -> None:
            while (t0 := time.perf_counter()) < until:
                r = await send(client)
                if r.status_code != 200 or b'"errors"' in r.content:
                    raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
                out.append(time.perf_counter() - t0)

        async def run(seconds: float) -> tuple[list[float], float]:
            out: list[float] = []
            start = time.perf_counter()
            await asyncio.gather(*(worker(start + seconds, out) for _ in range(args.concurrency)))
            return out, time.perf_counter() - start

        async def counts() -> dict[str, int]:
            return (await client.get(counts_url)).json() if counts_url else {}

        await run(args.warmup)
        server0, client0, counts0 = cpu_seconds(pid), time.process_time(), await counts()
        database0 = database_cpu_seconds()
        latencies, elapsed = await run(args.seconds)
        server_cpu, client_cpu, counts1 = cpu_seconds(pid) - server0, time.process_time() - client0, await counts()
        database_cpu = database_cpu_since(database0)
        per_request = {k: (counts1[k] - counts0[k]) / len(latencies) for k in counts1}
        return Result(name, len(latencies), elapsed, latencies, server_cpu, client_cpu, database_cpu, per_request)


def difference(a: Any, b: Any, path: str = "") -> str:
    """Where two normalised answers first differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k, "<missing>") != b.get(k, "<missing>"):
                return difference(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return difference(x, y, f"{path}[{i}]")
    return f"{path}: {json.dumps(a)[:300]} != {json.dumps(b)[:300]}"


def _template(values: list[Any]) -> Any:
    """One value with every key any of `values` (objects) has, nested objects merged alike."""
    objects = [v for v in values if isinstance(v, dict)]
    if not objects:
        return next((v for v in values if v is not None), None)
    keys = dict.fromkeys(k for o in objects for k in o)
    return {k: _template([o.get(k) for o in objects]) for k in keys}


def shaped_like(mine: Any, theirs: Any) -> Any:
    """Our answer with only the fields the other side's answer has (ours asks for more)."""
    if isinstance(theirs, dict) and isinstance(mine, dict):
        return {k: shaped_like(mine.get(k, "<missing>"), theirs[k]) for k in theirs}
    if isinstance(theirs, list) and isinstance(mine, list):
        template = _template(theirs)
        return [shaped_like(x, template) for x in mine]
    return mine


def normalised(value: Any) -> Any:
    """JSON with every list in a canonical order: rows with equal ORDER BY keys may come in either order."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((normalised(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


@dataclass
class Case:
    name: str
    sides: dict[str, Send]  # graphql, and where it exists asyncpg and postgraphile
    check: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]  # side -> its answer as our `data`


async def measure(
    args: argparse.Namespace, ids: dict[str, uuid.UUID], tokens: dict[str, str], ports: dict[str, int]
) -> list[Result]:
    url = {side: f"http://127.0.0.1:{ports[side]}" for side in SIDES if side in ports}
    plan_id = ids["plan"]

    def graphql(query: str, variables: dict[str, Any], who: str = "staff-anna", operation: str | None = None) -> Send:
        body = json.dumps({"query": query, "variables": variables, "operationName": operation}).encode()
        headers = {"Authorization": f"Bearer {tokens[who]}", "Content-Type": "application/json"}
        return lambda c: c.post(f"{url['graphql']}/graphql", content=body, headers=headers)

    def known(operation: str, variables: dict[str, Any], who: str = "staff-anna") -> Send:
        return graphql(documents()[operation], variables, who, operation)  # as the browser sends it

    def rest(path: str) -> Send:
        return lambda c: c.get(f"{url['asyncpg']}{path}")

    def postgraphile(query: str, variables: dict[str, Any]) -> Send:
        body = json.dumps({"query": query, "variables": variables}).encode()
        return lambda c: c.post(
            f"{url['postgraphile']}/graphql", content=body, headers={"Content-Type": "application/json"}
        )

    def page_without_cursor(d: dict[str, Any]) -> dict[str, Any]:
        d["plans"]["pageInfo"].pop("endCursor", None)
        return d

    pg = "postgraphile" in url
    cases = [
        Case(
            "plan detail",
            {"graphql": known("PlanDetail", {"id": str(plan_id)}), "asyncpg": rest(f"/plans/{plan_id}")}
            | ({"postgraphile": postgraphile(PG_DETAIL_QUERY, {"id": str(plan_id)})} if pg else {}),
            {"asyncpg": lambda b: b["data"], "postgraphile": as_ours},
        ),
        Case(
            "plans page of 50",
            {"graphql": known("Plans", {"first": 50}), "asyncpg": rest("/plans?first=50")}
            | ({"postgraphile": postgraphile(PG_PAGE_QUERY, {})} if pg else {}),
            {"asyncpg": lambda b: page_without_cursor(b["data"]), "postgraphile": as_ours},
        ),
        Case("work queue (AppWorkQueue, 50)", {"graphql": known("AppWorkQueue", {"first": 50, "language": "SV"})}, {}),
        Case("inbox (Inbox)", {"graphql": known("Inbox", {})}, {}),
        Case(
            "patient's page (AppPlanPage, Elsa)",
            {"graphql": known("AppPlanPage", {"id": str(plan_id), "language": "SV"}, "citizen-elsa")},
            {},
        ),
    ]
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",")]
        cases = [c for c in cases if any(c.name.startswith(w) for w in wanted)]
    results: list[Result] = []
    async with httpx.AsyncClient(timeout=60) as c:
        for case in cases:
            ours = (await case.sides["graphql"](c)).json()
            if "errors" in ours:
                raise SystemExit(f"{case.name}: {json.dumps(ours)[:3000]}")
            sizes = []
            for side, to_ours in case.check.items():
                if side not in case.sides:
                    continue
                answer = await case.sides[side](c)
                sizes.append(f"{side} {len(answer.content)}")
                theirs = to_ours(answer.json())
                mine = shaped_like(page_without_cursor(ours["data"]) if "plans" in theirs else ours["data"], theirs)
                if normalised(mine) != normalised(theirs):
                    raise SystemExit(
                        f"{case.name}: graphql and {side} disagree at "
                        + difference(normalised(mine), normalised(theirs))
                    )
            others = [s for s in case.check if s in case.sides]
            same = f"same data from graphql and {', '.join(others)}" if others else "graphql only"
            print(f"{case.name}: {len(json.dumps(ours))} bytes of JSON ({', '.join(sizes) or 'alone'}), {same}")
        for case in cases:
            for side, send in case.sides.items():
                counts = f"{url['graphql']}/_bench/counts" if side == "graphql" else None
                results.append(await load(f"{case.name} / {side}", ports[f"{side} pid"], send, args, counts))
    return results


SIDES = ("graphql", "asyncpg", "postgraphile")
KNOWN_SQL = {
    "asyncpg": {"plan detail": 7, "plans page of 50": 2},
    "postgraphile": {"plan detail": 1, "plans page of 50": 1},
}


def report(results: list[Result], args: argparse.Namespace) -> None:
    when = time.strftime("%Y-%m-%d %H:%M")
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{when}, {os.cpu_count()} CPUs, load average {load_avg}, {args.concurrency} clients, "
        f"{args.seconds:g} s per side after warm-up"
    )
    counted = "".join(f"{c + '/req':>13}" for c in COUNTED.values())
    print(
        f"{'':52}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'server CPU ms/req':>19}{'db CPU ms/req':>15}"
        f"{'client CPU ms/req':>19}{counted}"
    )
    for r in results:
        server, database, client = (1000 * t / r.requests for t in (r.server_cpu_s, r.database_cpu_s, r.client_cpu_s))
        case, side = r.name.split(" / ")
        if r.per_request:
            events = "".join(f"{v:13.2f}" for v in r.per_request.values())
        else:
            events = f"{'(' + str(KNOWN_SQL.get(side, {}).get(case, '?')) + ')':>13}"
        print(
            f"{r.name:52}{r.rps:7.1f}{r.ms(0.5):8.1f}{r.ms(0.99):8.1f}{server:19.2f}{database:15.2f}{client:19.2f}{events}"
        )
    by_name = {r.name: r for r in results}
    for r in results:
        case, side = r.name.split(" / ")
        base = by_name.get(f"{case} / asyncpg")
        if side == "asyncpg" or base is None:
            continue
        cpu = (r.server_cpu_s / r.requests) / (base.server_cpu_s / base.requests)
        both = ((r.server_cpu_s + r.database_cpu_s) / r.requests) / (
            (base.server_cpu_s + base.database_cpu_s) / base.requests
        )
        print(
            f"{case}: {side}/asyncpg {r.rps / base.rps:.2f} in req/s, {cpu:.2f}x its server CPU per request, "
            f"{both:.2f}x its server and database CPU"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per side and case (10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each measurement (2)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent keep-alive clients (16)")
    parser.add_argument("--profile", type=Path, help="run the GraphQL server under cProfile and write stats here")
    parser.add_argument("--cases", help="only these cases, by the start of their names: 'plan detail,plans page'")
    parser.add_argument("--no-postgraphile", action="store_true", help="leave out the PostGraphile side")
    args = parser.parse_args()

    asyncio.run(recreate_database())
    tmp = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    procs: list[mp.process.BaseProcess] = []
    node: subprocess.Popen[bytes] | None = None
    try:
        migrations.upgrade(SA_URL)
        settings = Settings(database_url=SA_URL, dev_oidc_key_file=tmp / "dev-oidc-key.json")
        t0 = time.perf_counter()
        plan_id, org_id = asyncio.run(build_data(settings))
        print(f"data built through the service layer in {time.perf_counter() - t0:.1f} s")
        provider = DevProvider(settings)  # also writes the key file the server reads
        tokens = {who: provider.issue_token(who) for who in ("staff-anna", "citizen-elsa")}
        ports: dict[str, int] = {}
        servers: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {
            "graphql": (serve_graphql, (settings.dev_oidc_key_file, args.profile)),
            "asyncpg": (serve_raw, (org_id,)),
        }
        for side, (target, extra) in servers.items():
            port = free_port()
            procs.append(mp.get_context("spawn").Process(target=target, args=(port, *extra), daemon=True))
            procs[-1].start()
            ports |= {side: port, f"{side} pid": procs[-1].pid or 0}
            wait_healthy(port)
        if not args.no_postgraphile:
            port = free_port()
            node = start_postgraphile(port)
            ports |= {"postgraphile": port, "postgraphile pid": node.pid}
            wait_healthy(port, graphql=True)
        report(uvloop.run(measure(args, {"plan": plan_id}, tokens, ports)), args)
    finally:
        if node is not None:
            node.terminate()
            node.wait(15)
        for proc in procs:
            proc.terminate()
            proc.join(15)
        asyncio.run(recreate_database(drop_only=True))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
