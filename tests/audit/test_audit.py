"""Every read and write of plan data leaves one audit event; the trail is append-only and chained."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from sip_service.audit import service as audit
from sip_service.auth.principal import CitizenPrincipal
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.plans import ParticipantKind, Plan
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, op
from helpers import big_plan, citizen_id, staff, within


async def events(service: Service, plan_id: uuid.UUID) -> list[AuditEvent]:
    async with service.db.read() as s:
        return list(await s.scalars(select(AuditEvent).where(AuditEvent.plan_id == plan_id).order_by(AuditEvent.seq)))


async def plan_with_wanted_relative(world: Service) -> uuid.UUID:
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    elsa = CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa Andersson")
    async with world.db.write() as s:
        version = (await s.scalars(select(Plan.version).where(Plan.id == plan_id))).one()
        per = await plans.add_participant(
            s,
            await staff(world, "Anna"),
            plan_id,
            version,
            plans.NewParticipant(ParticipantKind.RELATIVE, citizen_id=await citizen_id(world, "Per")),
        )
        await s.flush()
        plan = await plans.editable_plan(s, elsa, plan_id, version + 1)
        await plans.record_relatives_decision(s, elsa, plan_id, plan.version, [per.id])
    return plan_id


async def test_each_read_by_each_role_leaves_exactly_one_event(gql: GraphQLClient, world: Service) -> None:
    plan_id = await plan_with_wanted_relative(world)
    roles = [
        ("staff-anna", "Anna Lind"),
        ("staff-johan", "Johan Ek"),
        ("citizen-elsa", "Elsa Andersson"),
        ("citizen-per", "Per Andersson"),
    ]
    for who, actor in roles:
        before = len(await events(world, plan_id))
        await gql(op("PlanDetail"), {"id": str(plan_id)}, as_=who)
        new = (await events(world, plan_id))[before:]
        assert [(e.access, e.action, e.actor_name, e.auth_method) for e in new] == [
            (AuditAccess.READ, "plan.read", actor, "OIDC")
        ], who
    # A refused read (another organisation) leaves no plan-read event and reveals nothing.
    before = len(await events(world, plan_id))
    refused = await gql.raw(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-sara")
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert len(await events(world, plan_id)) == before


async def test_a_write_and_its_event_are_one_transaction(gql: GraphQLClient, world: Service) -> None:
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    version = (await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-anna"))["plan"]["version"]
    await gql(
        op("UpdatePlan"),
        {"planId": str(plan_id), "expectedVersion": version, "input": {"background": "Ny"}},
        as_="staff-anna",
    )
    writes = [e for e in await events(world, plan_id) if e.access is AuditAccess.WRITE]
    assert [(e.action, e.actor_name, e.patient_id) for e in writes] == [
        ("updatePlan", "Anna Lind", await citizen_id(world, "Elsa"))
    ]


async def test_the_answer_is_withheld_when_the_audit_write_fails(
    gql: GraphQLClient, world: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)

    async def broken(*_: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audit, "append", broken)
    body = (await gql.raw(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-anna")).json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "Elsa" not in str(body)


async def test_the_patient_sees_who_looked_and_an_auditor_reviews_their_own_care_giver(
    gql: GraphQLClient, world: Service
) -> None:
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-johan")
    log = await gql(op("PlanAccessLog"), {"planId": str(plan_id)}, as_="citizen-elsa")
    readers = {(e["actorName"], e["organisation"]["name"] if e["organisation"] else None) for e in log["planAccessLog"]}
    assert ("Johan Ek", "Socialtjänsten Ekby") in readers
    denied = await gql.raw(op("PlanAccessLog"), {"planId": str(plan_id)}, as_="staff-anna")
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    anna = await staff(world, "Anna")
    await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-anna")
    period = {
        "start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "end": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    region = (await gql(op("Organisations"), as_="staff-ulla"))["organisations"]
    ids = {o["name"]: o["id"] for o in region}
    review = await gql(op("AuditEvents"), {"organisationId": ids["Region Sörmark"], **period}, as_="staff-ulla")
    assert any(e["actorName"] == "Anna Lind" and e["planId"] == str(plan_id) for e in review["auditEvents"])
    assert anna.organisation_id
    other = await gql.raw(op("AuditEvents"), {"organisationId": ids["Ekby kommun"], **period}, as_="staff-ulla")
    assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    not_auditor = await gql.raw(
        op("AuditEvents"), {"organisationId": ids["Region Sörmark"], **period}, as_="staff-anna"
    )
    assert not_auditor.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_trail_cannot_be_changed_even_by_the_owner(world: Service) -> None:
    async with world.db.write() as s:
        await audit.append(s, await staff(world, "Anna"), [audit.Access(AuditAccess.READ, "test", None, None)])
    statements = ["UPDATE audit_events SET actor_name = 'x'", "DELETE FROM audit_events"]
    if world.backend == "postgresql":
        statements.append("TRUNCATE audit_events")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with world.db.write() as s:
                await s.execute(text(sql))
    async with world.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEvent))


async def test_verify_finds_an_edited_row(empty_database: str, world: Service) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    db = Database(empty_database)
    anna = await staff(world, "Anna")
    try:
        for i in range(3):
            async with db.write() as s:
                await audit.append(s, anna, [audit.Access(AuditAccess.READ, f"test.{i}", None, None)])
        async with db.read() as s:
            assert (await audit.verify(s)).intact
        async with db.write() as s:  # a tamperer with the owner's rights: switch off the guard, edit
            if db.is_sqlite:
                await s.execute(text("DROP TRIGGER audit_events_no_update"))
            else:
                await s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            await s.execute(text("UPDATE audit_events SET actor_name = 'Någon annan' WHERE seq = 2"))
        async with db.read() as s:
            verdict = await audit.verify(s)
        assert (verdict.checked, verdict.first_broken_seq) == (1, 2)
    finally:
        await db.dispose()
    cli = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "sip-service"),
        "audit",
        "verify",
        env={**os.environ, "SIP_DATABASE_URL": empty_database},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await within(cli.communicate(), "sip-service audit verify to finish", 60)
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
    assert cli.returncode == 1 and "BROKEN at event 2" in stderr.decode()
