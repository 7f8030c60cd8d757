"""SQL statements per request stay constant, however big the plan or the page: N+1 is a bug."""

from __future__ import annotations

from conftest import GraphQLClient, Service, op
from helpers import big_plan


async def statements_for(gql: GraphQLClient, service: Service, name: str, variables: dict[str, object]) -> int:
    with service.statements.counting() as counter:
        await gql(op(name), variables, as_="staff-anna")
    return counter.count


async def test_plan_detail_is_a_constant_small_number_of_statements(gql: GraphQLClient, world: Service) -> None:
    small = await big_plan(world, relatives=1, goals=1, actions=1, meeting_count=1)
    big = await big_plan(world, relatives=5, goals=10, actions=20, meeting_count=3)  # 8 participants in all
    n_small = await statements_for(gql, world, "PlanDetail", {"id": str(small)})
    n_big = await statements_for(gql, world, "PlanDetail", {"id": str(big)})
    # Batches can split by when resolvers happen to ask, so allow a little; N+1 would be 30 more.
    assert n_small <= 24 and n_big <= 24, (n_small, n_big)


async def test_a_page_of_plans_is_a_constant_small_number_of_statements(gql: GraphQLClient, world: Service) -> None:
    for _ in range(5):
        await big_plan(world, relatives=1, goals=1, actions=1, meeting_count=0)
    n_five = await statements_for(gql, world, "Plans", {"first": 50})
    for _ in range(45):
        await big_plan(world, relatives=1, goals=1, actions=1, meeting_count=0)
    data = await gql(op("Plans"), {"first": 50}, as_="staff-anna")
    assert len(data["plans"]["nodes"]) == 50
    n_fifty = await statements_for(gql, world, "Plans", {"first": 50})
    assert n_five <= 20 and n_fifty <= 20, (n_five, n_fifty)
