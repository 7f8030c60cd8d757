"""Contact details (issue 10, item 5): organisations have a switchboard number, staff members a
work phone and e-mail, and citizens the language they read messages in. Work contact details are
meant for the patients and relatives, so whoever may see the plan sees them; nobody else sees the
plan at all."""

from __future__ import annotations

from typing import Any

from sip_service.auth.principal import CitizenPrincipal
from sip_service.models.plans import ParticipantKind, Plan
from sip_service.plans import service as plans

from conftest import GraphQLClient, Service, op
from helpers import add_family, big_plan, citizen_id, staff


async def elsa_with_family(world: Service) -> str:
    """Elsa's plan (Anna and Johan) where Elsa chose Per and Lena; Lena reads English."""
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0)
    anna, elsa = await staff(world, "Anna"), CitizenPrincipal(await citizen_id(world, "Elsa"), "Elsa Andersson")
    async with world.db.write() as s:
        plan = await plans.editable_plan(s, anna, plan_id, (await s.get(Plan, plan_id)).version)  # type: ignore[union-attr]
        plan = await add_family(s, world, anna, plan)
        await s.flush()
        chosen = [p.id for p in plan.participants if p.kind is ParticipantKind.RELATIVE]
        await plans.record_relatives_decision(s, elsa, plan_id, plan.version, chosen)
    return str(plan_id)


async def page(gql: GraphQLClient, plan_id: str, who: str) -> dict[str, Any]:
    plan: dict[str, Any] = (await gql(op("AppPlanPage"), {"id": plan_id, "language": "SV"}, as_=who))["plan"]
    return plan


async def test_everyone_who_sees_the_plan_sees_work_contact_details(gql: GraphQLClient, world: Service) -> None:
    plan_id = await elsa_with_family(world)
    for who in ("staff-anna", "staff-johan", "citizen-elsa", "citizen-per", "citizen-maria"):
        plan = await page(gql, plan_id, who)
        staff_rows = {p["name"]: p for p in plan["participants"] if p["kind"] == "STAFF"}
        anna, johan = staff_rows["Anna Lind"], staff_rows["Johan Ek"]
        assert anna["staffMember"]["phone"] == "070-174 06 05", who
        assert anna["staffMember"]["email"] == "anna.lind@norrbacka.example", who
        assert anna["organisation"]["phone"] == "08-465 004 10", who  # Vårdcentralen Norrbacka's switchboard
        assert johan["staffMember"] == {
            "id": johan["staffMember"]["id"],
            "title": "Biståndshandläggare",
            "phone": "070-174 06 08",
            "email": "johan.ek@ekby.example",
        }, who
        assert johan["organisation"]["phone"] == "08-465 004 50", who
        assert plan["createdByOrganisation"]["phone"] == "08-465 004 10", who


async def test_citizens_read_in_their_own_language(gql: GraphQLClient, world: Service) -> None:
    plan_id = await elsa_with_family(world)
    plan = await page(gql, plan_id, "staff-anna")
    assert plan["patient"]["language"] == "SV"
    languages = {p["name"]: p["citizen"]["language"] for p in plan["participants"] if p["citizen"]}
    assert languages == {"Elsa Andersson": "SV", "Per Andersson": "SV", "Lena Andersson": "EN", "Maria Svensson": "SV"}


async def test_no_contact_details_without_the_plan(gql: GraphQLClient, world: Service) -> None:
    plan_id = await elsa_with_family(world)
    # Karin's health centre takes no part, and Olle is nobody in Elsa's plan: as if it did not exist.
    for who in ("staff-karin", "citizen-olle"):
        body = (await gql.raw(op("AppPlanPage"), {"id": plan_id, "language": "SV"}, as_=who)).json()
        assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], who
        assert "070-174" not in str(body) and "@" not in str(body), who


async def test_organisations_list_their_switchboards(gql: GraphQLClient, world: Service) -> None:
    data = await gql("{ organisations { name phone } }", as_="citizen-elsa")
    phones = {o["name"]: o["phone"] for o in data["organisations"]}
    assert phones["Vårdcentralen Norrbacka"] == "08-465 004 10"
    assert phones["Socialtjänsten Ekby"] == "08-465 004 50"
