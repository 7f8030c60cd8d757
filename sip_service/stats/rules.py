"""The statistics' rules, pure: the lattice of cells, the suppression that keeps persons out of
sight, and the summaries (shares, medians, the GAS T-score). No I/O; unit- and property-tested
(`tests/stats/test_stats_rules.py`).

**The lattice.** Every figure is a *cell*: (series, node, period). A series is one count (plans
started, SIP meetings where the patient took part …); a node is an organisation (a care giver, one
of its units, the plans the care giver holds "directly", not through a unit) or a steering group;
a period is a calendar month (`2026-03`) or a calendar year (`2026`). The cells are fixed: a filter
only *selects* cells, nothing is ever summed over an arbitrary range, so two answers with different
filters are two views of one released table.

**Additive groups.** A cell equals the sum of its parts in three ways: a node is its units plus
"directly" (the service counts each plan at exactly one unit of each care giver, so this is
exact), a year is its months, and a total series is its parts (closed = Σ by reason; meetings =
with the patient + without). `Group(parent, children)` names each such sum.

**Suppression** (`suppress`). A cell counting 1–4 persons is hidden ("< 5"). Then, to fixpoint:
with what is shown, an onlooker derives every cell that is the only unknown of a group (`known`);
whenever a hidden 1–4 cell becomes derivable, or in a group whose parent is known the unknown
children sum to 1–4, one more cell is hidden (the smallest shown positive member of that group,
else one behind a member that is only known by working it out).
So no released value, and no difference of released values along a group, is 1–4.

**Persons.** A cell's persons are its events except where one person may have several events in a
cell (SIP meetings, follow-ups): there the service also counts distinct plans, and the cell is
sensitive when those are 1–4 (`persons`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

MIN_PERSONS = 5  # cells of 1–4 persons are never shown
GAS_RHO = 0.3  # Kiresuk & Sherman: the assumed correlation between a person's goal scores
WITHIN_DAYS = 3  # lag 2017:612: a SIP meeting is called within three days of the discharge notice

Key = tuple[str, str, str]  # (series, node, period)


@dataclass(frozen=True, slots=True)
class Group:
    """`parent` is exactly the sum of `children`."""

    parent: Key
    children: tuple[Key, ...]


def sensitive(value: int) -> bool:
    return 0 < value < MIN_PERSONS


def known(shown: Collection[Key], groups: Sequence[Group]) -> set[Key]:
    """What an onlooker knows from the shown cells: those, and every cell that is the one unknown
    member of a group (repeatedly)."""
    return set(shown) | set(_derived(shown, groups))


def _derived(shown: Collection[Key], groups: Sequence[Group]) -> dict[Key, Group]:
    """Each cell an onlooker can work out, and the group it comes from (linear in the lattice:
    each group counts its unknown members, and one that is down to one gives it away)."""
    k = set(shown)
    by_member = _by_member(groups)
    left = [sum(1 for m in (g.parent, *g.children) if m not in k) for g in groups]
    todo = [i for i, n in enumerate(left) if n == 1]
    out: dict[Key, Group] = {}
    while todo:
        i = todo.pop()
        if left[i] != 1:
            continue
        g = groups[i]
        m = next(m for m in (g.parent, *g.children) if m not in k)
        k.add(m)
        out[m] = g
        for j in by_member[m]:
            left[j] -= 1
            if left[j] == 1:
                todo.append(j)
    return out


_INDEX: list[tuple[Sequence[Group], dict[Key, list[int]]]] = []


def _by_member(groups: Sequence[Group]) -> dict[Key, list[int]]:
    """Which groups each cell is in (kept for the last lattice seen)."""
    if _INDEX and _INDEX[0][0] is groups:
        return _INDEX[0][1]
    index: dict[Key, list[int]] = {}
    for i, g in enumerate(groups):
        for m in (g.parent, *g.children):
            index.setdefault(m, []).append(i)
    _INDEX[:] = [(groups, index)]
    return index


def suppress(
    cells: Mapping[Key, int],
    groups: Sequence[Group],
    *,
    persons: Mapping[Key, int] | None = None,
    withheld: Collection[Key] = (),
) -> set[Key]:
    """The cells to hide. `persons` overrides the count that decides sensitivity (distinct persons
    behind a count of events); `withheld` are never shown (parts that only exist for the sums)."""
    persons = persons or {}
    hidden = {k for k, v in cells.items() if sensitive(persons.get(k, v))} | set(withheld)
    inside = _inside(groups)
    while True:
        extra = _more(cells, groups, hidden, persons, inside)
        if not extra:
            return hidden
        hidden |= extra


def _inside(groups: Sequence[Group]) -> dict[Key, set[Key]]:
    """Each cell → every cell contained in it, over any number of groups."""
    direct: dict[Key, set[Key]] = {}
    for g in groups:
        direct.setdefault(g.parent, set()).update(g.children)
    out: dict[Key, set[Key]] = {}

    def below(k: Key) -> set[Key]:
        if k not in out:
            out[k] = set()
            for c in direct.get(k, ()):
                out[k] |= {c, *below(c)}
        return out[k]

    for k in direct:
        below(k)
    return out


def _more(
    cells: Mapping[Key, int],
    groups: Sequence[Group],
    hidden: set[Key],
    persons: Mapping[Key, int],
    inside: Mapping[Key, set[Key]],
) -> set[Key]:
    """More cells to hide (one per problem found in this pass), or none when nothing small can be
    seen, worked out, or had as the difference of a known cell and a known cell inside it."""
    shown = {c for c in cells if c not in hidden}
    derived = _derived(shown, groups)
    k = shown | set(derived)
    extra: set[Key] = set()
    for cell, g in derived.items():  # a hidden small cell an onlooker works out
        if sensitive(persons.get(cell, cells[cell])):
            extra |= _break(cell, g, cells, shown, derived, groups, k)
    if extra:
        return extra
    for g in groups:  # a known total whose unknown parts add up to 1–4
        if g.parent in k:
            unknown = [c for c in g.children if c not in k]
            if unknown and sensitive(sum(cells[c] for c in unknown)):
                extra |= _break(unknown[0], g, cells, shown, derived, groups, k)
    if extra:
        return extra
    for outer, cells_in in inside.items():  # a known cell minus a known cell inside it
        if outer not in k or not cells[outer]:
            continue
        for inner in cells_in:
            if inner in k and sensitive(cells[outer] - cells[inner]):
                # keep the larger shown where one can: hide the inner one, or make it unknown again
                if inner in shown:
                    extra |= _unknowable(inner, cells, k, groups)
                elif inner in derived:
                    extra |= _break(inner, derived[inner], cells, shown, derived, groups, k)
                elif outer in shown:
                    extra |= _unknowable(outer, cells, k, groups)
                else:
                    extra |= _break(outer, derived[outer], cells, shown, derived, groups, k)
                break
    return extra


def _break(
    cell: Key,
    g: Group,
    cells: Mapping[Key, int],
    shown: set[Key],
    derived: Mapping[Key, Group],
    groups: Sequence[Group],
    known_now: set[Key],
) -> set[Key]:
    """Shown cells whose hiding makes `cell` (or the unknown rest it is in) uncertain in `g`: the
    smallest shown positive member of `g` (with what it takes to keep that one unknown), else,
    recursively, one behind a positive member that is only known by working it out."""
    seen: set[Key] = set()

    def walk(target: Key, group: Group) -> Key | None:
        members = [m for m in (group.parent, *group.children) if m != target]
        children = [m for m in members if m != group.parent]
        for pool in (children, members):
            open_ = sorted((cells[m], m) for m in pool if m in shown and cells[m] > 0)
            if open_:
                return open_[0][1]
        for m in members:
            if m in derived and m not in seen:
                seen.add(m)
                found = walk(m, derived[m])
                if found is not None:
                    return found
        return None

    found = walk(cell, g)
    if found is None:  # a last resort: the smallest shown positive cell of the same series and node
        series, node, _ = cell
        near = sorted((v, c) for c, v in cells.items() if c[:2] == (series, node) and c in shown and v > 0)
        rest = near or sorted((v, c) for c, v in cells.items() if c in shown and v > 0)
        if not rest:  # pragma: no cover  (nothing is shown at all)
            raise AssertionError(f"nothing left to hide for {cell}")
        found = rest[0][1]
    return _unknowable(found, cells, known_now, groups)


def _unknowable(cell: Key, cells: Mapping[Key, int], known_now: set[Key], groups: Sequence[Group]) -> set[Key]:
    """`cell` and what it takes to keep it unknown once hidden: for each group that would still give
    a hidden cell away (all its other members known), its smallest shown positive member too, and so
    on for those (the classic rectangle of complementary suppression: a cell, its neighbour in the
    month's organisations, their neighbours among the parts of the total …). What is known can only
    shrink as cells are hidden, so judging by what is known now errs on the side of hiding."""
    out = {cell}
    index = _by_member(groups)
    todo = [cell]
    while todo and len(out) < 64:
        c = todo.pop()
        for i in index.get(c, ()):
            g = groups[i]
            others = [m for m in (g.parent, *g.children) if m != c]
            if all(m in known_now and m not in out for m in others):
                positive = sorted((cells[m], m) for m in others if cells[m] > 0)
                if positive:
                    out.add(positive[0][1])
                    todo.append(positive[0][1])
    return out


# --- The lattice -------------------------------------------------------------------------------


def direct(node: str) -> str:
    """The pseudo-node of what a node with units holds itself, through none of them."""
    return f"{node}:direct"


@dataclass(frozen=True)
class Tree:
    """A care giver (or a steering group) and its units; `units[n]` are n's children."""

    root: str
    units: Mapping[str, tuple[str, ...]]

    def nodes(self) -> list[str]:
        out, todo = [], [self.root]
        while todo:
            n = todo.pop(0)
            out.append(n)
            if self.units.get(n):
                todo.extend(self.units[n])
                out.append(direct(n))
        return out

    def below(self, node: str) -> list[str]:
        """The node and every unit under it (the home units whose figures add up to it)."""
        out, todo = [], [node]
        while todo:
            n = todo.pop()
            out.append(n)
            todo.extend(self.units.get(n, ()))
        return out


@dataclass(frozen=True)
class Family:
    """A total and the parts it is exactly the sum of."""

    total: str
    parts: tuple[str, ...]


def months_of(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


def periods(years: Sequence[int]) -> list[str]:
    return [p for y in years for p in [*months_of(y), f"{y:04d}"]]


def roll_up(
    tree: Tree, raw: Mapping[tuple[str, str, str], int], series: Iterable[str], years: Sequence[int]
) -> dict[Key, int]:
    """Every cell of the lattice, from counts per home unit: (series, unit, period) → n."""
    cells: dict[Key, int] = {}
    ps = periods(years)
    for s in series:
        for n in tree.nodes():
            homes = [n[: -len(":direct")]] if n.endswith(":direct") else tree.below(n)
            for p in ps:
                cells[(s, n, p)] = sum(raw.get((s, h, p), 0) for h in homes)
    return cells


def lattice_groups(tree: Tree, series: Iterable[str], families: Iterable[Family], years: Sequence[int]) -> list[Group]:
    ps = periods(years)
    nodes = tree.nodes()
    series = list(series)
    groups: list[Group] = []
    for s in series:
        for n in nodes:
            kids = tree.units.get(n)
            for p in ps:
                if kids:
                    groups.append(Group((s, n, p), tuple((s, c, p) for c in (*kids, direct(n)))))
            for y in years:
                groups.append(Group((s, n, f"{y:04d}"), tuple((s, n, m) for m in months_of(y))))
    for f in families:
        for n in nodes:
            for p in ps:
                groups.append(Group((f.total, n, p), tuple((part, n, p) for part in f.parts)))
    return groups


# --- Summaries ---------------------------------------------------------------------------------


def share(part: int | None, whole: int | None, persons: int | None) -> float | None:
    """part / whole, only when both counts are shown and at least 5 persons are behind them."""
    if part is None or whole is None or whole == 0 or persons is None or persons < MIN_PERSONS:
        return None
    if sensitive(part) or sensitive(whole - part):
        return None
    return part / whole


def median(histogram: Mapping[int, int]) -> float | None:
    """The median of a histogram {value: how many}, only when at least 5 are behind it."""
    values = [v for v, n in sorted(histogram.items()) for _ in range(n)]
    if len(values) < MIN_PERSONS:
        return None
    return float(statistics.median(values))


def t_score(scores: Sequence[int], rho: float = GAS_RHO) -> float:
    """The GAS T-score of one person's goals (Kiresuk & Sherman 1968), equal weights:
    50 + 10·Σx / √((1−ρ)·n + ρ·n²). 50 is "as expected"; each goal −2 … +2."""
    n = len(scores)
    if n == 0:
        raise ValueError("no goals rated")
    return 50 + 10 * sum(scores) / math.sqrt((1 - rho) * n + rho * n * n)


def mean_t_score(histogram: Mapping[tuple[int, int], int]) -> float | None:
    """The mean T-score over follow-ups, from {(sum of scores, goals rated): follow-ups}; only when
    at least 5 follow-ups are behind it."""
    total = sum(histogram.values())
    if total < MIN_PERSONS:
        return None
    t = sum(n * (50 + 10 * s / math.sqrt((1 - GAS_RHO) * g + GAS_RHO * g * g)) for (s, g), n in histogram.items())
    return t / total
