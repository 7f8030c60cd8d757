"""Statistics use cases: who may see which view, the lattice built and suppressed, the filter
applied as a choice of cells.

Two views:

- **Care giver** (role `manager`): the manager's care giver (their organisation's top organisation)
  and its units, each with "directly" (plans whose home unit is the care giver itself).
- **Joint** (role `steering`): the steering group the care giver sits in, as one node: figures
  across its members, never a member's units. A joint cell is also hidden when it differs by 1–4
  from what a member's own view shows (or lets one derive) for that member: a manager who is also
  in the steering group cannot subtract their way to a small group.

The whole lattice (3 calendar years: two before this one and this one, months and years) is
computed and suppressed for every answer, the same whatever the filter; the filter (a node, a
range of months) only picks cells out of it. Only counts and summaries leave; no id of a person
or a plan, no name but organisations' and the group's, no free text.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import MANAGER, STEERING, Principal, StaffPrincipal
from sip_service.kit import clock
from sip_service.kit.errors import Forbidden, Invalid, NotFound
from sip_service.models.plans import CloseReason
from sip_service.stats import repository as repo
from sip_service.stats import rules
from sip_service.stats.rules import Family, Key, Tree

T = TypeVar("T")
YEARS_BACK = 2  # the lattice: this calendar year and the two before
ACTION = "statistics.read"


class View(StrEnum):
    CARE_GIVER = "CARE_GIVER"
    JOINT = "JOINT"


class NodeKind(StrEnum):
    CARE_GIVER = "CARE_GIVER"  # a top-level organisation
    UNIT = "UNIT"
    DIRECT = "DIRECT"  # what a care giver (or unit) holds through none of its units
    STEERING_GROUP = "STEERING_GROUP"


REASONS = tuple(r.value for r in CloseReason)
LEVELS = (-2, -1, 0, 1, 2)

# Every count the answer may carry; `WITHHELD` exist only for the sums.
SERIES: tuple[str, ...] = (
    "started",
    "finalized",
    "closed",
    *(f"closed.{r}" for r in REASONS),
    "meetings",
    "meetings.patient",
    "meetings.no_patient",
    "meetings.relatives_wanted",
    "meetings.relatives",
    "meetings.no_relatives",
    "meetings.no_relatives_wanted",
    "discharges",
    "discharges.within3",
    "discharges.later",
    "follow_ups",
    "follow_ups.on_time",
    "follow_ups.late",
    "ratings",
    *(f"ratings.{level}" for level in LEVELS),
    "rated_follow_ups",
)
WITHHELD = ("meetings.no_relatives_wanted",)
FAMILIES = (
    Family("closed", tuple(f"closed.{r}" for r in REASONS)),
    Family("meetings", ("meetings.patient", "meetings.no_patient")),
    Family("meetings", ("meetings.relatives_wanted", "meetings.no_relatives_wanted")),
    Family("meetings.relatives_wanted", ("meetings.relatives", "meetings.no_relatives")),
    Family("discharges", ("discharges.within3", "discharges.later")),
    Family("follow_ups", ("follow_ups.on_time", "follow_ups.late")),
    Family("ratings", tuple(f"ratings.{level}" for level in LEVELS)),
)


@dataclass(frozen=True)
class Filter:
    view: View = View.CARE_GIVER
    node: str | None = None  # an organisation id, or "<id>:direct"; None: the whole care giver or group
    first_month: str | None = None  # 'YYYY-MM'; None: 12 months up to this one
    last_month: str | None = None

    def detail(self) -> str:
        """What the audit trail records of the read: the filter, nothing else."""
        return json.dumps(
            {"view": self.view.value, "node": self.node, "from": self.first_month, "to": self.last_month},
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class Node:
    key: str
    name: str
    kind: NodeKind
    parent: str | None


@dataclass(frozen=True)
class Figures:
    """One node in one period: counts (None = hidden, "< 5"), shares, medians, the T-score."""

    node: str
    period: str
    counts: Mapping[str, int | None]
    patient_share: float | None
    relatives_share: float | None
    discharge_within_share: float | None
    discharge_median_days: float | None
    follow_up_on_time_share: float | None
    final_median_days: float | None
    t_score: float | None


@dataclass(frozen=True)
class Statistics:
    view: View
    title: str
    nodes: list[Node]  # the chosen node first, then its units and "directly"
    months: list[str]  # the chosen months
    years: list[str]  # the calendar years they fall in (their totals are cells of their own)
    available: tuple[str, str]  # the first and last month one may choose
    figures: list[Figures] = field(default_factory=list)


@dataclass
class Released:
    """A suppressed lattice: every cell's true value, and which are hidden."""

    tree: Tree
    cells: dict[Key, int]
    hidden: set[Key]
    groups: list[rules.Group]
    persons: dict[Key, int]
    histograms: dict[Key, dict[Any, int]]

    def value(self, key: Key) -> int | None:
        return None if key in self.hidden else self.cells[key]


class Lattices:
    """Released lattices kept for `ttl_s` seconds, so that a filter change does not count again.

    A view's lattice is the same for every filter and every reader of that view (the filter only
    picks cells), and counting it takes seconds on a large history (bench/README.md, "Statistics"),
    so it is kept per view, care giver or group, years and organisation tree (a renamed or moved unit
    counts afresh). Figures are then at most `ttl_s` old: monthly statistics. Each read is still
    audited. 0: off. The clock is injectable (`now`), so tests move time instead of waiting."""

    def __init__(self, ttl_s: float, *, now: Callable[[], float] = clock.monotonic, max_entries: int = 100) -> None:
        self.ttl_s, self._now, self._max = ttl_s, now, max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    async def get(self, key: Hashable, count: Callable[[], Awaitable[T]]) -> T:
        if self.ttl_s <= 0:
            return await count()
        entry = self._entries.get(key)
        if entry is not None and self._now() < entry[0]:
            return cast(T, entry[1])
        value = await count()
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        self._entries[key] = (self._now() + self.ttl_s, value)
        return value


OFF = Lattices(0)


def years_of(today: date) -> list[int]:
    return list(range(today.year - YEARS_BACK, today.year + 1))


def _build(tree: Tree, raw: repo.Raw, years: Sequence[int], withheld: set[Key] | None = None) -> Released:
    cells = rules.roll_up(tree, raw.counts, SERIES, years)
    persons = {k: v for k, v in rules.roll_up(tree, raw.persons, SERIES, years).items() if (k[0], k[1], k[2]) in cells}
    persons = {k: v for k, v in persons.items() if _has_persons(k[0])}
    groups = rules.lattice_groups(tree, SERIES, FAMILIES, years)
    always = {k for k in cells if k[0] in WITHHELD} | (withheld or set())
    hidden = rules.suppress(cells, groups, persons=persons, withheld=always)
    histograms: dict[Key, dict[Any, int]] = {}
    for name in ("days_to_meeting", "days_to_final", "t_score"):
        for n in tree.nodes():
            homes = [n.removesuffix(":direct")] if n.endswith(":direct") else tree.below(n)
            for p in rules.periods(years):
                h: dict[Any, int] = {}
                for home in homes:
                    for b, c in raw.histograms.get((name, home, p), {}).items():
                        h[b] = h.get(b, 0) + c
                if h:
                    histograms[(name, n, p)] = h
    return Released(tree, cells, hidden, groups, persons, histograms)


def _has_persons(series: str) -> bool:
    return series.startswith(("meetings", "follow_ups", "ratings"))


def figures(r: Released, node: str, period: str) -> Figures:
    counts = {s: r.value((s, node, period)) for s in SERIES if s not in WITHHELD}

    def persons(series: str) -> int | None:
        v = counts.get(series)
        return None if v is None else r.persons.get((series, node, period), v)

    def gated(series: str, histogram: str) -> float | None:
        if counts.get(series) is None:
            return None
        return rules.median(r.histograms.get((histogram, node, period), {}))

    t = None
    if counts["rated_follow_ups"] is not None:
        t = rules.mean_t_score(r.histograms.get(("t_score", node, period), {}))
    return Figures(
        node=node,
        period=period,
        counts=counts,
        patient_share=rules.share(counts["meetings.patient"], counts["meetings"], persons("meetings")),
        relatives_share=rules.share(
            counts["meetings.relatives"], counts["meetings.relatives_wanted"], persons("meetings.relatives_wanted")
        ),
        discharge_within_share=rules.share(counts["discharges.within3"], counts["discharges"], counts["discharges"]),
        discharge_median_days=gated("discharges", "days_to_meeting"),
        follow_up_on_time_share=rules.share(counts["follow_ups.on_time"], counts["follow_ups"], persons("follow_ups")),
        final_median_days=gated("finalized", "days_to_final"),
        t_score=t,
    )


# --- Who sees what -------------------------------------------------------------------------------


def require_manager(principal: Principal) -> StaffPrincipal:
    if not (isinstance(principal, StaffPrincipal) and MANAGER in principal.roles):
        raise Forbidden("only managers see their care giver's statistics")
    return principal


def require_steering(principal: Principal) -> StaffPrincipal:
    if not (isinstance(principal, StaffPrincipal) and STEERING in principal.roles):
        raise Forbidden("only members of a steering group see its joint statistics")
    return principal


def _tree(orgs: Sequence[repo.Org], top: uuid.UUID) -> tuple[Tree, dict[str, Node]]:
    children: dict[str, list[str]] = {}
    by_id = {o.id: o for o in orgs}
    for o in sorted(orgs, key=lambda o: o.name):
        if o.parent_id is not None:
            children.setdefault(str(o.parent_id), []).append(str(o.id))
    tree = Tree(str(top), {k: tuple(v) for k, v in children.items()})
    nodes: dict[str, Node] = {}
    for n in tree.nodes():
        if n.endswith(":direct"):
            owner = n.removesuffix(":direct")
            nodes[n] = Node(n, by_id[uuid.UUID(owner)].name, NodeKind.DIRECT, owner)
        else:
            o = by_id[uuid.UUID(n)]
            kind = NodeKind.CARE_GIVER if o.parent_id is None else NodeKind.UNIT
            nodes[n] = Node(n, o.name, kind, str(o.parent_id) if o.parent_id else None)
    return tree, nodes


async def care_giver_lattice(
    session: AsyncSession, top: uuid.UUID, orgs: Sequence[repo.Org], window: repo.Window, years: Sequence[int]
) -> tuple[Released, dict[str, Node]]:
    tree, nodes = _tree(orgs, top)
    raw = await repo.measure(session, repo.Scope((top,)), window)
    return _build(tree, raw, years), nodes


async def joint_lattice(
    session: AsyncSession, group: repo.Steering, orgs: Sequence[repo.Org], window: repo.Window, years: Sequence[int]
) -> Released:
    """The group as one node, with the cells hidden that a member's own view would let one
    difference down to 1–4."""
    key = str(group.id)
    members_raw = await repo.measure(session, repo.Scope(group.members), window)
    raw = await repo.measure(session, repo.Scope(group.members, joint=key), window)
    tree = Tree(key, {})
    cells = rules.roll_up(tree, raw.counts, SERIES, years)
    withheld: set[Key] = set()
    for member in group.members:
        mtree, _ = _tree(orgs, member)
        mine = _build(mtree, members_raw, years)
        seen = rules.known([c for c in mine.cells if c not in mine.hidden], mine.groups)
        for s, _, p in cells:
            own = (s, str(member), p)
            if own in seen and rules.sensitive(cells[(s, key, p)] - mine.cells[own]):
                withheld.add((s, key, p))
    return _build(tree, raw, years, withheld)


def _months(f: Filter, today: date, years: Sequence[int]) -> list[str]:
    available = [m for y in years for m in rules.months_of(y)]
    this = f"{today.year:04d}-{today.month:02d}"
    last = f.last_month or this
    first = f.first_month or available[max(0, available.index(this) - 11)]
    for name, m in (("firstMonth", first), ("lastMonth", last)):
        if m not in available:
            raise Invalid(f"choose a month from {available[0]} to {available[-1]}", field=name)
    if first > last:
        raise Invalid("the period must not end before it starts", field="lastMonth")
    return [m for m in available if first <= m <= last]


async def statistics(
    session: AsyncSession,
    principal: Principal,
    f: Filter,
    now: datetime,
    today: date,
    lattices: Lattices = OFF,
) -> Statistics:
    """The figures the filter picks, for a manager (their care giver) or a steering group member
    (their group, joint). Statements: 9 for a care giver, 18 for a group, + 1 on PostgreSQL
    (`repository`); 1 and 2 (+ 1) while `lattices` holds the view's lattice. Give it a session of
    its own (`repository.prepare` tunes its transaction)."""
    years = years_of(today)
    window = repo.Window(years[0], years[-1], now)
    months = _months(f, today, years)
    available = (rules.months_of(years[0])[0], rules.months_of(years[-1])[-1])
    if f.view is View.CARE_GIVER:
        staff = require_manager(principal)
        await repo.prepare(session)
        orgs = await repo.organisations(session)
        top = repo.tops_of(orgs)[staff.organisation_id]
        released, nodes = await lattices.get(
            (f.view, top, tuple(years), frozenset(orgs)),
            lambda: care_giver_lattice(session, top, orgs, window, years),
        )
        title = nodes[str(top)].name
    else:
        staff = require_steering(principal)
        await repo.prepare(session)
        orgs = await repo.organisations(session)
        top = repo.tops_of(orgs)[staff.organisation_id]
        groups = await repo.steering_groups_of(session, top)
        if not groups:
            raise NotFound("SteeringGroup", top)
        group = groups[0]
        released = await lattices.get(
            (f.view, group.id, frozenset(group.members), tuple(years), frozenset(orgs)),
            lambda: joint_lattice(session, group, orgs, window, years),
        )
        key = str(group.id)
        nodes = {key: Node(key, group.name, NodeKind.STEERING_GROUP, None)}
        title = group.name
    chosen = f.node or released.tree.root
    if chosen not in nodes:
        raise NotFound("Organisation", chosen)
    shown = [nodes[chosen], *(n for n in nodes.values() if n.parent == chosen and n.key != chosen)]
    if nodes[chosen].kind is NodeKind.DIRECT:
        shown = [nodes[chosen]]
    picked_years = sorted({m[:4] for m in months})
    answer = Statistics(f.view, title, shown, months, picked_years, available)
    for n in shown:
        for p in (*months, *picked_years):
            answer.figures.append(figures(released, n.key, p))
    return answer


# --- CSV ----------------------------------------------------------------------------------------


def to_csv(answer: Statistics) -> str:
    """The answer as CSV (semicolon-separated, as Swedish spreadsheets expect): one row per node and
    period, hidden counts as "< 5", empty where a share or median is not shown."""
    names = {n.key: n.name + (" (direkt)" if n.kind is NodeKind.DIRECT else "") for n in answer.nodes}
    series = [s for s in SERIES if s not in WITHHELD]
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(
        [
            "organisation",
            "period",
            *series,
            "patient_share",
            "relatives_share",
            "discharge_within_3_days_share",
            "discharge_median_days",
            "follow_up_on_time_share",
            "first_meeting_to_final_median_days",
            "gas_t_score",
        ]
    )

    def num(v: float | None) -> str:
        return "" if v is None else f"{v:.3f}".rstrip("0").rstrip(".")

    for fig in answer.figures:
        w.writerow(
            [
                names[fig.node],
                fig.period,
                *("< 5" if fig.counts[s] is None else str(fig.counts[s]) for s in series),
                num(fig.patient_share),
                num(fig.relatives_share),
                num(fig.discharge_within_share),
                num(fig.discharge_median_days),
                num(fig.follow_up_on_time_share),
                num(fig.final_median_days),
                num(fig.t_score),
            ]
        )
    return out.getvalue()
