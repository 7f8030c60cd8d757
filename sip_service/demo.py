"""A realistic demo: a region with two health centres, a municipality with home care and social
services, staff, patients with relatives, and plans in every status — made through the same use
cases the API runs, by the same runner (`usecases.run`), so the demo can never hold a plan the rules
would not allow, and its plans have the audit trail real ones would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service import demo_history, usecases
from sip_service.auth.principal import CitizenPrincipal, Principal, StaffPrincipal
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.meetings import service as meetings
from sip_service.models.identity import Citizen, Language, Organisation, OrganisationKind, StaffMember
from sip_service.models.meetings import InvitationChannel, MeetingKind
from sip_service.models.plans import CloseReason, Participant, ParticipantKind, Plan, RepresentativeKind
from sip_service.models.stats import SteeringGroup, SteeringGroupMember
from sip_service.plans import participation
from sip_service.plans import service as plans
from sip_service.settings import Settings

T = TypeVar("T")

# Switchboard numbers from the range PTS keeps for fiction (08-465 004 00 to 08-465 004 99).
ORGANISATIONS: list[dict[str, Any]] = [
    {"hsa_id": "SE2321000016-REG", "name": "Region Sörmark", "kind": OrganisationKind.REGION, "phone": "08-465 004 00"},
    {
        "hsa_id": "SE2321000016-VCN",
        "name": "Vårdcentralen Norrbacka",
        "kind": OrganisationKind.REGION,
        "parent": "SE2321000016-REG",
        "phone": "08-465 004 10",
    },
    {
        "hsa_id": "SE2321000016-VCA",
        "name": "Vårdcentralen Åstorp",
        "kind": OrganisationKind.REGION,
        "parent": "SE2321000016-REG",
        "phone": "08-465 004 20",
    },
    {
        "hsa_id": "SE2321000016-VCL",
        "name": "Vårdcentralen Lindö",
        "kind": OrganisationKind.REGION,
        "parent": "SE2321000016-REG",
        "phone": "08-465 004 60",
    },
    {
        "hsa_id": "SE2120000142-KOM",
        "name": "Ekby kommun",
        "kind": OrganisationKind.MUNICIPALITY,
        "phone": "08-465 004 30",
    },
    {
        "hsa_id": "SE2120000142-HEM",
        "name": "Hemtjänsten Ekby",
        "kind": OrganisationKind.MUNICIPALITY,
        "parent": "SE2120000142-KOM",
        "phone": "08-465 004 40",
    },
    {
        "hsa_id": "SE2120000142-SOC",
        "name": "Socialtjänsten Ekby",
        "kind": OrganisationKind.MUNICIPALITY,
        "parent": "SE2120000142-KOM",
        "phone": "08-465 004 50",
    },
    {
        "hsa_id": "SE2120000142-ALD",
        "name": "Äldreomsorgen Ekby",
        "kind": OrganisationKind.MUNICIPALITY,
        "parent": "SE2120000142-KOM",
        "phone": "08-465 004 70",
    },
]
# The region and the municipality look at their joint figures together (stats/, the JOINT view).
STEERING_GROUP = ("Ledningsgruppen för samverkan Sörmark–Ekby", ("SE2321000016-REG", "SE2120000142-KOM"))
# The year of history (demo_history.py) is in these units, where no one of the demo's daily work
# signs in, so that the demo's own plans stay few in every list.
HISTORY_UNITS = {"region": ("SE2321000016-VCL",), "municipality": ("SE2120000142-ALD",)}


async def _people(session: AsyncSession, settings: Settings) -> None:
    by_hsa: dict[str, Organisation] = {}
    for o in ORGANISATIONS:
        org = Organisation(
            id=uuid.uuid4(),
            hsa_id=o["hsa_id"],
            name=o["name"],
            kind=o["kind"],
            parent_id=by_hsa[o["parent"]].id if "parent" in o else None,
            phone=o["phone"],
        )
        by_hsa[org.hsa_id] = org
        session.add(org)
    group = SteeringGroup(id=uuid.uuid4(), name=STEERING_GROUP[0])
    session.add(group)
    session.add_all(SteeringGroupMember(group_id=group.id, organisation_id=by_hsa[h].id) for h in STEERING_GROUP[1])
    identities = json.loads(settings.demo_identities_file.read_text(encoding="utf-8"))
    for s in identities["staff"]:
        session.add(
            StaffMember(
                hsa_id=s["hsa_id"],
                name=s["name"],
                title=s["title"],
                phone=s.get("phone"),
                email=s.get("email"),
                organisation_id=by_hsa[s["organisation_hsa_id"]].id,
            )
        )
    for c in identities["citizens"]:
        session.add(
            Citizen(
                personal_number=c["personal_number"],
                name=c["name"],
                phone=c.get("phone"),
                email=c.get("email"),
                protected_identity=c.get("protected_identity", False),
                language=Language(c.get("language", "sv")),
            )
        )


class _Cast:
    """The demo's people as principals, looked up by name."""

    def __init__(self, staff: list[StaffMember], citizens: list[Citizen]) -> None:
        self.staff = {s.name.split()[0]: StaffPrincipal(s.id, s.organisation_id, s.hsa_id, s.name) for s in staff}
        self.citizens = {c.name.split()[0]: c for c in citizens}

    def citizen(self, first_name: str) -> CitizenPrincipal:
        c = self.citizens[first_name]
        return CitizenPrincipal(c.id, c.name)


async def _seeded(db: Database, principal: Principal, change: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One step of the demo as the use-case runner runs any change: one transaction, audited (as
    seedDemo), so the demo plans have the history real ones would. Nobody listens yet: no event."""
    return await usecases.run(db, principal, "seedDemo", change, broker=None)


async def _ready_plan(
    db: Database,
    cast: _Cast,
    patient: str,
    *,
    representative: str | None = None,
    relatives: tuple[str, ...] = (),
    wanted: tuple[str, ...] = (),
    goal: str,
    background: str,
) -> uuid.UUID:
    """Walk one plan from empty to finalized, the way nurse, planner and patient would."""
    anna, johan = cast.staff["Anna"], cast.staff["Johan"]
    patient_side = cast.citizen(representative or patient)
    now = clock.now()

    async def drafted(s: AsyncSession) -> tuple[Plan, Participant]:
        plan = await plans.create_plan(
            s,
            anna,
            patient_id=cast.citizens[patient].id,
            background=background,
            follow_up_date=clock.today() + timedelta(days=90),
        )
        await s.flush()
        pid = plan.id
        await plans.add_participant(
            s,
            anna,
            pid,
            plan.version,
            plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=johan.staff_id, role="SIP-samordnare kommunen"),
        )
        await s.flush()
        if representative:
            await plans.add_participant(
                s,
                anna,
                pid,
                plan.version,
                plans.NewParticipant(
                    ParticipantKind.REPRESENTATIVE,
                    citizen_id=cast.citizens[representative].id,
                    representative_kind=RepresentativeKind.GOD_MAN,
                    role="God man",
                ),
            )
            await s.flush()
        for r in relatives:
            await plans.add_participant(
                s,
                anna,
                pid,
                plan.version,
                plans.NewParticipant(ParticipantKind.RELATIVE, citizen_id=cast.citizens[r].id, role="Närstående"),
            )
            await s.flush()
        await plans.add_participant(
            s,
            anna,
            pid,
            plan.version,
            plans.NewParticipant(
                ParticipantKind.EXTERNAL, external_name="Försäkringskassan, handläggare", role="Extern part"
            ),
        )
        await s.flush()
        side_kind = ParticipantKind.REPRESENTATIVE if representative else ParticipantKind.PATIENT
        side = next(p for p in plan.participants if p.kind is side_kind)
        await plans.record_consent(
            s,
            anna,
            pid,
            plan.version,
            given_by_id=side.id,
            organisation_ids=[anna.organisation_id, johan.organisation_id],
        )
        await s.flush()
        await plans.set_overall_responsibility(s, anna, pid, plan.version, johan.organisation_id)
        await s.flush()
        await plans.add_action(
            s,
            anna,
            pid,
            plan.version,
            plans.ActionDetails(
                description="Läkemedelsgenomgång och dosett varje vecka",
                responsible_org_id=anna.organisation_id,
                responsible_person="Anna Lind",
                start_date=clock.today(),
            ),
        )
        await s.flush()
        return plan, side

    plan, side = await _seeded(db, anna, drafted)
    pid = plan.id
    version = plan.version

    async def johan_acts(s: AsyncSession) -> Plan:
        plan = await plans.editable_plan(s, johan, pid, version)
        await plans.add_action(
            s,
            johan,
            pid,
            plan.version,
            plans.ActionDetails(
                description="Hemtjänst morgon och kväll, hjälp med dusch två gånger i veckan",
                responsible_org_id=johan.organisation_id,
                start_date=clock.today(),
            ),
        )
        await s.flush()
        return plan

    plan = await _seeded(db, johan, johan_acts)
    # the patient side chooses the relatives before anyone is invited
    version = plan.version

    async def patient_decides(s: AsyncSession) -> Plan:
        plan = await plans.editable_plan(s, patient_side, pid, version)
        await plans.add_goal(s, patient_side, pid, plan.version, goal_text=goal)
        await s.flush()
        wanted_ids = [p.id for p in plan.participants if p.citizen_id in {cast.citizens[w].id for w in wanted}]
        await plans.record_relatives_decision(s, patient_side, pid, plan.version, wanted_ids)
        return plan

    plan = await _seeded(db, patient_side, patient_decides)
    version = plan.version

    async def met(s: AsyncSession) -> Plan:
        plan = await plans.editable_plan(s, anna, pid, version)
        meeting = await meetings.schedule_meeting(
            s,
            anna,
            pid,
            kind=MeetingKind.IN_PERSON,
            starts_at=now - timedelta(hours=2),
            ends_at=now - timedelta(hours=1),
            location="Vårdcentralen Norrbacka, rum 12",
        )
        await s.flush()
        invitees = [
            p.id
            for p in plan.participants
            if p.kind is not ParticipantKind.STAFF and participation.takes_part(p.kind, p.wanted_by_patient)
        ]
        await meetings.invite(s, anna, meeting.id, meeting.version, invitees, InvitationChannel.LETTER)
        await s.flush()
        await meetings.attest_attendance(s, anna, meeting.id, meeting.version, side.id)
        return plan

    plan = await _seeded(db, anna, met)
    version = plan.version

    async def approved(s: AsyncSession) -> Plan:
        plan = await plans.editable_plan(s, patient_side, pid, version)
        await plans.approve_plan(s, patient_side, pid, plan.version)
        return plan

    plan = await _seeded(db, patient_side, approved)
    version = plan.version

    async def finalized(s: AsyncSession) -> Plan:
        plan = await plans.editable_plan(s, anna, pid, version)
        await plans.finalize_plan(s, anna, pid, plan.version)
        return plan

    await _seeded(db, anna, finalized)
    return pid


async def seed(db: Database, settings: Settings) -> bool:
    """Add the demo to an empty database. Returns False (and does nothing) if it has data."""
    async with db.write() as s:
        if await s.scalar(select(func.count()).select_from(Organisation)):
            return False
        await _people(s, settings)
    async with db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))

    await _ready_plan(
        db,
        cast,
        "Elsa",
        relatives=("Per", "Lena"),
        wanted=("Per",),
        goal="Jag vill kunna bo kvar hemma och gå till affären själv.",
        background="Elsa, 86, har hjärtsvikt och har fallit två gånger i år.",
    )
    gustav = await _ready_plan(
        db,
        cast,
        "Gustav",
        representative="Maria",
        goal="Gustav vill komma ut i trädgården varje dag.",
        background="Gustav, 89, har demenssjukdom. God man: Maria Svensson.",
    )

    async def revised(s: AsyncSession) -> Plan:  # after a change in Gustav's health
        current = await s.get(Plan, gustav)
        assert current is not None
        return await plans.revise_plan(s, cast.staff["Anna"], gustav, current.version)

    await _seeded(db, cast.staff["Anna"], revised)
    olle = await _ready_plan(
        db,
        cast,
        "Olle",
        goal="Jag vill klara mig själv igen efter operationen.",
        background="Olle, 81, opererad för höftfraktur; behövde stöd efter hemgång.",
    )

    async def closed(s: AsyncSession) -> Plan:
        current = await s.get(Plan, olle)
        assert current is not None
        return await plans.close_plan(s, cast.staff["Anna"], olle, current.version, CloseReason.GOALS_MET)

    await _seeded(db, cast.staff["Anna"], closed)

    async def discharged(s: AsyncSession) -> Plan:  # waiting for its SIP meeting: needs attention today
        return await plans.create_plan(
            s,
            cast.staff["Karin"],
            patient_id=cast.citizens["Birgitta"].id,
            background="Birgitta, 79, är utskrivningsklar från medicinavdelningen efter stroke.",
            discharge_ready_at=clock.now() - timedelta(days=2),
        )

    await _seeded(db, cast.staff["Karin"], discharged)
    await history(db)
    return True


async def history(db: Database) -> int:
    """A year of past plans for the statistics (demo_history.py), the same for every seed."""
    async with db.write() as s:
        orgs = {o.hsa_id: o for o in await s.scalars(select(Organisation))}
        staff = list(await s.scalars(select(StaffMember)))
        units = {side: [orgs[h].id for h in hsa_ids] for side, hsa_ids in HISTORY_UNITS.items()}
        staff_by_unit = {u: next(m.id for m in staff if m.organisation_id == u) for us in units.values() for u in us}
        stories = demo_history.demo_stories(units, clock.now())
        await demo_history.write(s, stories, staff_by_unit, seed=12)
    return len(stories)
