"""All statistics SQL: aggregates only, grouped in the database by node and period.

Which organisation a plan counts for: **every care giver that takes part** (through a staff
participant of it or of one of its units, now or earlier), and within each care giver at exactly
one unit, its *home unit*: the organisation of the care giver's first staff participant in the plan
(normally the unit that made it, or the first one invited). So a care giver's figure is the sum of
its units' and "directly"'s, and a plan of the region and the municipality counts once for each,
and once for their steering group.

Each measure is one statement, whatever the number of plans: a `UNION ALL` of the same `GROUP BY`
by month (`YYYY-MM`, UTC) and by calendar year (`YYYY`), over a scope of (plan, node) pairs. A
care giver's view is 9 statements (the organisation tree and 8 measures, `MEASURES`); a steering
group's 1 + 1 + 8 × 2 = 18 (its members' units, then the group as one); on PostgreSQL one more, the
`SET LOCAL` of `prepare`. Medians and the T-score
are computed from histograms the database groups (days → count, (Σ scores, goals) → count).
The SQL is the same on PostgreSQL and SQLite but for three small functions (`month_of`,
`days_between`, `year_of`), compiled for each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    case,
    distinct,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from sip_service.models.identity import Organisation
from sip_service.models.meetings import Attendance, Meeting, MeetingStatus
from sip_service.models.plans import FollowUp, GoalRating, Participant, ParticipantKind, Plan, Revision
from sip_service.models.stats import SteeringGroup, SteeringGroupMember

# --- Three functions compiled for each backend ---------------------------------------------------


class month_of(FunctionElement[str]):
    """'YYYY-MM' of a UTC timestamp or a date."""

    type = String()
    inherit_cache = True


@compiles(month_of)
def _month_sqlite(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


def _pg_utc(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    """A date as it is; a timestamptz as its UTC wall time."""
    (arg,) = element.clauses.clauses
    sql = compiler.process(arg, **kw)
    return sql if isinstance(arg.type, Date) else f"(({sql}) AT TIME ZONE 'UTC')"


@compiles(month_of, "postgresql")
def _month_pg(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_pg_utc(element, compiler, **kw)}, 'YYYY-MM')"


class year_of(FunctionElement[str]):
    type = String()
    inherit_cache = True


@compiles(year_of)
def _year_sqlite(element: year_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y', {compiler.process(element.clauses, **kw)})"


@compiles(year_of, "postgresql")
def _year_pg(element: year_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_pg_utc(element, compiler, **kw)}, 'YYYY')"


class days_between(FunctionElement[int]):
    """Whole days from the first timestamp to the second (rounded down)."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    # Whole seconds, then whole days: julianday's doubles would put exactly 3 days at 2.99999….
    return f"((CAST(strftime('%s', {b}) AS INTEGER) - CAST(strftime('%s', {a}) AS INTEGER)) / 86400)"


@compiles(days_between, "postgresql")
def _days_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(extract(epoch FROM ({b}) - ({a})) / 86400) AS INTEGER)"


# --- Organisations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    kind: str


async def organisations(session: AsyncSession) -> list[Org]:
    rows = await session.execute(select(Organisation.id, Organisation.name, Organisation.parent_id, Organisation.kind))
    return [Org(r.id, r.name, r.parent_id, r.kind.value) for r in rows]


@dataclass(frozen=True)
class Steering:
    id: uuid.UUID
    name: str
    members: tuple[uuid.UUID, ...]


async def steering_groups_of(session: AsyncSession, top_id: uuid.UUID) -> list[Steering]:
    """The steering groups a care giver sits in, each with all its members (one statement)."""
    mine = select(SteeringGroupMember.group_id).where(SteeringGroupMember.organisation_id == top_id)
    rows = await session.execute(
        select(SteeringGroup.id, SteeringGroup.name, SteeringGroupMember.organisation_id)
        .join(SteeringGroupMember, SteeringGroupMember.group_id == SteeringGroup.id)
        .where(SteeringGroup.id.in_(mine))
        .order_by(SteeringGroup.name, SteeringGroupMember.organisation_id)
    )
    groups: dict[uuid.UUID, tuple[str, list[uuid.UUID]]] = {}
    for gid, name, member in rows:
        groups.setdefault(gid, (name, []))[1].append(member)
    return [Steering(g, name, tuple(ms)) for g, (name, ms) in groups.items()]


# --- The scope: which plans count for which node ------------------------------------------------


def _homes() -> Select[Any]:
    """(plan_id, unit, top_id): each plan's home unit in each care giver taking part."""
    walk = select(
        Organisation.id.label("org_id"), Organisation.id.label("cur"), Organisation.parent_id.label("up")
    ).cte("org_walk", recursive=True)
    up = aliased(Organisation)
    walk = walk.union_all(select(walk.c.org_id, up.id, up.parent_id).join(up, up.id == walk.c.up))
    tops = select(walk.c.org_id, walk.c.cur.label("top_id")).where(walk.c.up.is_(None)).subquery("tops")
    rank = func.row_number().over(
        partition_by=(Participant.plan_id, tops.c.top_id), order_by=(Participant.created_at, Participant.id)
    )
    ranked = (
        select(Participant.plan_id, Participant.organisation_id.label("unit"), tops.c.top_id, rank.label("rn"))
        .join(tops, tops.c.org_id == Participant.organisation_id)
        .where(Participant.kind == ParticipantKind.STAFF)
        .subquery("ranked")
    )
    return select(ranked.c.plan_id, ranked.c.unit, ranked.c.top_id).where(ranked.c.rn == 1)


@dataclass(frozen=True)
class Scope:
    """Units of these care givers (node = the home unit's id), or one steering group as a whole."""

    tops: tuple[uuid.UUID, ...]
    joint: str | None = None  # the group's node name: each plan once, whatever its units

    def select(self) -> Any:
        homes = _homes().subquery("homes")
        if self.joint is None:
            return (
                select(homes.c.plan_id, homes.c.unit.label("node"))
                .where(homes.c.top_id.in_(self.tops))
                .cte("scope")
                .prefix_with("MATERIALIZED")
            )
        return (
            select(homes.c.plan_id, literal(self.joint, String()).label("node"))
            .where(homes.c.top_id.in_(self.tops))
            .distinct()
            .cte("scope")
            .prefix_with("MATERIALIZED")
        )


# --- The measures --------------------------------------------------------------------------------


@dataclass
class Raw:
    """What the database counted, per (series, node, period), and the histograms."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    persons: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (series, node, period) → {bucket: n}
    histograms: dict[tuple[str, str, str], dict[Any, int]] = field(default_factory=dict)

    def add(self, series: str, node: str, period: str, n: int | None) -> None:
        if n:
            key = (series, node, period)
            self.counts[key] = self.counts.get(key, 0) + int(n)

    def add_persons(self, series: str, node: str, period: str, n: int | None) -> None:
        if n:
            key = (series, node, period)
            self.persons[key] = self.persons.get(key, 0) + int(n)

    def bucket(self, series: str, node: str, period: str, bucket: Any, n: int) -> None:
        h = self.histograms.setdefault((series, node, period), {})
        h[bucket] = h.get(bucket, 0) + int(n)


Period = Callable[[Any], ColumnElement[str]]


def _once(stmt: Any, name: str) -> Any:
    """An aggregate computed once for the statement, whatever plan the database picks
    (`AS MATERIALIZED`: PostgreSQL ≥ 12, SQLite ≥ 3.35). Without it, PostgreSQL on a table it has
    not analysed yet may recompute a grouped subquery for each row it is joined to."""
    return stmt.cte(name).prefix_with("MATERIALIZED")


def _both(make: Callable[[Period], Select[Any]]) -> Any:
    """The same aggregate by month and by year, in one statement."""
    return union_all(make(month_of), make(year_of))


def _node(v: Any) -> str:
    return str(v)


@dataclass(frozen=True)
class Window:
    """The lattice's years: events from the first year's 1 January to the end of the last."""

    first_year: int
    last_year: int
    now: datetime

    @property
    def start(self) -> datetime:
        return datetime(self.first_year, 1, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime(self.last_year + 1, 1, 1, tzinfo=UTC)

    @property
    def start_day(self) -> date:
        return self.start.date()

    @property
    def end_day(self) -> date:
        return self.end.date()


async def _started(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    def make(period: Period) -> Select[Any]:
        p = period(Plan.created_at)
        return (
            select(scope.c.node, p.label("period"), func.count())
            .join(Plan, Plan.id == scope.c.plan_id)
            .where(Plan.created_at >= w.start, Plan.created_at < w.end)
            .group_by(scope.c.node, p)
        )

    for node, period, n in await session.execute(_both(make)):
        raw.add("started", _node(node), period, n)


async def _finalized(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    """First finalization of each plan, and the days from its first SIP meeting to it."""
    first = _once(
        select(Revision.plan_id, func.min(Revision.finalized_at).label("at")).group_by(Revision.plan_id), "first"
    )
    met = _once(
        select(Meeting.plan_id, func.min(Meeting.starts_at).label("at"))
        .where(Meeting.status != MeetingStatus.CANCELLED)
        .group_by(Meeting.plan_id),
        "met",
    )
    days = case((met.c.at <= first.c.at, days_between(met.c.at, first.c.at)), else_=None)

    def make(period: Period) -> Select[Any]:
        p = period(first.c.at)
        return (
            select(scope.c.node, p.label("period"), days.label("days"), func.count())
            .join(first, first.c.plan_id == scope.c.plan_id)
            .outerjoin(met, met.c.plan_id == scope.c.plan_id)
            .where(first.c.at >= w.start, first.c.at < w.end)
            .group_by(scope.c.node, p, days)
        )

    for node, period, d, n in await session.execute(_both(make)):
        raw.add("finalized", _node(node), period, n)
        if d is not None:
            raw.bucket("days_to_final", _node(node), period, int(d), n)


async def _closed(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    def make(period: Period) -> Select[Any]:
        p = period(Plan.closed_at)
        return (
            select(scope.c.node, p.label("period"), Plan.close_reason, func.count())
            .join(Plan, Plan.id == scope.c.plan_id)
            .where(Plan.closed_at >= w.start, Plan.closed_at < w.end)
            .group_by(scope.c.node, p, Plan.close_reason)
        )

    for node, period, reason, n in await session.execute(_both(make)):
        raw.add("closed", _node(node), period, n)
        if reason is not None:
            raw.add(f"closed.{reason.value}", _node(node), period, n)


def _patient_side() -> Any:
    return Participant.kind.in_((ParticipantKind.PATIENT, ParticipantKind.REPRESENTATIVE))


def _wanted_relative() -> Any:
    return and_(
        Participant.kind == ParticipantKind.RELATIVE,
        Participant.wanted_by_patient.is_(True),
        Participant.removed_at.is_(None),
    )


async def _meetings(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    """SIP meetings held (not cancelled, begun): did the patient (or representative) take part
    (attendance, MEDIA or ATTESTED), and, where the patient wants relatives, did all of them?"""
    # Per meeting and per plan, grouped once and joined (no subquery per meeting).
    came_q = (
        select(
            Attendance.meeting_id,
            func.max(case((_patient_side(), 1), else_=0)).label("patient"),
            func.count(distinct(case((_wanted_relative(), Attendance.participant_id), else_=None))).label("came"),
        )
        .join(Participant, Participant.id == Attendance.participant_id)
        .group_by(Attendance.meeting_id)
    )
    came = _once(came_q, "came")
    wanted = _once(
        select(Participant.plan_id, func.count().label("wanted"))
        .where(_wanted_relative())
        .group_by(Participant.plan_id),
        "wanted",
    )
    one = (
        select(
            Meeting.plan_id,
            Meeting.starts_at,
            func.coalesce(came.c.patient, 0).label("patient"),
            func.coalesce(wanted.c.wanted, 0).label("wanted"),
            func.coalesce(came.c.came, 0).label("came"),
        )
        .outerjoin(came, came.c.meeting_id == Meeting.id)
        .outerjoin(wanted, wanted.c.plan_id == Meeting.plan_id)
        .where(
            Meeting.status != MeetingStatus.CANCELLED,
            Meeting.starts_at >= w.start,
            Meeting.starts_at < min(w.end, w.now),
        )
        .subquery("held")
    )
    rel = one.c.wanted > 0
    all_came = and_(rel, one.c.came >= one.c.wanted)

    def make(period: Period) -> Select[Any]:
        p = period(one.c.starts_at)

        def n(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        def persons(cond: Any) -> Any:
            return func.count(distinct(case((cond, one.c.plan_id), else_=None)))

        yes, no = one.c.patient == 1, one.c.patient == 0
        return (
            select(
                scope.c.node,
                p.label("period"),
                func.count(),
                func.count(distinct(one.c.plan_id)),
                n(yes),
                persons(yes),
                n(no),
                persons(no),
                n(rel),
                persons(rel),
                n(all_came),
                persons(all_came),
                n(and_(rel, ~all_came)),
                persons(and_(rel, ~all_came)),
                n(~rel),
                persons(~rel),
            )
            .join(one, one.c.plan_id == scope.c.plan_id)
            .group_by(scope.c.node, p)
        )

    names = (
        "meetings",
        "meetings.patient",
        "meetings.no_patient",
        "meetings.relatives_wanted",
        "meetings.relatives",
        "meetings.no_relatives",
        "meetings.no_relatives_wanted",
    )
    for row in await session.execute(_both(make)):
        node, period, values = _node(row[0]), row[1], row[2:]
        for i, name in enumerate(names):
            raw.add(name, node, period, values[2 * i])
            raw.add_persons(name, node, period, values[2 * i + 1])


async def _discharges(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    """Discharge-ready notices whose outcome is known (a meeting called since, or three days gone):
    the whole days until the first SIP meeting was called (the law's three days are for calling
    it, DESIGN.md), by the notice's month."""
    notices = _once(
        select(
            Plan.id.label("plan_id"),
            Plan.discharge_ready_at.label("at"),
            func.min(Meeting.created_at).label("called"),
        )
        .outerjoin(Meeting, and_(Meeting.plan_id == Plan.id, Meeting.created_at >= Plan.discharge_ready_at))
        .where(Plan.discharge_ready_at >= w.start, Plan.discharge_ready_at < w.end)
        .group_by(Plan.id, Plan.discharge_ready_at),
        "notices",
    )
    days = days_between(notices.c.at, notices.c.called)
    settled = (notices.c.called.is_not(None)) | (notices.c.at < w.now - timedelta(days=3))

    def make(period: Period) -> Select[Any]:
        p = period(notices.c.at)
        return (
            select(scope.c.node, p.label("period"), days.label("days"), func.count())
            .join(notices, notices.c.plan_id == scope.c.plan_id)
            .where(settled)
            .group_by(scope.c.node, p, days)
        )

    for node, period, d, n in await session.execute(_both(make)):
        raw.add("discharges", _node(node), period, n)
        within = d is not None and d <= 3
        raw.add("discharges.within3" if within else "discharges.later", _node(node), period, n)
        if d is not None:
            raw.bucket("days_to_meeting", _node(node), period, int(d), n)


async def _follow_ups(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    """Follow-ups held that were due on a date: on time when held on or before it."""
    on_time = FollowUp.held_on <= FollowUp.due_on

    def make(period: Period) -> Select[Any]:
        p = period(FollowUp.held_on)

        def n(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        def persons(cond: Any) -> Any:
            return func.count(distinct(case((cond, FollowUp.plan_id), else_=None)))

        return (
            select(
                scope.c.node,
                p.label("period"),
                func.count(),
                func.count(distinct(FollowUp.plan_id)),
                n(on_time),
                persons(on_time),
                n(~on_time),
                persons(~on_time),
            )
            .join(FollowUp, FollowUp.plan_id == scope.c.plan_id)
            .where(FollowUp.due_on.is_not(None), FollowUp.held_on >= w.start_day, FollowUp.held_on < w.end_day)
            .group_by(scope.c.node, p)
        )

    for node, period, *values in await session.execute(_both(make)):
        for i, name in enumerate(("follow_ups", "follow_ups.on_time", "follow_ups.late")):
            raw.add(name, _node(node), period, values[2 * i])
            raw.add_persons(name, _node(node), period, values[2 * i + 1])


async def _ratings(session: AsyncSession, scope: Any, w: Window, raw: Raw) -> None:
    """Goal attainment at follow-ups: how many ratings at each level (and at how many
    follow-ups), and per follow-up (Σ scores, goals rated) for the T-score."""

    def levels(period: Period) -> Select[Any]:
        p = period(FollowUp.held_on)
        return (
            select(
                scope.c.node,
                p.label("period"),
                GoalRating.score,
                func.count(),
                func.count(distinct(FollowUp.id)),
            )
            .join(FollowUp, FollowUp.plan_id == scope.c.plan_id)
            .join(GoalRating, GoalRating.follow_up_id == FollowUp.id)
            .where(FollowUp.held_on >= w.start_day, FollowUp.held_on < w.end_day)
            .group_by(scope.c.node, p, GoalRating.score)
        )

    for node, period, score, n, follow_ups in await session.execute(_both(levels)):
        raw.add("ratings", _node(node), period, n)
        raw.add(f"ratings.{int(score)}", _node(node), period, n)
        raw.add_persons(f"ratings.{int(score)}", _node(node), period, follow_ups)

    per = _once(
        select(
            FollowUp.id,
            FollowUp.plan_id,
            FollowUp.held_on,
            func.sum(GoalRating.score).label("total"),
            func.count(GoalRating.id).label("goals"),
        )
        .join(GoalRating, GoalRating.follow_up_id == FollowUp.id)
        .where(FollowUp.held_on >= w.start_day, FollowUp.held_on < w.end_day)
        .group_by(FollowUp.id, FollowUp.plan_id, FollowUp.held_on),
        "rated",
    )

    def t(period: Period) -> Select[Any]:
        p = period(per.c.held_on)
        return (
            select(scope.c.node, p.label("period"), per.c.total, per.c.goals, func.count())
            .join(per, per.c.plan_id == scope.c.plan_id)
            .group_by(scope.c.node, p, per.c.total, per.c.goals)
        )

    for node, period, total, goals, n in await session.execute(_both(t)):
        raw.add_persons("ratings", _node(node), period, n)
        raw.add("rated_follow_ups", _node(node), period, n)
        raw.bucket("t_score", _node(node), period, (int(total), int(goals)), n)


async def prepare(session: AsyncSession) -> None:
    """On PostgreSQL, hash joins only for the rest of this transaction (`SET LOCAL enable_nestloop =
    off`): the measures join whole aggregates (the scope, each plan's first finalization …), whose
    row counts the planner cannot see through a materialized CTE; it guesses one row and picks a
    nested loop that is quadratic in the plans (3.6 s instead of 0.05 s for 5 000 plans). The
    statistics run in a session of their own, so nothing else is planned this way."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL enable_nestloop = off"))


MEASURES = (_started, _finalized, _closed, _meetings, _discharges, _follow_ups, _ratings)
STATEMENTS_PER_SCOPE = 8  # _ratings runs two


async def measure(session: AsyncSession, scope: Scope, window: Window) -> Raw:
    """Every measure for one scope: `STATEMENTS_PER_SCOPE` statements."""
    raw = Raw()
    sub = scope.select()
    for m in MEASURES:
        await m(session, sub, window, raw)
    return raw


def tops_of(orgs: Collection[Org]) -> dict[uuid.UUID, uuid.UUID]:
    parents = {o.id: o.parent_id for o in orgs}
    out: dict[uuid.UUID, uuid.UUID] = {}
    for o in orgs:
        top = o.id
        while (up := parents.get(top)) is not None:
            top = up
        out[o.id] = top
    return out


__all__: Sequence[str] = ("MEASURES", "Org", "Raw", "Scope", "Steering", "Window", "measure", "organisations")
