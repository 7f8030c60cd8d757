"""Two writers at one version: one wins, the other gets VersionConflict, nothing is lost."""

from __future__ import annotations

import asyncio

from conftest import GraphQLClient, Service, op
from helpers import big_plan


async def test_concurrent_edits_conflict_instead_of_overwriting(gql: GraphQLClient, world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0))
    version = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]["version"]

    async def write(who: str, text: str) -> dict[str, object]:
        data = await gql(
            op("UpdatePlan"), {"planId": plan_id, "expectedVersion": version, "input": {"background": text}}, as_=who
        )
        return dict(data["updatePlan"])

    results = await asyncio.gather(write("staff-anna", "Annas text"), write("staff-johan", "Johans text"))
    winners = [r for r in results if r.get("status")]
    losers = [r for r in results if r.get("__typename") == "VersionConflictError"]
    assert len(winners) == 1 and len(losers) == 1, results
    stored = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    assert stored["version"] == version + 1
    assert stored["background"] in ("Annas text", "Johans text")
    assert stored["version"] == winners[0]["version"]


async def test_a_stale_version_is_refused_with_the_current_one(gql: GraphQLClient, world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0))
    version = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]["version"]
    first = await gql(
        op("UpdatePlan"),
        {"planId": plan_id, "expectedVersion": version, "input": {"background": "A"}},
        as_="staff-anna",
    )
    assert first["updatePlan"]["version"] == version + 1
    stale = await gql(
        op("UpdatePlan"),
        {"planId": plan_id, "expectedVersion": version, "input": {"background": "B"}},
        as_="staff-anna",
    )
    assert stale["updatePlan"] == {
        "__typename": "VersionConflictError",
        "code": "VERSION_CONFLICT",
        "message": stale["updatePlan"]["message"],
        "expectedVersion": version,
        "actualVersion": version + 1,
    }
    assert (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]["background"] == "A"
