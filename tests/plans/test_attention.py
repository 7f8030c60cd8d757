"""'Needs attention' is said twice: in SQL (`plans.repository.attention_condition`, which filters lists
and feeds the inbox) and in Python (`plans.service.attention`, one plan's `attention` field). Generated
plans hold the two together: for every plan and every reason, on both backends, they agree."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models.identity import Citizen, Organisation, OrganisationKind, StaffMember
from sip_service.models.meetings import Meeting, MeetingKind, MeetingStatus
from sip_service.models.plans import Approval, Participant, ParticipantKind, Plan, PlanStatus
from sip_service.plans import service
from sip_service.plans.repository import Attention, attention_condition

TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Shape:
    status: PlanStatus
    version: int
    approved_versions: tuple[int, ...]
    follow_up_in_days: int | None  # around the 7-day window, both sides of it
    discharge_hours_ago: int | None
    meetings: tuple[tuple[MeetingStatus, int], ...]  # status, created this many hours ago


# Few, close values, drawn evenly, so that the edges (on the day, at the same instant) come up often.
shapes = st.builds(
    Shape,
    status=st.sampled_from(PlanStatus),
    version=st.sampled_from([1, 2, 3]),
    approved_versions=st.lists(st.sampled_from([1, 2, 3]), max_size=2).map(tuple),
    follow_up_in_days=st.sampled_from([None, *range(-2, 10)]),
    discharge_hours_ago=st.sampled_from([None, 0, 1, 2, 3, 4]),
    meetings=st.lists(st.tuples(st.sampled_from(MeetingStatus), st.sampled_from(range(6))), max_size=3).map(tuple),
)


def _digits(n: int) -> str:
    return f"{uuid.uuid4().int % 10**n:0{n}d}"


async def _insert(db: Database, plans: list[Shape]) -> list[uuid.UUID]:
    async with db.write() as s:
        org = Organisation(kind=OrganisationKind.REGION, name="Vårdcentralen", hsa_id=f"SE{_digits(10)}")
        s.add(org)
        await s.flush()
        staff = StaffMember(hsa_id=f"SE{_digits(10)}", name="Anna", title="Sjuksköterska", organisation_id=org.id)
        s.add(staff)
        await s.flush()
        ids = []
        for shape in plans:
            patient = Citizen(personal_number=_digits(12), name="Elsa")
            s.add(patient)
            await s.flush()
            plan = Plan(
                patient_id=patient.id,
                status=shape.status,
                follow_up_date=None if shape.follow_up_in_days is None else TODAY + timedelta(shape.follow_up_in_days),
                discharge_ready_at=None
                if shape.discharge_hours_ago is None
                else NOW - timedelta(hours=shape.discharge_hours_ago),
                created_by_org_id=org.id,
                created_by_staff_id=staff.id,
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(plan)
            await s.flush()
            side = Participant(
                plan_id=plan.id, kind=ParticipantKind.PATIENT, citizen_id=patient.id, role="Patient", created_at=NOW
            )
            s.add(side)
            await s.flush()
            s.add_all(
                Approval(plan_id=plan.id, plan_version=v, approved_by_id=side.id, approved_at=NOW)
                for v in shape.approved_versions
            )
            s.add_all(
                Meeting(
                    plan_id=plan.id,
                    kind=MeetingKind.VIDEO,
                    status=status,
                    starts_at=NOW + timedelta(days=1),
                    ends_at=NOW + timedelta(days=1, hours=1),
                    created_by_staff_id=staff.id,
                    created_at=NOW - timedelta(hours=hours_ago),
                    updated_at=NOW,
                )
                for status, hours_ago in shape.meetings
            )
            ids.append(plan.id)
        await s.flush()
        for plan_id, shape in zip(ids, plans, strict=True):  # the version as it would be after edits
            await s.execute(
                update(Plan).where(Plan.id == plan_id).values(version=shape.version),
                execution_options={"synchronize_session": False},
            )
    return ids


async def _agree(url: str, plans: list[Shape]) -> None:
    db = Database(url)
    try:
        ids = await _insert(db, plans)
        async with db.read() as s:
            loaded = await s.scalars(
                select(Plan).where(Plan.id.in_(ids)).options(selectinload(Plan.meetings), selectinload(Plan.approvals))
            )
            in_python = {p.id: set(service.attention(p, TODAY)) for p in loaded}
            for reason in Attention:
                in_sql = set(
                    await s.scalars(select(Plan.id).where(Plan.id.in_(ids), attention_condition(reason, TODAY)))
                )
                expected = {i for i in ids if reason in in_python[i]}
                assert in_sql == expected, (reason, [plans[ids.index(i)] for i in in_sql ^ expected])
    finally:
        await db.dispose()


@pytest.fixture
async def migrated(empty_database: str) -> AsyncIterator[str]:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    yield empty_database


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(shapes, min_size=1, max_size=6))
def test_sql_and_python_agree_on_attention(migrated: str, plans: list[Shape]) -> None:
    # Each example adds its own plans (fresh people, fresh ids) and looks only at them.
    asyncio.run(_agree(migrated, plans))
