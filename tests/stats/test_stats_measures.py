"""The statistics' SQL against a straightforward recomputation in Python, on generated histories,
on both backends: every count, every count of persons behind it, every histogram (the days behind
the medians, the goal scores behind the T-score), per home unit and per month and year; then the
shares and medians the answer would show, against the obvious formulas."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sip_service.demo_history import FollowUpStory, MeetingStory, PlanStory, write
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models.identity import Organisation, OrganisationKind, StaffMember
from sip_service.models.plans import CloseReason
from sip_service.stats import repository as repo
from sip_service.stats import rules

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
WINDOW = repo.Window(2024, 2026, NOW)
DAY0 = datetime(2025, 1, 1, tzinfo=UTC)
NUMBERS = itertools.count(uuid.uuid4().int % 10**6 * 10, 100)  # fictional personal numbers, fresh per example


def _hours(h: int) -> datetime:
    return DAY0 + timedelta(hours=h)


hours = st.integers(0, 24 * 700)  # 2025 and most of 2026, on the hour (some after NOW)
meetings = st.builds(
    MeetingStory,
    created_at=hours.map(_hours),
    starts_at=hours.map(_hours),
    cancelled=st.booleans(),
    patient_came=st.booleans(),
    relatives_came=st.integers(0, 2),
)
follow_ups = st.builds(
    FollowUpStory,
    held_on=hours.map(lambda h: _hours(h).date()),
    due_on=st.one_of(st.none(), hours.map(lambda h: _hours(h).date())),
    scores=st.lists(st.integers(-2, 2), max_size=3).map(tuple),
)


def stories(units: list[int]) -> st.SearchStrategy[PlanStory]:
    """Units by index (0, 1: the region's top and its unit; 2, 3: the municipality's)."""
    return st.builds(
        PlanStory,
        units=st.lists(st.sampled_from(units), min_size=1, max_size=3).map(tuple),
        created_at=hours.map(_hours),
        wanted_relatives=st.integers(0, 2),
        discharge_at=st.one_of(st.none(), hours.map(_hours)),
        meetings=st.lists(meetings, max_size=3).map(tuple),
        finalized_at=st.one_of(st.none(), hours.map(_hours)),
        closed_at=st.one_of(st.none(), hours.map(_hours)),
        close_reason=st.sampled_from(CloseReason),
        follow_ups=st.lists(follow_ups, max_size=2).map(tuple),
    )


async def _world(db: Database) -> tuple[list[uuid.UUID], dict[uuid.UUID, uuid.UUID]]:
    """A region with one unit and a municipality with one unit, fresh for each example."""
    async with db.write() as s:
        ids = [uuid.uuid4() for _ in range(4)]
        tag = uuid.uuid4().hex[:10]
        for i, (kind, parent) in enumerate(
            [
                (OrganisationKind.REGION, None),
                (OrganisationKind.REGION, ids[0]),
                (OrganisationKind.MUNICIPALITY, None),
                (OrganisationKind.MUNICIPALITY, ids[2]),
            ]
        ):
            s.add(Organisation(id=ids[i], kind=kind, name=f"Org {i}", hsa_id=f"{tag}-{i}", parent_id=parent))
        await s.flush()
        staff = {}
        for i, o in enumerate(ids):
            member = StaffMember(hsa_id=f"{tag}-s{i}", name=f"Staff {i}", title="", organisation_id=o)
            s.add(member)
            await s.flush()
            staff[o] = member.id
    return ids, staff


def _periods(t: datetime | date) -> list[str]:
    return [f"{t.year:04d}-{t.month:02d}", f"{t.year:04d}"]


def _in_window(t: datetime | date) -> bool:
    return WINDOW.first_year <= t.year <= WINDOW.last_year


def expected(plans: list[PlanStory], tops: dict[uuid.UUID, uuid.UUID], top: uuid.UUID) -> repo.Raw:
    """What the statistics must count, worked out plainly from the stories."""
    raw = repo.Raw()
    persons: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for n, p in enumerate(plans):
        mine = [u for u in p.units if tops[u] == top]
        if not mine:
            continue
        home = str(mine[0])

        def add(series: str, t: datetime | date, n: int = n, home: str = home) -> None:
            if _in_window(t):
                for period in _periods(t):
                    raw.add(series, home, period, 1)
                    persons[(series, home, period)].add(n)

        def bucket(series: str, t: datetime | date, b: Any, home: str = home) -> None:
            if _in_window(t):
                for period in _periods(t):
                    raw.bucket(series, home, period, b, 1)

        add("started", p.created_at)
        live = [m for m in p.meetings if not m.cancelled]
        if p.finalized_at:
            add("finalized", p.finalized_at)
            first = min((m.starts_at for m in live), default=None)
            if first is not None and first <= p.finalized_at:
                bucket("days_to_final", p.finalized_at, (p.finalized_at - first) // timedelta(days=1))
        if p.closed_at:
            add("closed", p.closed_at)
            add(f"closed.{p.close_reason.value}", p.closed_at)  # type: ignore[union-attr]
        for m in live:
            if m.starts_at >= NOW:
                continue
            add("meetings", m.starts_at)
            add("meetings.patient" if m.patient_came else "meetings.no_patient", m.starts_at)
            if p.wanted_relatives:
                add("meetings.relatives_wanted", m.starts_at)
                came = min(m.relatives_came, p.wanted_relatives) >= p.wanted_relatives
                add("meetings.relatives" if came else "meetings.no_relatives", m.starts_at)
            else:
                add("meetings.no_relatives_wanted", m.starts_at)
        if p.discharge_at:
            called = min((m.created_at for m in p.meetings if m.created_at >= p.discharge_at), default=None)
            if called is not None or p.discharge_at < NOW - timedelta(days=3):
                add("discharges", p.discharge_at)
                days = None if called is None else (called - p.discharge_at) // timedelta(days=1)
                add("discharges.within3" if days is not None and days <= 3 else "discharges.later", p.discharge_at)
                if days is not None:
                    bucket("days_to_meeting", p.discharge_at, days)
        for k, f in enumerate(p.follow_ups):
            if f.due_on is not None:
                add("follow_ups", f.held_on)
                add("follow_ups.on_time" if f.held_on <= f.due_on else "follow_ups.late", f.held_on)
            if f.scores and _in_window(f.held_on):
                for period in _periods(f.held_on):
                    raw.add("rated_follow_ups", home, period, 1)
                    raw.add_persons("ratings", home, period, 1)
                    raw.bucket("t_score", home, period, (sum(f.scores), len(f.scores)), 1)
                    for level, c in Counter(f.scores).items():
                        raw.add("ratings", home, period, c)
                        raw.add(f"ratings.{level}", home, period, c)
                        raw.add_persons(f"ratings.{level}", home, period, 1)
            del k
    for key, who in persons.items():
        if key[0].startswith(("meetings", "follow_ups")):
            raw.persons[key] = len(who)
    return raw


async def _agree(url: str, plans: list[PlanStory]) -> None:
    db = Database(url)
    try:
        orgs, staff = await _world(db)
        # Several stories may name one organisation twice: a plan has each once, in its order.
        real = [
            PlanStory(**{**p.__dict__, "units": tuple(dict.fromkeys(orgs[i] for i in p.units))})  # type: ignore[arg-type]
            for p in plans
        ]
        async with db.write() as s:
            await write(s, real, staff, seed=uuid.uuid4().int, first_number=next(NUMBERS))
        tops = {orgs[0]: orgs[0], orgs[1]: orgs[0], orgs[2]: orgs[2], orgs[3]: orgs[2]}
        for top in (orgs[0], orgs[2]):
            async with db.read() as s:
                got = await repo.measure(s, repo.Scope((top,)), WINDOW)
            want = expected(real, tops, top)
            assert got.counts == want.counts
            assert got.persons == want.persons
            assert got.histograms == want.histograms
            # The summaries the answer shows, against the obvious formulas.
            for key, days in got.histograms.items():
                values = [d for d, n in days.items() for _ in range(n)] if key[0] != "t_score" else []
                if key[0] != "t_score":
                    assert rules.median(days) == (statistics.median(values) if len(values) >= 5 else None)
        # The joint view: each plan once, whichever side(s) it belongs to.
        async with db.read() as s:
            joint = await repo.measure(s, repo.Scope((orgs[0], orgs[2]), joint="g"), WINDOW)
        started = Counter(period for p in real if _in_window(p.created_at) for period in _periods(p.created_at))
        assert {k[2]: v for k, v in joint.counts.items() if k[0] == "started"} == dict(started)
    finally:
        await db.dispose()


@pytest.fixture
async def migrated(empty_database: str) -> AsyncIterator[str]:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    yield empty_database


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plans=st.lists(stories([0, 1, 2, 3]), min_size=1, max_size=8))
def test_measures_agree_with_a_plain_recomputation(migrated: str, plans: list[PlanStory]) -> None:
    asyncio.run(_agree(migrated, plans))


def test_t_score_by_hand() -> None:
    # Kiresuk & Sherman, equal weights, rho 0.3: all as expected is 50; one goal at +1 is 60.
    assert rules.t_score([0, 0, 0]) == 50
    assert rules.t_score([1]) == pytest.approx(60)
    assert rules.t_score([2, 2]) == pytest.approx(50 + 10 * 4 / (0.7 * 2 + 0.3 * 4) ** 0.5)
    histogram = {(1, 1): 3, (0, 2): 2}
    assert rules.mean_t_score(histogram) == pytest.approx((3 * 60 + 2 * 50) / 5)
    assert rules.mean_t_score({(1, 1): 4}) is None
