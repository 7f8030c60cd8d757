"""A patient normally has one open plan: creating a second one is refused with OPEN_PLAN_EXISTS,
which names the open plan to whoever may see it, unless the person says to create another."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from sip_service.models.plans import Plan

from conftest import GraphQLClient, Service, op

ELSA = "194003122388"
IN_BOTH_LANGUAGES = """
mutation($input: CreatePlanInput!) {
  createPlan(input: $input) {
    __typename
    ... on OpenPlanExistsError { code sv: message en: message(language: EN) existingPlanId }
  }
}
"""


async def create(gql: GraphQLClient, patient_id: str, as_: str = "staff-anna", **more: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(op("CreatePlan"), {"input": {"patientId": patient_id} | more}, as_=as_))[
        "createPlan"
    ]
    return result


async def plans_of(world: Service, patient_id: str) -> int:
    async with world.db.read() as s:
        return int(
            await s.scalar(select(func.count()).select_from(Plan).where(Plan.patient_id == uuid.UUID(patient_id))) or 0
        )


async def test_a_second_open_plan_is_refused_with_a_link_to_the_first(gql: GraphQLClient, world: Service) -> None:
    elsa = (await gql(op("FindPatient"), {"personalNumber": ELSA}, as_="staff-anna"))["patient"]["id"]
    first = await create(gql, elsa)
    assert first["status"] == "DRAFT"

    refused = await create(gql, elsa, background="Samma sak igen.")
    assert refused["__typename"] == "OpenPlanExistsError", refused
    assert refused["code"] == "OPEN_PLAN_EXISTS" and refused["existingPlanId"] == first["id"]
    assert refused["message"] and "Traceback" not in refused["message"]
    said = (await gql(IN_BOTH_LANGUAGES, {"input": {"patientId": elsa}}, as_="staff-anna"))["createPlan"]
    assert said["sv"] == refused["message"] and said["en"] != said["sv"] and "open plan" in said["en"]
    assert await plans_of(world, elsa) == 1  # nothing was made

    # The person may say that two are really needed.
    second = await create(gql, elsa, allowAnotherOpenPlan=True)
    assert second["status"] == "DRAFT" and second["id"] != first["id"]
    assert await plans_of(world, elsa) == 2

    # A closed plan is no reason to refuse.
    for plan in (first, second):
        variables = {"planId": plan["id"], "expectedVersion": plan["version"], "reason": "NO_LONGER_NEEDED"}
        assert (await gql(op("ClosePlan"), variables, as_="staff-anna"))["closePlan"]["status"] == "CLOSED"
    assert (await create(gql, elsa))["status"] == "DRAFT"


async def test_an_open_plan_one_may_not_see_is_told_of_but_not_named(gql: GraphQLClient, world: Service) -> None:
    elsa = (await gql(op("FindPatient"), {"personalNumber": ELSA}, as_="staff-anna"))["patient"]["id"]
    annas = await create(gql, elsa)
    # Karin's health centre takes no part in Anna's plan: to Karin it does not exist, so she learns
    # only that an open plan exists, not which one, where or whose.
    response = await gql.raw(op("CreatePlan"), {"input": {"patientId": elsa}}, as_="staff-karin")
    body = response.json()
    refused = body["data"]["createPlan"]
    assert refused["__typename"] == "OpenPlanExistsError" and refused["code"] == "OPEN_PLAN_EXISTS"
    assert refused["existingPlanId"] is None
    assert annas["id"] not in response.text and "Norrbacka" not in response.text and "Anna" not in response.text
    hidden = await gql.raw(op("PlanDetail"), {"id": annas["id"]}, as_="staff-karin")
    assert hidden.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    karins = await create(gql, elsa, as_="staff-karin", allowAnotherOpenPlan=True)
    assert karins["status"] == "DRAFT"
    # Karin now sees her own open plan, so that is the one she is sent to next time.
    again = await create(gql, elsa, as_="staff-karin")
    assert again["existingPlanId"] == karins["id"]


async def test_citizens_and_unknown_patients_get_the_errors_they_got_before(gql: GraphQLClient) -> None:
    elsa = (await gql(op("FindPatient"), {"personalNumber": ELSA}, as_="staff-anna"))["patient"]["id"]
    await create(gql, elsa)
    assert (await create(gql, elsa, as_="citizen-elsa"))["__typename"] == "ForbiddenError"
    unknown = await create(gql, "00000000-0000-4000-8000-000000000000")
    assert unknown["__typename"] == "NotFoundError"
