"""The demo seeds an empty database with plans in every status, through the real use cases."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from sip_service.audit import service as audit
from sip_service.demo import HISTORY_UNITS, seed
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.identity import Organisation
from sip_service.models.plans import Plan, PlanStatus
from sip_service.settings import Settings


async def test_demo_has_every_status_and_seeds_once(empty_database: str, tmp_path: Path) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    db = Database(empty_database)
    settings = Settings(database_url=empty_database, dev_oidc_key_file=tmp_path / "k.json")
    try:
        assert await seed(db, settings)
        assert not await seed(db, settings)  # a second run leaves the data alone
        async with db.read() as session:
            statuses = {p.status for p in await session.scalars(select(Plan))}
        assert statuses == set(PlanStatus)
    finally:
        await db.dispose()


async def test_the_demo_runs_through_the_use_case_runner(empty_database: str, tmp_path: Path) -> None:
    """Every demo plan was written the way any entry point writes one: each change audited as a
    WRITE in its own transaction, with an intact chain. (The year of history for the statistics is
    an import of past plans, in units of their own: demo_history.py.)"""
    await asyncio.to_thread(migrations.upgrade, empty_database)
    db = Database(empty_database)
    settings = Settings(database_url=empty_database, dev_oidc_key_file=tmp_path / "k.json")
    try:
        assert await seed(db, settings)
        async with db.read() as session:
            history = select(Organisation.id).where(
                Organisation.hsa_id.in_([h for hs in HISTORY_UNITS.values() for h in hs])
            )
            plans = set(await session.scalars(select(Plan.id).where(Plan.created_by_org_id.not_in(history))))
            writes = list(await session.scalars(select(AuditEvent).where(AuditEvent.access == AuditAccess.WRITE)))
            verdict = await audit.verify(session)
        assert {w.plan_id for w in writes} == plans
        assert {w.action for w in writes} == {"seedDemo"}
        assert {w.actor_kind for w in writes} == {"STAFF", "CITIZEN"}  # staff plan, the patient side decides
        assert verdict.intact and verdict.checked == len(writes)
    finally:
        await db.dispose()
