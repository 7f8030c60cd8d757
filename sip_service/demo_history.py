"""Past plans written straight into the tables, for the statistics: the demo's year of history, the
statistics tests' generated histories and the 100 000-plan benchmark.

A `PlanStory` says what happened to one plan (who took part, its meetings and who came, the
discharge notice, finalization, closing, follow-ups with their ratings); `write` turns stories into
rows in a few bulk INSERTs per table. This is an import of history, as from an earlier system: it
does not go through the use cases (`usecases.run`) and leaves no audit trail, because the events
are in the past and thousands of plans through the runner would make `make run` slow. The stories'
patients and relatives are fictional, and their plans' units are ones no demo login works in, so
nobody's inbox or plan list fills up with them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.models.identity import Citizen
from sip_service.models.meetings import (
    Attendance,
    AttendanceMethod,
    Meeting,
    MeetingKind,
    MeetingPurpose,
    MeetingStatus,
)
from sip_service.models.plans import (
    CloseReason,
    FollowUp,
    Goal,
    GoalRating,
    Participant,
    ParticipantKind,
    Plan,
    PlanStatus,
    Revision,
)


@dataclass(frozen=True)
class MeetingStory:
    created_at: datetime
    starts_at: datetime
    cancelled: bool = False
    patient_came: bool = False
    relatives_came: int = 0  # how many of the relatives the patient wants came
    purpose: MeetingPurpose = MeetingPurpose.PLANNING


@dataclass(frozen=True)
class FollowUpStory:
    held_on: date
    due_on: date | None
    scores: tuple[int, ...] = ()  # one per goal rated, −2 … +2


@dataclass(frozen=True)
class PlanStory:
    units: tuple[uuid.UUID, ...]  # the organisations of its staff participants, in the order they joined
    created_at: datetime
    wanted_relatives: int = 0
    discharge_at: datetime | None = None
    meetings: tuple[MeetingStory, ...] = ()
    finalized_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    follow_ups: tuple[FollowUpStory, ...] = ()
    goals: int = 1


@dataclass
class _Rows:
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, **row: Any) -> None:
        self.tables.setdefault(table, []).append(row)


ORDER = (Citizen, Plan, Participant, Goal, Meeting, Attendance, Revision, FollowUp, GoalRating)


async def write(
    session: AsyncSession,
    stories: Iterable[PlanStory],
    staff_by_unit: Mapping[uuid.UUID, uuid.UUID],
    *,
    seed: int = 0,
    first_number: int = 0,
    batch: int = 5000,
) -> list[uuid.UUID]:
    """Insert the stories' rows; the plans' ids, in order. `first_number` makes the fictional
    personal numbers (`1930` and eight digits) unique across calls."""
    rng = random.Random(seed)  # noqa: S311  (deterministic fiction, not a secret)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    rows = _Rows()
    plan_ids: list[uuid.UUID] = []
    number = first_number
    for story in stories:
        number += 1
        plan_id, patient_id = new_id(), new_id()
        plan_ids.append(plan_id)
        creator = staff_by_unit[story.units[0]]
        rows.add(
            "citizens",
            id=patient_id,
            personal_number=f"1930{number:08d}",
            name=f"Patient {number}",
            protected_identity=False,
        )
        status = PlanStatus.CLOSED if story.closed_at else PlanStatus.ACTIVE if story.finalized_at else PlanStatus.DRAFT
        last = max([story.created_at, *(d for d in (story.finalized_at, story.closed_at) if d)])
        rows.add(
            "plans",
            id=plan_id,
            patient_id=patient_id,
            status=status,
            overall_responsible_org_id=story.units[0],
            background="",
            follow_up_date=None,
            discharge_ready_at=story.discharge_at,
            created_by_org_id=story.units[0],
            created_by_staff_id=creator,
            created_at=story.created_at,
            updated_at=last,
            finalized_at=story.finalized_at,
            closed_at=story.closed_at,
            close_reason=story.close_reason,
            relatives_decided_at=None,
            relatives_decided_by_id=None,
            version=1,
        )
        patient_part = new_id()
        rows.add(
            "participants",
            id=patient_part,
            plan_id=plan_id,
            kind=ParticipantKind.PATIENT,
            citizen_id=patient_id,
            role="Patient",
            is_coordinator=False,
            created_at=story.created_at,
        )
        for i, unit in enumerate(story.units):
            rows.add(
                "participants",
                id=new_id(),
                plan_id=plan_id,
                kind=ParticipantKind.STAFF,
                staff_member_id=staff_by_unit[unit],
                organisation_id=unit,
                role="",
                is_coordinator=i == 0,
                created_at=story.created_at + timedelta(minutes=i),
            )
        relatives = []
        for _ in range(story.wanted_relatives):
            number += 1
            rel_citizen, rel_part = new_id(), new_id()
            rows.add(
                "citizens",
                id=rel_citizen,
                personal_number=f"1930{number:08d}",
                name=f"Närstående {number}",
                protected_identity=False,
            )
            rows.add(
                "participants",
                id=rel_part,
                plan_id=plan_id,
                kind=ParticipantKind.RELATIVE,
                citizen_id=rel_citizen,
                role="Närstående",
                is_coordinator=False,
                wanted_by_patient=True,
                created_at=story.created_at,
            )
            relatives.append(rel_part)
        goal_ids = [
            new_id() for _ in range(max(story.goals, max((len(f.scores) for f in story.follow_ups), default=0)))
        ]
        for g in goal_ids:
            rows.add(
                "goals",
                id=g,
                plan_id=plan_id,
                text="Mitt mål",
                expressed_by_id=patient_part,
                created_at=story.created_at,
            )
        for m in story.meetings:
            meeting_id = new_id()
            rows.add(
                "meetings",
                id=meeting_id,
                plan_id=plan_id,
                kind=MeetingKind.IN_PERSON,
                purpose=m.purpose,
                status=MeetingStatus.CANCELLED if m.cancelled else MeetingStatus.SCHEDULED,
                starts_at=m.starts_at,
                ends_at=m.starts_at + timedelta(hours=1),
                location="",
                agenda="",
                created_by_staff_id=creator,
                created_at=m.created_at,
                updated_at=m.created_at,
                version=1,
                sequence=0,
            )
            came = ([patient_part] if m.patient_came else []) + relatives[: m.relatives_came]
            for who in came:
                rows.add(
                    "attendances",
                    id=new_id(),
                    meeting_id=meeting_id,
                    participant_id=who,
                    method=AttendanceMethod.ATTESTED,
                    attested_by_staff_id=creator,
                    joined_at=m.starts_at,
                    left_at=m.starts_at + timedelta(hours=1),
                )
        if story.finalized_at:
            rows.add(
                "revisions",
                id=new_id(),
                plan_id=plan_id,
                number=1,
                plan_version=1,
                snapshot={},
                finalized_at=story.finalized_at,
                finalized_by_staff_id=creator,
                approved_by_id=patient_part,
                approved_at=story.finalized_at,
            )
        for f in story.follow_ups:
            follow_up_id = new_id()
            recorded = datetime(f.held_on.year, f.held_on.month, f.held_on.day, 12, tzinfo=UTC)
            rows.add(
                "follow_ups",
                id=follow_up_id,
                plan_id=plan_id,
                meeting_id=None,
                held_on=f.held_on,
                due_on=f.due_on,
                next_follow_up_date=None,
                summary="",
                recorded_by_staff_id=creator,
                recorded_at=recorded,
            )
            for goal_id, score in zip(goal_ids, f.scores, strict=False):
                rows.add(
                    "goal_ratings",
                    id=new_id(),
                    follow_up_id=follow_up_id,
                    goal_id=goal_id,
                    score=score,
                    patient_words="",
                    created_at=recorded,
                )
    for model in ORDER:
        table = cast(Table, model.__table__)
        all_rows = rows.tables.get(table.name, [])
        for start in range(0, len(all_rows), batch):
            await session.execute(insert(table), _complete(table, all_rows[start : start + batch]))
    return plan_ids


def _complete(table: Any, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every column the batch names (an executemany needs the same keys)."""
    keys = {k for r in rows for k in r}
    return [{k: r.get(k) for k in keys} for r in rows]


# --- The demo's year --------------------------------------------------------------------------------

PLANS = 480  # about 40 a month: enough that most months' shares have five persons on each side


def demo_stories(units: Mapping[str, Sequence[uuid.UUID]], now: datetime, seed: int = 12) -> list[PlanStory]:
    """About 480 plans started over the last twelve months, deterministic for a seed: `units` are
    the region's and the municipality's units the history is in (keys 'region', 'municipality').

    Most plans are the region's and the municipality's together; a few are one side's only (a
    draft that never got the other on board). After a discharge notice the meeting is usually
    called in one to three days, sometimes later; the patient comes to most meetings, and wanted
    relatives to somewhat fewer. Most plans are finalized within weeks of their first meeting,
    followed up about three months later (more or less on time) with goal ratings that lean
    towards the expected level and slightly better over the year, as does the patient's
    part in the meetings; some are closed, mostly with
    their goals met.
    """
    rng = random.Random(seed)  # noqa: S311  (deterministic fiction, not a secret)
    stories: list[PlanStory] = []
    start = now - timedelta(days=365)
    for i in range(PLANS):
        created = start + timedelta(days=rng.uniform(0, 360), hours=rng.uniform(7, 16))
        created = created.replace(minute=0, second=0, microsecond=0)
        region = rng.choice(units["region"])
        municipality = rng.choice(units["municipality"])
        shape = rng.random()
        plan_units: tuple[uuid.UUID, ...] = (
            (region, municipality) if shape < 0.9 else (region,) if shape < 0.95 else (municipality,)
        )
        if len(plan_units) == 2 and rng.random() < 0.35:  # the municipality made it
            plan_units = tuple(reversed(plan_units))
        discharge = created - timedelta(hours=rng.uniform(1, 20)) if rng.random() < 0.35 else None
        delay = rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4, 6]) if discharge else rng.uniform(3, 20)
        called = (discharge or created) + timedelta(days=delay, hours=rng.uniform(0, 6))
        called = max(called, created)
        meets: list[MeetingStory] = []
        wanted = rng.choice([0, 0, 1, 1, 1, 2])
        first = called + timedelta(days=rng.uniform(3, 12))
        for k in range(rng.choice([1, 1, 1, 2])):
            at = (first + timedelta(days=14 * k)).replace(minute=0, second=0, microsecond=0)
            meets.append(
                MeetingStory(
                    created_at=called,
                    starts_at=at,
                    patient_came=rng.random() < 0.72 + 0.2 * (i / PLANS),  # better over the year
                    relatives_came=wanted if rng.random() < 0.7 else rng.randint(0, wanted),
                )
            )
        finalized = None
        if len(plan_units) == 2 and meets[0].patient_came and rng.random() < 0.85:
            finalized = meets[-1].starts_at + timedelta(days=rng.uniform(0, 21))
        follow_ups: list[FollowUpStory] = []
        closed, reason = None, None
        if finalized is not None:
            due = (finalized + timedelta(days=90)).date()
            goals = rng.choice([1, 2, 2, 3])
            n = 0
            while True:
                held = due + timedelta(days=rng.choice([-7, -3, 0, 0, 2, 5, 10, 21]))
                if datetime(held.year, held.month, held.day, 12, tzinfo=UTC) > now:
                    break
                lean = 0.3 * (i / PLANS) + 0.2 * n
                scores = tuple(max(-2, min(2, round(rng.gauss(lean, 0.9)))) for _ in range(goals))
                follow_ups.append(FollowUpStory(held, due, scores))
                n += 1
                due = held + timedelta(days=90)
                if rng.random() < 0.3:
                    closed = datetime(held.year, held.month, held.day, 14, tzinfo=UTC)
                    reason = rng.choice(
                        [CloseReason.GOALS_MET] * 5 + [CloseReason.NO_LONGER_NEEDED] * 2 + [CloseReason.MOVED]
                    )
                    break
            if closed is None and rng.random() < 0.04:
                closed = finalized + timedelta(days=rng.uniform(5, 60))
                reason = CloseReason.DECEASED
                if closed > now:
                    closed, reason = None, None
        meets = [m for m in meets if m.created_at <= now]
        stories.append(
            PlanStory(
                units=plan_units,
                created_at=created,
                wanted_relatives=wanted,
                discharge_at=discharge,
                meetings=tuple(meets),
                finalized_at=finalized if finalized and finalized <= now else None,
                closed_at=closed,
                close_reason=reason,
                follow_ups=tuple(follow_ups),
                goals=max([1, *(len(f.scores) for f in follow_ups)]),
            )
        )
    return stories
