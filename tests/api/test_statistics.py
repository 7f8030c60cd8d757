"""Statistics over GraphQL: who sees which view, no person in any answer, every read audited (and
the answer withheld without it), the same released table whatever the filter, a fixed number of
statements however many plans."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from sip_service import demo, demo_history
from sip_service.audit import service as audit
from sip_service.auth.principal import MANAGER, StaffPrincipal
from sip_service.kit import clock
from sip_service.models.audit import AuditEvent
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.plans import Participant, Plan
from sip_service.stats import service

from conftest import GraphQLClient, Service, op
from helpers import big_plan

MANAGER_REGION, MANAGER_MUNICIPALITY, STEERING = "staff-maja", "staff-henrik", "staff-eva"


async def _history(world: Service, seed: int = 12) -> dict[str, Organisation]:
    """The demo's year of history, in Lindö and Äldreomsorgen, and two plans of Norrbacka."""
    await demo.history(world.db)
    await big_plan(world, relatives=1, goals=1, actions=1, meeting_count=1)
    async with world.db.read() as s:
        return {o.hsa_id: o for o in await s.scalars(select(Organisation))}


async def _statistics(gql: GraphQLClient, as_: str, **variables: Any) -> dict[str, Any]:
    variables.setdefault("view", "CARE_GIVER")
    return (await gql(op("Statistics"), variables, as_=as_))["statistics"]


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_only_managers_and_steering_members_see_statistics(gql: GraphQLClient, world: Service) -> None:
    orgs = await _history(world)
    assert (await gql(op("StatisticsViews"), as_="staff-anna"))["statisticsViews"] == []
    assert (await gql(op("StatisticsViews"), as_=MANAGER_REGION))["statisticsViews"] == ["CARE_GIVER"]
    assert (await gql(op("StatisticsViews"), as_=STEERING))["statisticsViews"] == ["JOINT"]
    for who, view in (("staff-anna", "CARE_GIVER"), ("staff-anna", "JOINT"), (MANAGER_REGION, "JOINT")):
        body = (await gql.raw(op("Statistics"), {"view": view}, as_=who)).json()
        assert body["data"] is None and _code(body) == "FORBIDDEN", (who, view)
    body = (await gql.raw(op("Statistics"), {"view": "CARE_GIVER"}, as_=STEERING)).json()
    assert _code(body) == "FORBIDDEN"
    body = (await gql.raw(op("Statistics"), {"view": "CARE_GIVER"}, as_="citizen-elsa")).json()
    assert _code(body) == "FORBIDDEN"

    # A manager sees their own care giver and its units, and nothing of the other side.
    region = await _statistics(gql, MANAGER_REGION)
    assert region["title"] == "Region Sörmark"
    names = {n["name"] for n in region["nodes"]}
    assert names == {"Region Sörmark", "Vårdcentralen Lindö", "Vårdcentralen Norrbacka", "Vårdcentralen Åstorp"}
    assert {n["kind"] for n in region["nodes"]} == {"CARE_GIVER", "UNIT", "DIRECT"}
    other = str(orgs["SE2120000142-ALD"].id)
    body = (await gql.raw(op("Statistics"), {"view": "CARE_GIVER", "node": other}, as_=MANAGER_REGION)).json()
    assert _code(body) == "NOT_FOUND"
    municipality = await _statistics(gql, MANAGER_MUNICIPALITY)
    assert municipality["title"] == "Ekby kommun"
    assert "Vårdcentralen Lindö" not in json.dumps(municipality)

    # Steering: the group as one, no unit of either side.
    joint = await _statistics(gql, STEERING, view="JOINT")
    assert [n["kind"] for n in joint["nodes"]] == ["STEERING_GROUP"]
    assert joint["title"] == demo.STEERING_GROUP[0]
    assert not re.search("Lindö|Äldreomsorgen|Norrbacka", json.dumps(joint))
    year = next(f for f in joint["figures"] if f["period"] == joint["years"][-1])
    assert year["started"] is None or year["started"] >= 5


async def test_no_person_in_any_answer(gql: GraphQLClient, world: Service) -> None:
    orgs = await _history(world)
    answers = [
        await _statistics(gql, MANAGER_REGION),
        await _statistics(gql, MANAGER_MUNICIPALITY),
        await _statistics(gql, MANAGER_REGION, node=str(orgs["SE2321000016-VCL"].id)),
        await _statistics(gql, STEERING, view="JOINT"),
    ]
    text = json.dumps(answers, ensure_ascii=False)
    async with world.db.read() as s:
        people = [
            *(v for c in await s.scalars(select(Citizen)) for v in (str(c.id), c.id.hex, c.name, c.personal_number)),
            *(v for m in await s.scalars(select(StaffMember)) for v in (str(m.id), m.id.hex, m.name, m.hsa_id)),
            *(v for p in await s.scalars(select(Plan)) for v in (str(p.id), p.id.hex)),
            *(v for p in await s.scalars(select(Participant)) for v in (str(p.id), p.id.hex)),
        ]
    assert len(people) > 1000
    assert [p for p in people if p in text] == []
    # No count of 1–4 anywhere, in the figures or in the CSV.
    for a in answers:
        for f in a["figures"]:
            counts = [v for k, v in f.items() if isinstance(v, int)]
            counts += [c["count"] for c in f["closedByReason"] + f["ratingsByLevel"]]
            assert not [c for c in counts if c is not None and 0 < c < 5], f
        for row in a["csv"].splitlines()[1:]:
            cells = row.split(";")[2:25]  # the counts' columns
            assert not [c for c in cells if c in {"1", "2", "3", "4"}], row
        assert "< 5" in a["csv"]


async def test_every_filter_shows_cells_of_one_table(gql: GraphQLClient, world: Service) -> None:
    """Two filters never disagree on a cell, so subtracting one answer from another gives nothing
    the table does not show itself."""
    orgs = await _history(world)
    seen: dict[tuple[str, str, str], Any] = {}
    last = (await _statistics(gql, MANAGER_REGION))["lastMonth"]
    this = clock.today().strftime("%Y-%m")
    filters: list[dict[str, Any]] = [
        {},
        {"node": str(orgs["SE2321000016-VCL"].id)},
        {"node": str(orgs["SE2321000016-REG"].id) + ":direct"},
        {"firstMonth": this, "lastMonth": this},
        {"firstMonth": f"{int(this[:4]) - 1}-01", "lastMonth": this},
    ]
    assert last >= this
    for f in filters:
        answer = await _statistics(gql, MANAGER_REGION, **f)
        for fig in answer["figures"]:
            for k, v in fig.items():
                key = (fig["node"], fig["period"], k)
                assert seen.setdefault(key, v) == v, key
    body = (await gql.raw(op("Statistics"), {"view": "CARE_GIVER", "firstMonth": "1999-01"}, as_=MANAGER_REGION)).json()
    assert _code(body) == "VALIDATION_ERROR"


async def test_each_read_is_audited_and_withheld_without_the_audit(
    gql: GraphQLClient, world: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    orgs = await _history(world)
    node = str(orgs["SE2321000016-VCL"].id)
    async with world.db.read() as s:
        before = await s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    await _statistics(gql, MANAGER_REGION, node=node)
    async with world.db.read() as s:
        new = list(await s.scalars(select(AuditEvent).where(AuditEvent.seq > before)))
    assert [(e.action, e.actor_name, e.plan_id, e.patient_id) for e in new] == [
        ("statistics.read", "Maja Ström", None, None)
    ]
    assert json.loads(new[0].detail or "") == {"view": "CARE_GIVER", "node": node, "from": None, "to": None}
    async with world.db.read() as s:
        assert (await audit.verify(s)).intact

    async def broken(*_: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audit, "append_many", broken)  # what usecases.record_reads writes with
    body = (await gql.raw(op("Statistics"), {"view": "CARE_GIVER"}, as_=MANAGER_REGION)).json()
    assert body["data"] is None and _code(body) == "AUDIT_UNAVAILABLE"


async def test_statements_do_not_grow_with_the_plans(gql: GraphQLClient, world: Service) -> None:
    """9 statements for a care giver (the organisations and 8 aggregates), 18 for a steering group
    (the organisations, its members, 8 for the members' units and 8 for the group), plus the
    request's own: the principal and the audit write."""

    async def count(as_: str, view: str) -> int:
        with world.statements.counting() as counter:
            await _statistics(gql, as_, view=view)
        return counter.count

    few = (await count(MANAGER_REGION, "CARE_GIVER"), await count(STEERING, "JOINT"))
    await demo.history(world.db)
    async with world.db.write() as s:
        orgs = {o.hsa_id: o for o in await s.scalars(select(Organisation))}
        staff = {m.organisation_id: m.id for m in await s.scalars(select(StaffMember))}
        units = {"region": [orgs["SE2321000016-VCL"].id], "municipality": [orgs["SE2120000142-ALD"].id]}
        more = demo_history.demo_stories(units, clock.now(), seed=7) * 3
        await demo_history.write(s, more, staff, seed=99, first_number=10_000)
    many = (await count(MANAGER_REGION, "CARE_GIVER"), await count(STEERING, "JOINT"))
    assert few == many, (few, many)
    # The aggregates, and a handful for the request itself (the audit chain's lock, last event, insert).
    assert many[0] <= 9 + 6 and many[1] <= 18 + 6, many


async def test_joint_figures_and_a_members_figures_do_not_subtract_to_a_small_group(
    gql: GraphQLClient, world: Service
) -> None:
    await _history(world)
    joint = await _statistics(gql, STEERING, view="JOINT")
    group = {(f["period"], k): v for f in joint["figures"] for k, v in f.items() if isinstance(v, int)}
    for manager in (MANAGER_REGION, MANAGER_MUNICIPALITY):
        own = await _statistics(gql, manager)
        top = own["nodes"][0]["key"]
        for f in own["figures"]:
            if f["node"] != top:
                continue
            for k, v in f.items():
                both = group.get((f["period"], k))
                if isinstance(v, int) and both is not None:
                    assert not 0 < both - v < 5, (manager, f["period"], k, both, v)


async def test_a_counted_view_serves_the_next_filter_until_it_is_old(world: Service) -> None:
    """stats.Lattices (on in a running service: `statistics_cache_seconds`): within its time, the next
    answer of the same view — another filter, another manager — reads only the organisations and shows
    the figures as counted; once it is old, the history is counted again and new plans show."""
    await _history(world)
    moments = [0.0]
    lattices = service.Lattices(300, now=lambda: moments[0])
    async with world.db.read() as s:
        maja = await s.scalar(select(StaffMember).where(StaffMember.hsa_id == "SE2321000016-A010"))
        orgs = {o.hsa_id: o for o in await s.scalars(select(Organisation))}
    assert maja is not None
    manager = StaffPrincipal(maja.id, maja.organisation_id, maja.hsa_id, maja.name, roles=frozenset({MANAGER}))
    year = str(clock.today().year)

    async def answer(f: service.Filter) -> tuple[service.Statistics, int]:
        with world.statements.counting() as counter:
            async with world.db.read() as s:
                got = await service.statistics(s, manager, f, clock.now(), clock.today(), lattices)
        return got, counter.count

    def started(a: service.Statistics, node: str) -> int | None:
        return next(f.counts["started"] for f in a.figures if f.node == node and f.period == year)

    region = str(orgs["SE2321000016-REG"].id)
    first, counted = await answer(service.Filter())
    assert counted >= 9, counted
    async with world.db.write() as s:
        staff = {m.organisation_id: m.id for m in await s.scalars(select(StaffMember))}
        units = {"region": [orgs["SE2321000016-VCL"].id], "municipality": [orgs["SE2120000142-ALD"].id]}
        more = demo_history.demo_stories(units, clock.now(), seed=5)
        await demo_history.write(s, more, staff, seed=55, first_number=50_000)

    unit = str(orgs["SE2321000016-VCL"].id)
    kept, statements = await answer(service.Filter(node=unit))
    assert statements <= 2, statements  # the organisations (and SET LOCAL on PostgreSQL)
    whole, _ = await answer(service.Filter())
    assert started(whole, region) == started(first, region)
    assert started(kept, unit) == next(started(first, n.key) for n in first.nodes if n.key == unit)

    moments[0] += 300
    fresh, recounted = await answer(service.Filter())
    assert recounted == counted, (recounted, counted)
    before, after = started(first, region), started(fresh, region)
    assert before is not None and after is not None and after > before, (before, after)
