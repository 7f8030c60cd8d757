"""Personal identity numbers and protected identities are shown only as far as the law allows."""

from __future__ import annotations

from conftest import GraphQLClient, Service
from helpers import big_plan, citizen_id

QUERY = "query($id: UUID!) { plan(id: $id) { patient { personalNumber phone email protectedIdentity } } }"


async def test_personal_number_in_full_only_to_own_care_and_the_person(gql: GraphQLClient, world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0))  # Anna's (VCN) plan
    full, masked = "194003122388", "19400312-XXXX"
    for who, expected in [("staff-anna", full), ("citizen-elsa", full), ("staff-johan", masked)]:
        patient = (await gql(QUERY, {"id": plan_id}, as_=who))["plan"]["patient"]
        assert patient["personalNumber"] == expected, who
        assert patient["phone"] == "+46701234501", who  # not protected: contact is shared with the plan


async def test_protected_identity_hides_contact_from_other_organisations(gql: GraphQLClient, world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=0, patient="Birgitta"))
    own = (await gql(QUERY, {"id": plan_id}, as_="staff-anna"))["plan"]["patient"]
    other = (await gql(QUERY, {"id": plan_id}, as_="staff-johan"))["plan"]["patient"]
    assert own["protectedIdentity"] and own["phone"] and own["email"]
    assert other == {"personalNumber": "19451130-XXXX", "phone": None, "email": None, "protectedIdentity": True}
    assert await citizen_id(world, "Birgitta")
