"""Fan-out benchmark: many open pages watching one plan (see bench/README.md, "Live updates").

    .venv/bin/python bench/fanout.py [--subscribers 200] [--changes 30]

Builds the bench data of bench/run.py in `sip_bench`, starts the real app (uvicorn, one process, events
over Redis at 127.0.0.1:6379), opens N graphql-transport-ws connections subscribed to `planChanges` of
the big plan (Anna, Johan, Elsa and Per in turn: four people, all of whom may read it), then makes
changes one after another through the use-case runner in this process (`usecases.run`, as a mutation
does, publishing over Redis after the commit) and times, for each change, from the moment its
transaction committed to the moment each page received it. The server's SQL statements and CPU time
per change come from its engine events and /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvloop
from run import (
    COUNTED,
    SA_URL,
    build_data,
    cpu_seconds,
    free_port,
    recreate_database,
    serve_graphql,
    wait_healthy,
)
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from sip_service import usecases
from sip_service.api.operations import documents
from sip_service.auth.principal import StaffPrincipal
from sip_service.http.devprovider import DevProvider
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.kit.pubsub import RedisBroker
from sip_service.models.identity import StaffMember
from sip_service.models.plans import Participant, ParticipantKind, Plan
from sip_service.plans import service as plans
from sip_service.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
PEOPLE = ("staff-anna", "staff-johan", "citizen-elsa", "citizen-per")


class Page:
    """One open plan page: its websocket, and when each version's change arrived."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.arrived: dict[int, float] = {}
        self.errors: list[str] = []  # changes that reached the page as an error instead

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message.get("type") == "next" and message["payload"].get("data") is None:
                self.errors.append(json.dumps(message["payload"].get("errors"))[:200])  # counted, reported
            elif message.get("type") == "next":
                version = message["payload"]["data"]["planChanges"]["version"]
                self.arrived.setdefault(version, time.perf_counter())
            elif message.get("type") in ("error", "complete"):
                raise RuntimeError(f"a page's subscription ended: {message}")


async def open_page(url: str, token: str, plan_id: uuid.UUID) -> Page:
    ws = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_queue=None)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"not signed in: {ack}")
    payload = {"query": documents()["PlanChanges"], "variables": {"planId": str(plan_id)}}
    await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
    return Page(ws)


def q(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


async def bench(args: argparse.Namespace, port: int, pid: int, plan_id: uuid.UUID, tokens: dict[str, str]) -> None:
    url = f"ws://127.0.0.1:{port}/graphql"
    pages = [await open_page(url, tokens[PEOPLE[i % len(PEOPLE)]], plan_id) for i in range(args.subscribers)]
    readers = [asyncio.create_task(p.read()) for p in pages]
    db, broker = Database(SA_URL), RedisBroker(REDIS_URL)
    async with db.read() as s:
        anna_row = (await s.scalars(select(StaffMember).where(StaffMember.name == "Anna Lind"))).one()
        patient = await s.scalar(
            select(Participant.id).where(Participant.plan_id == plan_id, Participant.kind == ParticipantKind.PATIENT)
        )
    anna = StaffPrincipal(anna_row.id, anna_row.organisation_id, anna_row.hsa_id, anna_row.name)
    committed_at: dict[int, float] = {}

    async def change(n: int) -> int:
        async with db.read() as s:
            version = int(await s.scalar(select(Plan.version).where(Plan.id == plan_id)) or 0)
        new_version = version + 1

        async def mark() -> None:
            committed_at[new_version] = time.perf_counter()

        await usecases.run(
            db,
            anna,
            "addGoal",
            lambda s: plans.add_goal(s, anna, plan_id, version, goal_text=f"Mål {n}", expressed_by_id=patient),
            broker=broker,
            committed=mark,
        )
        return new_version

    async def everyone_has(version: int, within: float) -> bool:
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            if all(version in p.arrived or p.errors for p in pages):
                return True
            for r in readers:  # a page whose subscription failed says why
                if r.done() and r.exception() is not None:
                    raise SystemExit(f"a page failed: {r.exception()!r}")
            await asyncio.sleep(0.005)
        return False

    async with httpx.AsyncClient() as http:

        async def counts() -> dict[str, int]:
            return dict((await http.get(f"http://127.0.0.1:{port}/_bench/counts")).json())

        # Warm-up: until every page has heard a change (they subscribe in their own time).
        for attempt in range(20):
            v = await change(-attempt)
            if await everyone_has(v, 10):
                break
        else:
            raise SystemExit("not every page heard the warm-up changes")
        latencies: list[float] = []
        last: list[float] = []
        c0, cpu0 = await counts(), cpu_seconds(pid)
        for n in range(args.changes):
            v = await change(n)
            if not await everyone_has(v, 60):
                raise SystemExit(f"change {n}: not every page heard it within 60 s")
            times = [p.arrived[v] - committed_at[v] for p in pages if v in p.arrived]
            latencies += times
            last.append(max(times))
        c1, cpu1 = await counts(), cpu_seconds(pid)
    for r in readers:
        r.cancel()
    for p in pages:
        await p.ws.close()
    await broker.close()
    await db.dispose()
    per_change = {k: (c1[k] - c0[k]) / args.changes for k in COUNTED.values()}
    ms = 1000
    print(f"\n{args.subscribers} pages on one plan ({len(PEOPLE)} people), {args.changes} changes")
    if failed := [e for p in pages for e in p.errors]:
        print(f"  {len(failed)} changes reached a page as an error instead, e.g. {failed[0]}")
    print(f"  each page, commit -> received: p50 {q(latencies, 0.5) * ms:.1f} ms, p99 {q(latencies, 0.99) * ms:.1f} ms")
    print(
        f"  every page of a change (the last one): p50 {q(last, 0.5) * ms:.1f} ms, "
        f"p99 {q(last, 0.99) * ms:.1f} ms, max {max(last) * ms:.1f} ms"
    )
    print(
        "  per change on the server: "
        + ", ".join(f"{k} {v:.1f}" for k, v in per_change.items())
        + f", CPU {(cpu1 - cpu0) / args.changes * ms:.1f} ms (the change itself is made in the bench process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(recreate_database())
    tmp = Path(tempfile.mkdtemp(prefix="sip-fanout-"))
    proc = None
    try:
        migrations.upgrade(SA_URL)
        settings = Settings(database_url=SA_URL, dev_oidc_key_file=tmp / "dev-oidc-key.json")
        plan_id, _ = asyncio.run(build_data(settings))
        provider = DevProvider(settings)
        tokens: dict[str, Any] = {who: provider.issue_token(who) for who in PEOPLE}
        port = free_port()
        proc = mp.get_context("spawn").Process(
            target=serve_graphql, args=(port, settings.dev_oidc_key_file, None, REDIS_URL), daemon=True
        )
        proc.start()
        wait_healthy(port)
        uvloop.run(bench(args, port, proc.pid or 0, plan_id, tokens))
    finally:
        if proc is not None:
            proc.terminate()
            proc.join(15)
        asyncio.run(recreate_database(drop_only=True))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
