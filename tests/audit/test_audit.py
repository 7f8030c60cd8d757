"""Every read and write of plan data leaves one audit event; the trail is append-only and chained."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from sip_service import usecases
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

    monkeypatch.setattr(audit, "append_many", broken)
    body = (await gql.raw(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-anna")).json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "Elsa" not in str(body)
    # Several at once (they share the writer's transaction): every answer is withheld.
    bodies = await asyncio.gather(
        *(gql.raw(op("PlanDetail"), {"id": str(plan_id)}, as_=who) for who in ["staff-anna", "staff-johan"] * 4)
    )
    for b in (r.json() for r in bodies):
        assert b["data"] is None and b["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE", b


async def test_concurrent_reads_share_a_transaction_and_the_chain_holds(gql: GraphQLClient, world: Service) -> None:
    plan_id = await plan_with_wanted_relative(world)
    roles = {"staff-anna": "Anna Lind", "staff-johan": "Johan Ek", "citizen-elsa": "Elsa Andersson"}
    before = len(await events(world, plan_id))
    whos = list(roles) * 8
    answers = await asyncio.gather(*(gql(op("PlanDetail"), {"id": str(plan_id)}, as_=who) for who in whos))
    assert all(a["plan"]["id"] == str(plan_id) for a in answers)
    new = (await events(world, plan_id))[before:]  # each answer confirmed only after its event was written
    assert sorted(e.actor_name for e in new) == sorted(roles[w] for w in whos)
    assert {(e.access, e.action) for e in new} == {(AuditAccess.READ, "plan.read")}
    async with world.db.read() as s:
        assert (await audit.verify(s)).intact


async def test_one_failing_request_in_a_shared_write_withholds_only_its_own_answer(world: Service) -> None:
    anna, elsa = await staff(world, "Anna"), CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa Andersson")
    marker = f"test.batch.{uuid.uuid4().hex[:8]}"
    read = [audit.Access(AuditAccess.READ, marker, None, None)]
    begins = []
    listener = lambda *_: begins.append(1)  # noqa: E731
    event.listen(world.db.engine.sync_engine, "begin", listener)
    try:
        # A citizen cannot open a plan as staff: their part of the shared write fails (Forbidden).
        outcomes = await asyncio.gather(
            *(usecases.record_reads(world.db, anna, read) for _ in range(5)),
            usecases.record_reads(world.db, elsa, read, opened=[uuid.uuid4()]),
            *(usecases.record_reads(world.db, anna, read) for _ in range(5)),
            return_exceptions=True,
        )
    finally:
        event.remove(world.db.engine.sync_engine, "begin", listener)
    assert [type(o).__name__ for o in outcomes] == ["NoneType"] * 5 + ["Forbidden"] + ["NoneType"] * 5
    async with world.db.read() as s:
        written = (await s.scalars(select(AuditEvent).where(AuditEvent.action == marker))).all()
        assert [e.actor_name for e in written] == ["Anna Lind"] * 10
        assert (await audit.verify(s)).intact
    assert len(begins) == 1 + 11  # the shared try, then each on its own


async def test_reads_at_the_same_time_are_written_in_one_transaction(world: Service) -> None:
    anna = await staff(world, "Anna")
    marker = f"test.group.{uuid.uuid4().hex[:8]}"
    begins = []
    listener = lambda *_: begins.append(1)  # noqa: E731
    event.listen(world.db.engine.sync_engine, "begin", listener)
    try:
        with world.statements.counting() as counted:
            await asyncio.gather(
                *(
                    usecases.record_reads(world.db, anna, [audit.Access(AuditAccess.READ, marker, None, None)])
                    for _ in range(20)
                )
            )
    finally:
        event.remove(world.db.engine.sync_engine, "begin", listener)
    assert len(begins) == 1
    assert counted.count <= 3  # (lock,) the chain's end, one INSERT
    async with world.db.read() as s:
        seqs = (
            await s.scalars(select(AuditEvent.seq).where(AuditEvent.action == marker).order_by(AuditEvent.seq))
        ).all()
        assert len(seqs) == 20 and seqs == list(range(seqs[0], seqs[0] + 20))
        assert (await audit.verify(s)).intact


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
