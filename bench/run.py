"""Benchmark: the GraphQL stack against hand-written asyncpg SQL, on PostgreSQL (see bench/README.md).

    .venv/bin/python bench/run.py [--seconds N] [--profile FILE]

Creates the database `sip_bench`, migrates it, builds the data through the service layer, starts two
uvicorn servers on loopback ports (the real app, and a tiny Starlette app using asyncpg directly), checks
that both answer the same JSON, loads each with 16 concurrent keep-alive clients, and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import multiprocessing as mp
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
import uvloop
from sqlalchemy import event, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sip_service import demo
from sip_service.auth.devprovider import DevProvider
from sip_service.auth.principal import StaffPrincipal
from sip_service.identity.models import Citizen, StaffMember
from sip_service.kit import clock, migrations
from sip_service.kit.db import Database
from sip_service.meetings import service as meetings
from sip_service.meetings.models import InvitationChannel, MeetingKind
from sip_service.plans import service as plans
from sip_service.plans.models import ParticipantKind
from sip_service.settings import Settings

PG = "postgres@127.0.0.1:5432"
DB_NAME = "sip_bench"
DSN = f"postgresql://{PG}/{DB_NAME}"
SA_URL = f"postgresql+asyncpg://{PG}/{DB_NAME}"
PAGE_PLANS = 59  # small plans besides the big one, so a page of 50 has a next page

DETAIL_QUERY = """query PlanDetail($id: UUID!) { plan(id: $id) {
  id version status background followUpDate dischargeReadyAt createdAt updatedAt finalizedAt closedAt
  patient { id name } createdByOrganisation { id name } overallResponsibleOrganisation { id name }
  participants { id kind name role isCoordinator wantedByPatient representativeKind organisation { id name kind } }
  goals { id text targetDate expressedById }
  actions { id description status responsibleOrganisation { id name } responsibleParticipantId responsiblePerson
            goalId startDate dueDate }
  meetings { id version kind purpose status startsAt endsAt location agenda
             invitations { participantId channel invitedAt }
             attendances { participantId method joinedAt leftAt attestedBy { id name } } } } }"""

PAGE_QUERY = """query Plans { plans(first: 50) {
  nodes { id status followUpDate updatedAt patient { name } participants { kind name } }
  pageInfo { hasNextPage endCursor } } }"""


# ---- data, through the service layer --------------------------------------------------------


async def recreate_database(drop_only: bool = False) -> None:
    con = await asyncpg.connect(f"postgresql://{PG}/postgres")
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            await con.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await con.close()


async def build_data(settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """One big plan (8 participants, 10 goals, 20 actions, 3 meetings) and 59 small ones; all by Anna."""
    db = Database(SA_URL)
    async with db.write() as s:
        await demo._people(s, settings)
        s.add_all(Citizen(personal_number=f"19500101{i:04d}", name=f"Testperson {i:02d}") for i in range(PAGE_PLANS))
    async with db.read() as s:
        staff = {
            m.name.split()[0]: StaffPrincipal(m.id, m.organisation_id, m.hsa_id, m.name)
            for m in await s.scalars(select(StaffMember))
        }
        people = {c.name: c.id for c in await s.scalars(select(Citizen))}
    anna, johan, sara = staff["Anna"], staff["Johan"], staff["Sara"]
    today, now = clock.today(), clock.now()
    async with db.write() as s:
        plan = await plans.create_plan(
            s,
            anna,
            patient_id=people["Elsa Andersson"],
            background="Hjärtsvikt, fall.",
            follow_up_date=today + timedelta(days=90),
        )
        await s.flush()
        pid = plan.id
        P = plans.NewParticipant
        for new in (
            P(ParticipantKind.STAFF, staff_member_id=staff["Omar"].staff_id),
            P(ParticipantKind.STAFF, staff_member_id=johan.staff_id, role="SIP-samordnare kommunen"),
            P(ParticipantKind.STAFF, staff_member_id=sara.staff_id),
            P(ParticipantKind.RELATIVE, citizen_id=people["Per Andersson"], role="Son"),
            P(ParticipantKind.RELATIVE, citizen_id=people["Lena Andersson"], role="Dotter"),
            P(ParticipantKind.EXTERNAL, external_name="Försäkringskassan, handläggare", role="Extern part"),
        ):
            await plans.add_participant(s, anna, pid, plan.version, new)
            await s.flush()
        patient = next(p for p in plan.participants if p.kind is ParticipantKind.PATIENT)
        others = [p for p in plan.participants if p.kind in (ParticipantKind.RELATIVE, ParticipantKind.EXTERNAL)]
        orgs = [anna.organisation_id, johan.organisation_id, sara.organisation_id]
        await plans.record_consent(s, anna, pid, plan.version, given_by_id=patient.id, organisation_ids=orgs)
        await s.flush()
        await plans.set_overall_responsibility(s, anna, pid, plan.version, johan.organisation_id)
        await s.flush()
        for i in range(10):
            await plans.add_goal(
                s,
                anna,
                pid,
                plan.version,
                goal_text=f"Mål {i + 1}: klara vardagen hemma.",
                expressed_by_id=patient.id,
                target_date=today + timedelta(days=30 * (i + 1)),
            )
            await s.flush()
        for i in range(20):
            by_party = i % 5 == 4
            details = plans.ActionDetails(
                description=f"Insats {i + 1}: stöd i hemmet",
                goal_id=plan.goals[i % 10].id,
                responsible_org_id=None if by_party else orgs[i % 3],
                responsible_participant_id=others[i % 3].id if by_party else None,
                responsible_person=None if by_party else "Kontaktperson",
                start_date=today,
                due_date=today + timedelta(days=60),
            )
            await plans.add_action(s, anna, pid, plan.version, details)
            await s.flush()
        for days, kind, where in (
            (-14, MeetingKind.IN_PERSON, "Vårdcentralen, rum 12"),
            (-2, MeetingKind.HYBRID, "Hemma hos Elsa"),
            (7, MeetingKind.VIDEO, ""),
        ):
            starts = now + timedelta(days=days)
            m = await meetings.schedule_meeting(
                s,
                anna,
                pid,
                kind=kind,
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                location=where,
                agenda="Genomgång av planen",
            )
            await s.flush()
            await meetings.invite(s, anna, m.id, m.version, [p.id for p in plan.participants], InvitationChannel.EMAIL)
            await s.flush()
            for p in plan.participants[:5] if days < 0 else []:
                await meetings.attest_attendance(s, anna, m.id, m.version, p.id)
                await s.flush()
    async with db.write() as s:
        for i in range(PAGE_PLANS):
            small = await plans.create_plan(
                s, anna, patient_id=people[f"Testperson {i:02d}"], follow_up_date=today + timedelta(days=i)
            )
            await s.flush()
            for new in (
                P(ParticipantKind.STAFF, staff_member_id=johan.staff_id),
                P(ParticipantKind.RELATIVE, citizen_id=people["Per Andersson"], role="Granne"),
            ):
                await plans.add_participant(s, anna, small.id, small.version, new)
                await s.flush()
    await db.dispose()
    return pid, anna.organisation_id


# ---- the hand-written endpoint --------------------------------------------------------------

# The same access rule as plans.repository.readable_condition for a staff member of organisation $2.
READABLE = """(p.created_by_org_id = $2 OR (
  EXISTS (SELECT 1 FROM participants x WHERE x.plan_id = p.id AND x.organisation_id = $2) AND
  EXISTS (SELECT 1 FROM consents k JOIN consent_organisations ko ON ko.consent_id = k.id
          WHERE k.plan_id = p.id AND k.withdrawn_at IS NULL AND k.replaced_at IS NULL
            AND (k.valid_until IS NULL OR k.valid_until >= current_date) AND ko.organisation_id = $2)))"""
PLAN_SQL = (
    """SELECT p.id, p.version, p.status, p.background, p.follow_up_date, p.discharge_ready_at, p.created_at,
  p.updated_at, p.finalized_at, p.closed_at, c.id AS c_id, c.name AS c_name, co.id AS co_id, co.name AS co_name,
  ro.id AS ro_id, ro.name AS ro_name
FROM plans p JOIN citizens c ON c.id = p.patient_id JOIN organisations co ON co.id = p.created_by_org_id
LEFT JOIN organisations ro ON ro.id = p.overall_responsible_org_id WHERE p.id = $1 AND """
    + READABLE
)
PARTICIPANTS_SQL = """SELECT pa.plan_id, pa.id, pa.kind, coalesce(s.name, c.name, pa.external_name, '') AS name,
  pa.role, pa.is_coordinator, pa.wanted_by_patient, pa.representative_kind,
  o.id AS o_id, o.name AS o_name, o.kind AS o_kind
FROM participants pa LEFT JOIN staff_members s ON s.id = pa.staff_member_id
LEFT JOIN citizens c ON c.id = pa.citizen_id LEFT JOIN organisations o ON o.id = pa.organisation_id
WHERE pa.plan_id = ANY($1::uuid[]) ORDER BY pa.created_at"""
GOALS_SQL = "SELECT id, text, target_date, expressed_by_id FROM goals WHERE plan_id = $1 ORDER BY created_at"
ACTIONS_SQL = """SELECT a.id, a.description, a.status, o.id AS o_id, o.name AS o_name, a.responsible_participant_id,
  a.responsible_person, a.goal_id, a.start_date, a.due_date
FROM actions a LEFT JOIN organisations o ON o.id = a.responsible_org_id WHERE a.plan_id = $1 ORDER BY a.created_at"""
MEETINGS_SQL = """SELECT id, version, kind, purpose, status, starts_at, ends_at, location, agenda
FROM meetings WHERE plan_id = $1 ORDER BY starts_at"""
INVITATIONS_SQL = """SELECT i.meeting_id, i.participant_id, i.channel, i.invited_at
FROM invitations i JOIN meetings m ON m.id = i.meeting_id WHERE m.plan_id = $1 ORDER BY i.invited_at"""
ATTENDANCES_SQL = """SELECT a.meeting_id, a.participant_id, a.method, a.joined_at, a.left_at,
  s.id AS s_id, s.name AS s_name
FROM attendances a JOIN meetings m ON m.id = a.meeting_id LEFT JOIN staff_members s ON s.id = a.attested_by_staff_id
WHERE m.plan_id = $1 ORDER BY a.joined_at"""
PAGE_SQL = (
    """SELECT p.id, p.status, p.follow_up_date, p.updated_at, p.created_at, c.name AS c_name
FROM plans p JOIN citizens c ON c.id = p.patient_id WHERE """
    + READABLE
    + """
ORDER BY p.created_at DESC, p.id DESC LIMIT $1"""
)


def ref(r: asyncpg.Record, prefix: str, *fields: str) -> dict[str, Any] | None:
    """A nested object from prefixed columns of a LEFT JOIN, or None when there was no row."""
    return None if r[f"{prefix}_id"] is None else {f: r[f"{prefix}_{f}"] for f in ("id", *fields)}


async def plan_detail(con: asyncpg.Connection, plan_id: uuid.UUID, org_id: uuid.UUID) -> dict[str, Any] | None:
    p = await con.fetchrow(PLAN_SQL, plan_id, org_id)
    if p is None:
        return None
    meetings = [{**m, "invitations": [], "attendances": []} for m in await con.fetch(MEETINGS_SQL, plan_id)]
    by_id = {m["id"]: m for m in meetings}
    for i in await con.fetch(INVITATIONS_SQL, plan_id):
        by_id[i["meeting_id"]]["invitations"].append(
            {"participantId": i["participant_id"], "channel": i["channel"], "invitedAt": i["invited_at"]}
        )
    for a in await con.fetch(ATTENDANCES_SQL, plan_id):
        by_id[a["meeting_id"]]["attendances"].append(
            {
                "participantId": a["participant_id"],
                "method": a["method"],
                "joinedAt": a["joined_at"],
                "leftAt": a["left_at"],
                "attestedBy": ref(a, "s", "name"),
            }
        )
    return {
        "id": p["id"],
        "version": p["version"],
        "status": p["status"],
        "background": p["background"],
        "followUpDate": p["follow_up_date"],
        "dischargeReadyAt": p["discharge_ready_at"],
        "createdAt": p["created_at"],
        "updatedAt": p["updated_at"],
        "finalizedAt": p["finalized_at"],
        "closedAt": p["closed_at"],
        "patient": ref(p, "c", "name"),
        "createdByOrganisation": ref(p, "co", "name"),
        "overallResponsibleOrganisation": ref(p, "ro", "name"),
        "participants": [
            {
                "id": r["id"],
                "kind": r["kind"],
                "name": r["name"],
                "role": r["role"],
                "isCoordinator": r["is_coordinator"],
                "wantedByPatient": r["wanted_by_patient"],
                "representativeKind": r["representative_kind"],
                "organisation": ref(r, "o", "name", "kind"),
            }
            for r in await con.fetch(PARTICIPANTS_SQL, [plan_id])
        ],
        "goals": [
            {"id": g["id"], "text": g["text"], "targetDate": g["target_date"], "expressedById": g["expressed_by_id"]}
            for g in await con.fetch(GOALS_SQL, plan_id)
        ],
        "actions": [
            {
                "id": a["id"],
                "description": a["description"],
                "status": a["status"],
                "responsibleOrganisation": ref(a, "o", "name"),
                "responsibleParticipantId": a["responsible_participant_id"],
                "responsiblePerson": a["responsible_person"],
                "goalId": a["goal_id"],
                "startDate": a["start_date"],
                "dueDate": a["due_date"],
            }
            for a in await con.fetch(ACTIONS_SQL, plan_id)
        ],
        "meetings": [
            {
                "id": m["id"],
                "version": m["version"],
                "kind": m["kind"],
                "purpose": m["purpose"],
                "status": m["status"],
                "startsAt": m["starts_at"],
                "endsAt": m["ends_at"],
                "location": m["location"],
                "agenda": m["agenda"],
                "invitations": m["invitations"],
                "attendances": m["attendances"],
            }
            for m in meetings
        ],
    }


async def plan_page(con: asyncpg.Connection, first: int, org_id: uuid.UUID) -> dict[str, Any]:
    rows = await con.fetch(PAGE_SQL, first + 1, org_id)
    more, rows = len(rows) > first, rows[:first]
    people: dict[Any, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    for r in await con.fetch(PARTICIPANTS_SQL, list(people)):
        people[r["plan_id"]].append({"kind": r["kind"], "name": r["name"]})
    last = rows[-1] if rows else None
    cursor = (
        None
        if last is None
        else base64.urlsafe_b64encode(f"{last['created_at'].isoformat()}|{last['id']}".encode()).decode()
    )
    return {
        "nodes": [
            {
                "id": r["id"],
                "status": r["status"],
                "followUpDate": r["follow_up_date"],
                "updatedAt": r["updated_at"],
                "patient": {"name": r["c_name"]},
                "participants": people[r["id"]],
            }
            for r in rows
        ],
        "pageInfo": {"hasNextPage": more, "endCursor": cursor},
    }


def _default(value: object) -> str:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def raw_app(org_id: uuid.UUID) -> Starlette:
    pool: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pool.append(await asyncpg.create_pool(DSN, min_size=10, max_size=10))
        yield
        await pool[0].close()

    def json_response(data: dict[str, Any]) -> Response:
        body = json.dumps({"data": data}, default=_default, separators=(",", ":"), ensure_ascii=False)
        return Response(body, media_type="application/json")

    async def detail(request: Request) -> Response:
        async with pool[0].acquire() as con:
            return json_response({"plan": await plan_detail(con, uuid.UUID(request.path_params["id"]), org_id)})

    async def page(request: Request) -> Response:
        async with pool[0].acquire() as con:
            return json_response({"plans": await plan_page(con, int(request.query_params.get("first", 20)), org_id)})

    async def healthz(_: Request) -> Response:
        return Response("ok")

    routes = [Route("/plans/{id}", detail), Route("/plans", page), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)


# ---- servers (child processes) --------------------------------------------------------------


def serve_graphql(port: int, key_file: Path, profile: Path | None) -> None:
    from sip_service.app import create_app

    app = create_app(Settings(database_url=SA_URL, dev_oidc_key_file=key_file))
    counts = {"statements": 0, "transactions": 0}

    def on_statement(*_: Any) -> None:
        counts["statements"] += 1

    def on_begin(*_: Any) -> None:
        counts["transactions"] += 1

    event.listen(app.state.db.engine.sync_engine, "before_cursor_execute", on_statement)
    event.listen(app.state.db.engine.sync_engine, "begin", on_begin)

    async def bench_counts() -> dict[str, int]:
        return dict(counts)

    app.add_api_route("/_bench/counts", bench_counts)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the profile is written.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- load -----------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu_s: float
    sql: float | None = None
    transactions: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        s = sorted(self.latencies)
        return 1000 * s[min(len(s) - 1, int(q * len(s)))]


async def load(
    name: str, pid: int, send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], args: argparse.Namespace
) -> Result:
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

        await run(args.warmup)
        cpu0 = cpu_seconds(pid)
        latencies, elapsed = await run(args.seconds)
        return Result(name, len(latencies), elapsed, latencies, cpu_seconds(pid) - cpu0)


def normalised(value: Any) -> Any:
    """JSON with lists in a canonical order: rows with equal sort keys may come back in either order."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((normalised(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


async def measure(
    args: argparse.Namespace,
    plan_id: uuid.UUID,
    token: str,
    servers: dict[str, tuple[int, int]],
) -> list[Result]:
    (gql_port, gql_pid), (raw_port, raw_pid) = servers["graphql"], servers["asyncpg"]
    gql, raw = f"http://127.0.0.1:{gql_port}", f"http://127.0.0.1:{raw_port}"
    headers = {"Authorization": f"Bearer {token}"}

    def graphql(query: str, variables: dict[str, Any]) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        h = {**headers, "Content-Type": "application/json"}
        return lambda c: c.post(f"{gql}/graphql", content=body, headers=h)

    def rest(path: str) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
        return lambda c: c.get(f"{raw}{path}", headers=headers)

    cases = [
        ("plan detail", graphql(DETAIL_QUERY, {"id": str(plan_id)}), rest(f"/plans/{plan_id}")),
        ("plans page 50", graphql(PAGE_QUERY, {}), rest("/plans?first=50")),
    ]
    results: list[Result] = []
    async with httpx.AsyncClient() as c:
        for name, send_gql, send_raw in cases:
            a, b = (await send_gql(c)).json(), (await send_raw(c)).json()
            if "errors" in a or normalised(a) != normalised(b):
                raise SystemExit(f"{name}: the two endpoints disagree\n{json.dumps(a)[:2000]}\n{json.dumps(b)[:2000]}")
            print(f"{name}: both sides return the same data ({len(json.dumps(a))} bytes of JSON)")
        for name, send_gql, send_raw in cases:
            before = (await c.get(f"{gql}/_bench/counts")).json()
            r = await load(f"{name} / graphql", gql_pid, send_gql, args)
            after = (await c.get(f"{gql}/_bench/counts")).json()
            r.sql = (after["statements"] - before["statements"]) / r.requests
            r.transactions = (after["transactions"] - before["transactions"]) / r.requests
            results.append(r)
            results.append(await load(f"{name} / asyncpg", raw_pid, send_raw, args))
    return results


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, concurrency {args.concurrency}, "
        f"{args.seconds:g} s per side after {args.warmup:g} s warm-up"
    )
    print(f"{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'srv CPU ms/req':>15} {'SQL/req':>8} {'tx/req':>7}")
    for r in results:
        sql = f"{r.sql:8.1f} {r.transactions:7.1f}" if r.sql is not None and r.transactions is not None else ""
        cpu = 1000 * r.server_cpu_s / r.requests
        print(f"{r.name:28} {r.rps:8.1f} {r.pct(0.5):8.1f} {r.pct(0.99):8.1f} {cpu:15.2f} {sql}")
    for g, a in zip(results[::2], results[1::2], strict=True):
        cpu_ratio = (a.server_cpu_s / a.requests) / (g.server_cpu_s / g.requests)
        print(
            f"{g.name.split(' / ')[0]}: graphql/asyncpg throughput ratio {g.rps / a.rps:.2f} "
            f"(server CPU per request ratio {cpu_ratio:.2f}; aim >= 0.5)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per side and case")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", type=Path, help="run the GraphQL server under cProfile, dump stats here")
    args = parser.parse_args()

    asyncio.run(recreate_database())
    procs: list[mp.process.BaseProcess] = []
    try:
        migrations.upgrade(SA_URL)
        tmp = Path(tempfile.mkdtemp(prefix="sip-bench-"))
        settings = Settings(database_url=SA_URL, dev_oidc_key_file=tmp / "dev-oidc-key.json")
        t0 = time.perf_counter()
        plan_id, org_id = asyncio.run(build_data(settings))
        print(f"data built through the service layer in {time.perf_counter() - t0:.1f} s")
        token = DevProvider(settings).issue_token("staff-anna")  # also writes the signing key for the server

        ctx = mp.get_context("spawn")
        servers: dict[str, tuple[int, int]] = {}
        for name, target, extra in (
            ("graphql", serve_graphql, (tmp / "dev-oidc-key.json", args.profile)),
            ("asyncpg", serve_raw, (org_id,)),
        ):
            port = free_port()
            proc = ctx.Process(target=target, args=(port, *extra), daemon=True)
            proc.start()
            procs.append(proc)
            assert proc.pid is not None
            servers[name] = (port, proc.pid)
            _wait_healthy(port)
        report(uvloop.run(measure(args, plan_id, token, servers)), args)
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(15)
        asyncio.run(recreate_database(drop_only=True))


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


if __name__ == "__main__":
    main()
