"""Statistics benchmark: the managers' figures over 100 000 plans on PostgreSQL (bench/README.md,
"Statistics").

    .venv/bin/python bench/stats.py [--plans 100000] [--repeat 5]

Builds `sip_bench_stats` (dropped at the end): the demo (its organisations, managers and steering
group, its handful of plans and its year of history), then `--plans` more past plans written as
the demo's history is (`demo_history.write`: the demo's generator with a new seed per 480 plans, in
the same two units), then ANALYZE, as autovacuum would after such a load. Then, for a manager (the
region's care giver view) and a steering group member (the joint view), `--repeat` answers through
`stats.service.statistics` in a read session of their own, as the API calls it (the API adds the
principal lookup and the audit write, the same for any number of plans). Reported per view: wall
time (median and worst), the SQL statements and the time inside them (engine events), each
statement's time (the rest of the wall time is Python: the lattice and its suppression). The same
before the extra plans, to show what the plans cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics as stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, func, select, text

from sip_service import demo, demo_history
from sip_service.auth.principal import MANAGER, STEERING, StaffPrincipal
from sip_service.kit import clock, migrations
from sip_service.kit.db import Database
from sip_service.models.identity import Organisation, StaffMember
from sip_service.models.plans import Plan
from sip_service.settings import Settings
from sip_service.stats import service

PG = "postgres@127.0.0.1:5432"
DB_NAME = "sip_bench_stats"
SA_URL = f"postgresql+asyncpg://{PG}/{DB_NAME}"


async def recreate_database(drop_only: bool = False) -> None:
    con = await asyncpg.connect(f"postgresql://{PG}/postgres")
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            await con.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await con.close()


@dataclass
class Timer:
    """The engine's statements and the time spent inside each (before → after cursor execute)."""

    on: bool = False
    started: dict[int, float] = field(default_factory=dict)
    times: list[tuple[float, str]] = field(default_factory=list)

    def before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self.on:
            self.started[id(cursor)] = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self.on and (t0 := self.started.pop(id(cursor), None)) is not None:
            self.times.append((time.perf_counter() - t0, statement))

    @contextmanager
    def measuring(self) -> Iterator[Timer]:
        self.on, self.times = True, []
        try:
            yield self
        finally:
            self.on = False


@dataclass
class Run:
    wall: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    statements: int = 0
    per_statement: list[float] = field(default_factory=list)  # the last answer's, in order


async def principals(db: Database) -> dict[str, StaffPrincipal]:
    """A manager in the region's care giver, and a steering group member of the same, as the demo's."""
    async with db.read() as s:
        orgs = {o.hsa_id: o for o in await s.scalars(select(Organisation))}
        member = await s.scalar(select(StaffMember).where(StaffMember.organisation_id == orgs["SE2321000016-VCL"].id))
    assert member is not None, "the demo has staff in Vårdcentralen Lindö"

    def as_(role: str) -> StaffPrincipal:
        return StaffPrincipal(member.id, member.organisation_id, member.hsa_id, member.name, roles=frozenset({role}))

    return {"CARE_GIVER": as_(MANAGER), "JOINT": as_(STEERING)}


async def answer(db: Database, timer: Timer, who: StaffPrincipal, view: str, repeat: int) -> Run:
    run = Run()
    for _ in range(repeat):
        with timer.measuring():
            t0 = time.perf_counter()
            async with db.read() as s, s.begin():
                f = service.Filter(view=service.View(view))
                got = await service.statistics(s, who, f, clock.now(), clock.today())
            run.wall.append(time.perf_counter() - t0)
        assert got.figures, "an answer with figures"
        run.sql.append(sum(t for t, _ in timer.times))
        run.statements = len(timer.times)
        run.per_statement = [t for t, _ in timer.times]
    return run


def report(label: str, plans: int, runs: dict[str, Run]) -> None:
    print(f"\n{label}: {plans} plans")
    print("| view | statements | wall ms (median · worst) | in SQL ms (median) | each statement ms (last answer) |")
    print("|---|---:|---:|---:|---|")
    for view, r in runs.items():
        wall = f"{stat.median(r.wall) * 1000:.0f} · {max(r.wall) * 1000:.0f}"
        each = " ".join(f"{t * 1000:.0f}" for t in r.per_statement)
        print(f"| {view} | {r.statements} | {wall} | {stat.median(r.sql) * 1000:.0f} | {each} |")


async def main(args: argparse.Namespace) -> None:
    await recreate_database()
    tmp = Path(tempfile.mkdtemp(prefix="sip-bench-stats-"))
    db = Database(SA_URL)
    try:
        await asyncio.to_thread(migrations.upgrade, SA_URL)
        await demo.seed(db, Settings(database_url=SA_URL, dev_oidc_key_file=tmp / "dev-oidc-key.json"))
        timer = Timer()
        event.listen(db.engine.sync_engine, "before_cursor_execute", timer.before)
        event.listen(db.engine.sync_engine, "after_cursor_execute", timer.after)
        who = await principals(db)

        async def plans() -> int:
            async with db.read() as s:
                return int(await s.scalar(select(func.count()).select_from(Plan)) or 0)

        async def measure_all(label: str) -> None:
            async with db.write() as s:
                await s.execute(text("ANALYZE"))
            runs = {view: await answer(db, timer, p, view, args.repeat) for view, p in who.items()}
            report(label, await plans(), runs)

        await measure_all("The demo")

        async with db.read() as s:
            orgs = {o.hsa_id: o for o in await s.scalars(select(Organisation))}
            staff = list(await s.scalars(select(StaffMember)))
        units = {side: [orgs[h].id for h in hsa] for side, hsa in demo.HISTORY_UNITS.items()}
        staff_by_unit = {u: next(m.id for m in staff if m.organisation_id == u) for us in units.values() for u in us}
        t0, written, seed = time.perf_counter(), 0, 1000
        while written < args.plans:
            stories = demo_history.demo_stories(units, clock.now(), seed=seed)[: args.plans - written]
            first = 10_000 + (seed - 1000) * 5_000  # 480 plans' people take fewer than 5 000 numbers
            async with db.write() as s:
                await demo_history.write(s, stories, staff_by_unit, seed=seed, first_number=first)
            written, seed = written + len(stories), seed + 1
        print(f"\n{written} plans written in {time.perf_counter() - t0:.0f} s")
        await measure_all(f"With {written} more")
        print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        await db.dispose()
        if not args.keep:
            await recreate_database(drop_only=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=100_000, help="past plans to add (100 000)")
    parser.add_argument("--repeat", type=int, default=5, help="answers per view and size (5)")
    parser.add_argument("--keep", action="store_true", help=f"keep {DB_NAME} afterwards (for EXPLAIN ANALYZE)")
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    asyncio.run(main(parser.parse_args()))
