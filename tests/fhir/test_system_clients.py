"""Record systems at /fhir (SMART Backend Services style): an OAuth2 client-credentials token from the
service's issuer, bound to an organisation, reads exactly what that organisation's staff read, only
the types its `system/` scopes name, audited with the client as the actor; GraphQL refuses it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from test_fhir import PNR, Fhir, demo_plans, ref_id, valid

from sip_service.auth.principal import SystemPrincipal
from sip_service.kit.errors import Forbidden
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.identity import Organisation, StaffMember
from sip_service.plans import policy

from conftest import Service

CLIENT = "journal-vcn"  # a record system's client id at the issuer


@pytest.fixture
async def fhir(world: Service) -> AsyncIterator[Fhir]:
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        yield Fhir(http, world)


async def system_get(fhir: Fhir, path: str, token: str, **params: str) -> httpx.Response:
    return await fhir.http.get(f"/fhir/{path}", params=params, headers={"Authorization": f"Bearer {token}"})


async def plan_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in valid(response.json()).get("entry", []) if e["search"]["mode"] == "match"]


async def test_a_system_client_reads_what_its_organisations_staff_read(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    async with world.db.read() as s:
        orgs = list(await s.scalars(select(Organisation).order_by(Organisation.hsa_id)))
        staff = list(await s.scalars(select(StaffMember)))
    subs = {s.hsa_id: s for s in staff}
    demo_subs = {i.claims["hsa_id"]: sub for sub, i in world.provider.identities.items() if i.kind == "staff"}
    seen_somewhere = False
    for org in orgs:
        token = world.provider.issue_client_token(f"journal-{org.hsa_id}", org.hsa_id, "system/*.read")
        found = await plan_ids(await system_get(fhir, "CarePlan", token, _count="50"))
        members = [demo_subs[h] for h, m in subs.items() if m.organisation_id == org.id and h in demo_subs]
        for sub in members[:1]:  # the same search by a staff member of that organisation: the same plans, said alike
            as_staff = await fhir.raw("CarePlan", sub, _count="50")
            assert found == await plan_ids(as_staff), (org.hsa_id, sub)
            mine = await system_get(fhir, "CarePlan", token, _count="50", _include="CarePlan:subject")
            theirs = await fhir.raw("CarePlan", sub, _count="50", _include="CarePlan:subject")
            assert [e["resource"] for e in mine.json().get("entry", [])] == [
                e["resource"] for e in theirs.json().get("entry", [])
            ], org.hsa_id  # personal identity numbers and contact details as that organisation's staff see them
        for plan_id in made.values():
            response = await system_get(fhir, f"CarePlan/{plan_id}", token)
            assert response.status_code == (200 if str(plan_id) in found else 404), (org.hsa_id, plan_id)
            valid(response.json())
        seen_somewhere |= bool(found)
    assert seen_somewhere
    # Anna's health centre sees Elsa's plan, with what it names; another organisation gets a missing id's 404
    vcn = world.provider.issue_client_token(CLIENT, "SE2321000016-VCN", "system/*.read")
    hem = world.provider.issue_client_token("journal-hem", "SE2120000142-HEM", "system/*.read")
    elsa = made["ACTIVE"]
    care_plan = valid((await system_get(fhir, f"CarePlan/{elsa}", vcn)).json())
    patient = ref_id(care_plan["subject"], "Patient")
    for path in [f"CareTeam/{elsa}", f"Patient/{patient}", f"CarePlan/{elsa}/$everything"]:
        assert (await system_get(fhir, path, vcn)).status_code == 200, path
        refused, absent = await system_get(fhir, path, hem), await system_get(fhir, f"CarePlan/{uuid.uuid4()}", hem)
        assert refused.status_code == absent.status_code == 404, path
    search = await system_get(fhir, "CarePlan", hem, **{"subject:identifier": f"{PNR}|194003122388"})
    assert str(elsa) not in await plan_ids(search)


async def test_system_reads_are_audited_with_the_client_as_actor(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    token = world.provider.issue_client_token(CLIENT, "SE2321000016-VCN", "system/CarePlan.read")
    await system_get(fhir, f"CarePlan/{made['ACTIVE']}", token)
    async with world.db.read() as s:
        last = (await s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))).one()
        org = (await s.scalars(select(Organisation).where(Organisation.hsa_id == "SE2321000016-VCN"))).one()
    assert (last.access, last.action, last.plan_id) == (AuditAccess.READ, "plan.read", made["ACTIVE"])
    assert (last.actor_kind, last.actor_id, last.actor_name, last.organisation_id, last.auth_method) == (
        "SYSTEM",
        None,
        CLIENT,
        org.id,
        "CLIENT_CREDS",
    )


async def test_scopes_limit_the_types(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    elsa = made["ACTIVE"]
    plans_only = world.provider.issue_client_token(CLIENT, "SE2321000016-VCN", "system/CarePlan.read")
    care_plan = valid((await system_get(fhir, f"CarePlan/{elsa}", plans_only)).json())
    patient = ref_id(care_plan["subject"], "Patient")
    for path in [f"Patient/{patient}", f"CareTeam/{elsa}"]:
        response = await system_get(fhir, path, plans_only)
        assert response.status_code == 403, path
        assert valid(response.json())["issue"][0]["code"] == "forbidden" and "Elsa" not in response.text
    # what the plan names is left out where the scopes do not reach
    everything = valid((await system_get(fhir, f"CarePlan/{elsa}/$everything", plans_only)).json())
    assert {e["resource"]["resourceType"] for e in everything["entry"]} == {"CarePlan"}
    search = valid((await system_get(fhir, "CarePlan", plans_only, _include="CarePlan:subject")).json())
    assert {e["resource"]["resourceType"] for e in search["entry"]} == {"CarePlan"}
    # SMART v2's read-and-search scope and a per-type scope
    v2 = world.provider.issue_client_token(CLIENT, "SE2321000016-VCN", "system/Patient.rs system/CarePlan.rs")
    assert (await system_get(fhir, f"Patient/{patient}", v2)).status_code == 200
    # a client token without any system scope: known, allowed nothing
    for scope in ["", "openid profile", "patient/*.read user/*.read"]:
        bare = world.provider.issue_client_token(CLIENT, "SE2321000016-VCN", scope)
        for path in [f"CarePlan/{elsa}", "CarePlan", f"Patient/{patient}"]:
            response = await system_get(fhir, path, bare)
            assert response.status_code == 403, (scope, path)
            assert valid(response.json())["resourceType"] == "OperationOutcome"
    # bound to an organisation the service does not know: not signed in
    stranger = world.provider.issue_client_token(CLIENT, "SE0000000000-XXX", "system/*.read")
    assert (await system_get(fhir, f"CarePlan/{elsa}", stranger)).status_code == 401


async def test_graphql_refuses_system_clients(fhir: Fhir, world: Service) -> None:
    await demo_plans(world)
    token = world.provider.issue_client_token(CLIENT, "SE2321000016-VCN", "system/*.read system/*.write")
    for query in ["{ __typename }", "query { inbox { items { kind } } }"]:
        response = await fhir.http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, response.text
        assert "Elsa" not in response.text and "/fhir" in response.text
    # and no write rule takes a system client for staff
    async with world.db.read() as s:
        org = (await s.scalars(select(Organisation).where(Organisation.hsa_id == "SE2321000016-VCN"))).one()
    system = SystemPrincipal(CLIENT, org.id, org.hsa_id, CLIENT, frozenset({"system/*.write"}))
    with pytest.raises(Forbidden):
        policy.require_staff(system)
