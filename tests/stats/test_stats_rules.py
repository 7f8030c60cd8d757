"""Suppression on generated lattices: no released value is 1–4, an onlooker who solves every group
with one unknown learns no 1–4 cell, no group's unknown rest is 1–4, and no difference of two
released cells, one inside the other (a unit in its care giver, a month in its year, a part in its
total, across any number of steps — so also across two answers with different filters, which
only pick cells of this one table), is 1–4. Then the joint view against a member's own view."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from sip_service.stats import rules
from sip_service.stats.rules import Family, Group, Key, Tree

YEARS = [2026]
TREE = Tree("top", {"top": ("a", "b"), "a": ("a1",)})
SERIES = ("total", "part.x", "part.y", "other")
FAMILIES = (Family("total", ("part.x", "part.y")),)
HOMES = ("top", "a", "a1", "b")

# Small counts, so that cells of 1–4 and sums near 5 are common.
counts = st.dictionaries(
    st.tuples(st.sampled_from(("part.x", "part.y", "other")), st.sampled_from(HOMES), st.integers(1, 12)),
    st.integers(0, 7),
    max_size=60,
)


def _raw(c: Mapping[tuple[str, str, int], int]) -> dict[tuple[str, str, str], int]:
    raw: dict[tuple[str, str, str], int] = {}
    for (series, home, month), n in c.items():
        for period in (f"2026-{month:02d}", "2026"):
            for s in (series, "total") if series.startswith("part") else (series,):
                raw[(s, home, period)] = raw.get((s, home, period), 0) + n
    return raw


def _contains(groups: list[Group]) -> dict[Key, set[Key]]:
    """Each cell → every cell inside it (children, their children …)."""
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


def check(cells: dict[Key, int], groups: list[Group], hidden: set[Key]) -> None:
    shown = {k: v for k, v in cells.items() if k not in hidden}
    assert not [k for k, v in shown.items() if rules.sensitive(v)]
    known = rules.known(shown, groups)
    assert not [k for k in known if rules.sensitive(cells[k])]
    for g in groups:
        if g.parent in known:
            rest = sum(cells[c] for c in g.children if c not in known)
            assert not rules.sensitive(rest), g
    inside = _contains(groups)
    for outer, inner in inside.items():
        if outer in shown:
            for k in inner:
                if k in shown:
                    assert not rules.sensitive(cells[outer] - cells[k]), (outer, k)


@settings(max_examples=300)
@given(c=counts)
def test_nothing_released_reveals_a_small_group(c: dict[tuple[str, str, int], int]) -> None:
    cells = rules.roll_up(TREE, _raw(c), SERIES, YEARS)
    groups = rules.lattice_groups(TREE, SERIES, FAMILIES, YEARS)
    hidden = rules.suppress(cells, groups)
    check(cells, groups, hidden)
    # Every group adds up (the lattice is built right), so the checks above mean something.
    for g in groups:
        assert cells[g.parent] == sum(cells[k] for k in g.children)


@settings(max_examples=150)
@given(c=counts, persons=st.dictionaries(st.sampled_from(HOMES), st.integers(1, 3), max_size=2))
def test_few_persons_behind_many_events_are_hidden_too(
    c: dict[tuple[str, str, int], int], persons: dict[str, int]
) -> None:
    """A cell of many events (SIP meetings) but 1–4 persons is hidden like a small count."""
    cells = rules.roll_up(TREE, _raw(c), SERIES, YEARS)
    groups = rules.lattice_groups(TREE, SERIES, FAMILIES, YEARS)
    few = {k: min(v, persons[k[1]]) for k, v in cells.items() if k[1] in persons and v}
    hidden = rules.suppress(cells, groups, persons=few)
    assert all(k in hidden for k, v in few.items() if rules.sensitive(v))
    check(cells, groups, hidden)


@settings(max_examples=150)
@given(c=counts)
def test_withheld_parts_stay_hidden_and_protected(c: dict[tuple[str, str, int], int]) -> None:
    cells = rules.roll_up(TREE, _raw(c), SERIES, YEARS)
    groups = rules.lattice_groups(TREE, SERIES, FAMILIES, YEARS)
    withheld = {k for k in cells if k[0] == "part.y"}
    hidden = rules.suppress(cells, groups, withheld=withheld)
    assert withheld <= hidden
    check(cells, groups, hidden)


def test_a_lone_small_unit_takes_a_neighbour_with_it() -> None:
    # Unit a1 has 3, a has 0 directly: a = 3 must hide too (a − a1 = 0, but a itself is 3), and
    # top − b would give a; so b hides, or top.
    raw = {("other", "a1", "2026-03"): 3, ("other", "a1", "2026"): 3}
    raw |= {("other", "b", "2026-03"): 9, ("other", "b", "2026"): 9}
    cells = rules.roll_up(TREE, raw, SERIES, YEARS)
    groups = rules.lattice_groups(TREE, SERIES, FAMILIES, YEARS)
    hidden = rules.suppress(cells, groups)
    assert ("other", "a1", "2026-03") in hidden and ("other", "a", "2026-03") in hidden
    assert {("other", "b", "2026-03"), ("other", "top", "2026-03")} & hidden
    check(cells, groups, hidden)


def test_summaries() -> None:
    assert rules.share(6, 12, 12) == 0.5
    assert rules.share(7, 10, 4) is None  # 4 persons behind
    assert rules.share(3, 10, 10) is None  # 3 would be known
    assert rules.share(8, 10, 10) is None  # 2 did not
    assert rules.median({1: 2, 3: 3}) == 3
    assert rules.median({1: 2, 3: 2}) is None
    assert list(itertools.islice(rules.periods([2026]), 13))[-1] == "2026"
