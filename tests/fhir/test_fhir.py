"""The FHIR read API (/fhir): every answer is valid FHIR (fhir.resources' R4B models, whose resources
used here are R4's), says what GraphQL says, keeps the readable scope and leaves the audit events a
GraphQL read leaves (the answer withheld when they cannot be written)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from sip_service.audit import service as audit
from sip_service.demo import _Cast, _ready_plan
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.plans import CloseReason, Participant, ParticipantKind, Plan
from sip_service.plans import service as plans
from sip_service.usecases import run

from conftest import GraphQLClient, Service, op
from helpers import big_plan, staff

PNR = "http://electronichealth.se/identifier/personnummer"
HSA = "urn:oid:1.2.752.29.4.19"
FHIR_JSON = "application/fhir+json"


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """The body, after fhir.resources accepted it as the resource it says it is."""
    model = get_fhir_model_class(body["resourceType"])
    model.model_validate(body)
    return body


class Fhir:
    def __init__(self, http: httpx.AsyncClient, service: Service) -> None:
        self.http, self.service = http, service

    async def raw(self, path: str, as_: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.service.token(as_)}"} if as_ else {}
        return await self.http.get(f"/fhir/{path}", params=params, headers=headers)

    async def get(self, path: str, as_: str | None, **params: str) -> dict[str, Any]:
        """A resource that must be there and valid."""
        response = await self.raw(path, as_, **params)
        assert response.status_code == 200, (path, as_, response.text)
        assert response.headers["content-type"].startswith(FHIR_JSON)
        return valid(response.json())

    async def url(self, url: str, as_: str) -> dict[str, Any]:
        response = await self.http.get(url, headers={"Authorization": f"Bearer {self.service.token(as_)}"})
        assert response.status_code == 200, response.text
        return valid(response.json())


@pytest.fixture
async def fhir(world: Service) -> AsyncIterator[Fhir]:
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        yield Fhir(http, world)


async def demo_plans(world: Service) -> dict[str, uuid.UUID]:
    """Plans in every status, as the demo makes them: Elsa's finalized (ACTIVE; Per wanted, Lena
    not), Gustav's in revision with his god man Maria, Olle's closed, and a DRAFT of Elsa's with
    goals, actions and a relative."""
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    anna = cast.staff["Anna"]
    made = {
        "ACTIVE": await _ready_plan(
            world.db, cast, "Elsa", relatives=("Per", "Lena"), wanted=("Per",), goal="Gå till affären.", background="B."
        ),
        "REVISING": await _ready_plan(
            world.db, cast, "Gustav", representative="Maria", goal="Ut i trädgården.", background="Demens."
        ),
        "CLOSED": await _ready_plan(world.db, cast, "Olle", goal="Klara mig själv.", background="Höft."),
        "DRAFT": await big_plan(world, relatives=1, goals=2, actions=3, meeting_count=0),
    }

    async def revised(s: Any) -> Plan:
        current = await s.get(Plan, made["REVISING"])
        return await plans.revise_plan(s, anna, made["REVISING"], current.version)

    async def closed(s: Any) -> Plan:
        current = await s.get(Plan, made["CLOSED"])
        return await plans.close_plan(s, anna, made["CLOSED"], current.version, CloseReason.GOALS_MET)

    await run(world.db, anna, "test", revised, broker=None)
    await run(world.db, anna, "test", closed, broker=None)
    return made


async def plan_events(world: Service, plan_id: uuid.UUID) -> list[AuditEvent]:
    async with world.db.read() as s:
        rows = await s.scalars(select(AuditEvent).where(AuditEvent.plan_id == plan_id).order_by(AuditEvent.seq))
        return list(rows)


def ref_id(reference: dict[str, Any], type_: str) -> str:
    kind, _, id_ = reference["reference"].partition("/")
    assert kind == type_, reference
    return id_


async def test_every_resource_validates_in_every_status(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    expected = {"DRAFT": "draft", "ACTIVE": "active", "REVISING": "active", "CLOSED": "completed"}
    for status, plan_id in made.items():
        care_plan = await fhir.get(f"CarePlan/{plan_id}", "staff-anna")
        assert (care_plan["status"], care_plan["intent"], care_plan["language"]) == (expected[status], "plan", "sv")
        team = await fhir.get(f"CareTeam/{ref_id(care_plan['careTeam'][0], 'CareTeam')}", "staff-anna")
        assert team["status"] == ("inactive" if status == "CLOSED" else "active")
        for g in care_plan["goal"]:
            await fhir.get(f"Goal/{ref_id(g, 'Goal')}", "staff-anna")
        patient = await fhir.get(f"Patient/{ref_id(care_plan['subject'], 'Patient')}", "staff-anna")
        assert patient["identifier"][0]["system"] == PNR  # Anna's health centre made the plan: own care
        performers = [
            p
            for a in care_plan.get("activity", [])
            for p in a.get("detail", {}).get("performer", [])
            if "reference" in p
        ]
        orgs = {ref_id(p, "Organization") for p in performers}
        orgs |= {ref_id(p["onBehalfOf"], "Organization") for p in team["participant"] if "onBehalfOf" in p}
        for org_id in orgs:
            org = await fhir.get(f"Organization/{org_id}", "staff-anna")
            assert org["identifier"][0]["system"] == HSA
        # what the plan names: its consents, meetings and finalized versions
        named = linked(care_plan)
        assert named["Consent"], status  # every demo plan has its consent
        assert bool(named["Provenance"]) == (status != "DRAFT"), status
        assert bool(named["Appointment"]) == (status != "DRAFT"), status  # the demo plans met
        for type_, ids in named.items():
            for id_ in ids:
                resource = await fhir.get(f"{type_}/{id_}", "staff-anna")
                assert resource["resourceType"] == type_ and resource["id"] == id_
        # the patient side reads the same plan (Gustav's god man reads his)
        patient_side = {"ACTIVE": "citizen-elsa", "DRAFT": "citizen-elsa", "REVISING": "citizen-maria"}
        theirs = await fhir.get(f"CarePlan/{plan_id}", patient_side.get(status, "citizen-olle"))
        if status == "REVISING":  # the god man is not Gustav's own care: his number is not shown to her
            assert "identifier" not in theirs["subject"]
            theirs["subject"]["identifier"] = care_plan["subject"]["identifier"]
        assert theirs == care_plan
    metadata = await fhir.get("metadata", None)
    assert metadata["fhirVersion"] == "4.0.1"
    assert {r["type"] for r in metadata["rest"][0]["resource"]} == {
        "CarePlan",
        "CareTeam",
        "Goal",
        "Patient",
        "Organization",
        "Consent",
        "Appointment",
        "Provenance",
        "Subscription",
        "PractitionerRole",
        "Practitioner",
        "Task",
    }


def linked(care_plan: dict[str, Any]) -> dict[str, list[str]]:
    """The ids of the Consents, Provenances (supportingInfo) and Appointments (activity) a CarePlan names."""
    out: dict[str, list[str]] = {"Consent": [], "Provenance": [], "Appointment": []}
    refs = [
        *care_plan.get("supportingInfo", []),
        *(a["reference"] for a in care_plan.get("activity", []) if "reference" in a),
    ]
    for r in refs:
        type_, _, id_ = r["reference"].partition("/")
        out[type_].append(id_)
    return out


def takes_part(p: dict[str, Any]) -> bool:
    return p["kind"] != "RELATIVE" or p["wantedByPatient"] is True


async def test_the_care_plan_says_what_graphql_says(fhir: Fhir, gql: GraphQLClient, world: Service) -> None:
    made = await demo_plans(world)
    for plan_id in made.values():
        detail = (await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-anna"))["plan"]
        care_plan = await fhir.get(f"CarePlan/{plan_id}", "staff-anna")
        team = await fhir.get(f"CareTeam/{plan_id}", "staff-anna")
        # the patient
        assert ref_id(care_plan["subject"], "Patient") == detail["patient"]["id"]
        assert care_plan["subject"]["identifier"]["value"] == detail["patient"]["personalNumber"]
        assert care_plan["subject"]["display"] == detail["patient"]["name"]
        # the goals, in the patient's words
        goals = [await fhir.get(f"Goal/{ref_id(g, 'Goal')}", "staff-anna") for g in care_plan.get("goal", [])]
        assert [(g["id"], g["description"]["text"]) for g in goals] == [(g["id"], g["text"]) for g in detail["goals"]]
        for g, want in zip(goals, detail["goals"], strict=True):
            assert g.get("target", [{}])[0].get("dueDate") == want["targetDate"]
        # the actions: what, who is responsible, when, how far, for which goal
        activities = [a["detail"] for a in care_plan.get("activity", []) if "detail" in a]
        assert [a["description"] for a in activities] == [a["description"] for a in detail["actions"]]
        status = {"PLANNED": "not-started", "ONGOING": "in-progress", "DONE": "completed", "CANCELLED": "cancelled"}
        for got, want in zip(activities, detail["actions"], strict=True):
            assert got["status"] == status[want["status"]]
            assert ref_id(got["performer"][0], "Organization") == want["responsibleOrganisation"]["id"]
            assert got.get("scheduledPeriod", {}).get("start") == want["startDate"]
            assert got.get("scheduledPeriod", {}).get("end") == want["dueDate"]
            assert [ref_id(r, "Goal") for r in got.get("goal", [])] == ([want["goalId"]] if want["goalId"] else [])
        # overall responsibility
        overall = detail["overallResponsibleOrganisation"]
        if overall is None:
            assert "extension" not in care_plan and "managingOrganization" not in team
        else:
            [extension] = care_plan["extension"]
            assert ref_id(extension["valueReference"], "Organization") == overall["id"]
            assert ref_id(team["managingOrganization"][0], "Organization") == overall["id"]
        # the participants: those who take part, as the patient decided about relatives
        members = [p["member"] for p in team["participant"]]
        contained = {f"#{r['id']}": r for r in team.get("contained", [])}
        on_team = [p for p in detail["participants"] if takes_part(p)]
        assert len(members) == len(on_team)
        for m, p in zip(members, on_team, strict=True):
            if p["kind"] == "STAFF":  # their role in the plan, and through it the practitioner
                assert (m["type"], m["display"]) == ("PractitionerRole", f"{p['name']}, {p['staffMember']['title']}")
                role = await fhir.get(m["reference"], "staff-anna")
                assert role["id"] == p["id"] and role["code"][0]["text"].startswith(
                    p["role"] or p["staffMember"]["title"]
                )
                assert ref_id(role["organization"], "Organization") == p["organisation"]["id"]
                person = await fhir.get(role["practitioner"]["reference"], "staff-anna")
                assert person["name"][0]["text"] == p["name"] and person["identifier"][0]["system"] == HSA
                assert person["identifier"][0]["value"] == role["practitioner"]["identifier"]["value"]
                assert person["id"] == p["staffMember"]["id"]
            elif p["kind"] == "EXTERNAL":
                assert m == {"display": p["name"]}
            else:
                assert (m["type"], m["display"]) == ({"PATIENT": "Patient"}.get(p["kind"], "RelatedPerson"), p["name"])
            if m.get("type") == "RelatedPerson":
                assert contained[m["reference"]]["name"][0]["text"] == p["name"]
        # the consent in force: the organisations that may share, the relatives who take part
        named = linked(care_plan)
        consents = [await fhir.get(f"Consent/{i}", "staff-anna") for i in named["Consent"]]
        in_force = [c for c in consents if c["status"] == "active"]
        if detail["consent"] is None:
            assert in_force == []
        else:
            [c] = in_force
            assert c["id"] == detail["consent"]["id"]
            actors = c["provision"]["actor"]
            orgs = [
                ref_id(a["reference"], "Organization") for a in actors if a["reference"].get("type") == "Organization"
            ]
            assert sorted(orgs) == sorted(o["id"] for o in detail["consent"]["organisations"])
            chosen = [a["reference"]["display"] for a in actors if a["reference"].get("type") == "RelatedPerson"]
            wanted = [p["name"] for p in detail["participants"] if p["kind"] == "RELATIVE" and p["wantedByPatient"]]
            assert chosen == wanted
        # the meetings: when, who was invited, who was there
        appointments = [await fhir.get(f"Appointment/{i}", "staff-anna") for i in named["Appointment"]]
        assert [a["id"] for a in appointments] == [m["id"] for m in detail["meetings"]]
        names = {p["id"]: p["name"] for p in detail["participants"]}
        for a, m in zip(appointments, detail["meetings"], strict=True):
            assert (a["start"], a["end"]) == (m["startsAt"], m["endsAt"])
            there = {x["actor"]["display"] for x in a["participant"] if "period" in x}
            assert there == {names[x["participantId"]] for x in m["attendances"]}
            invited = {x["actor"]["display"] for x in a["participant"]}
            assert {names[x["participantId"]] for x in m["invitations"]} <= invited
        # the finalized versions: who finalized, when, when approved
        provenances = [await fhir.get(f"Provenance/{i}", "staff-anna") for i in named["Provenance"]]
        assert [p["activity"]["text"] for p in provenances] == [
            f"Version {r['number']} fastställd" for r in detail["revisions"]
        ]
        for p, r in zip(provenances, detail["revisions"], strict=True):
            assert p["recorded"] == r["finalizedAt"] and p["signature"][0]["when"] == r["approvedAt"]
            [finalizer] = [a for a in p["agent"] if a["type"]["coding"][0]["code"] == "attester"]
            assert finalizer["who"]["display"].startswith(r["finalizedBy"]["name"])
    # Lena, whom Elsa did not choose, is not on the team; Per is; Gustav's god man Maria is
    elsa_team = await fhir.get(f"CareTeam/{made['ACTIVE']}", "staff-anna")
    names = {p["member"]["display"] for p in elsa_team["participant"]}
    assert "Per Andersson" in names and "Lena Andersson" not in names
    gustav_team = await fhir.get(f"CareTeam/{made['REVISING']}", "staff-anna")
    [maria] = [p for p in gustav_team["participant"] if p["member"]["display"] == "Maria Svensson"]
    assert maria["role"][0]["text"] == "Företrädare (god man)"


async def test_outsiders_get_what_a_missing_id_gets(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    plan_id = made["ACTIVE"]  # Elsa's: Anna's health centre and Johan's social services; Per wanted, Lena not
    care_plan = await fhir.get(f"CarePlan/{plan_id}", "staff-anna")
    goal_id = ref_id(care_plan["goal"][0], "Goal")
    patient_id = ref_id(care_plan["subject"], "Patient")
    paths = [f"CarePlan/{plan_id}", f"CareTeam/{plan_id}", f"Goal/{goal_id}", f"Patient/{patient_id}"]
    paths += [f"{type_}/{ids[0]}" for type_, ids in linked(care_plan).items()]  # Consent, Provenance, Appointment
    team = await fhir.get(f"CareTeam/{plan_id}", "staff-anna")
    paths += [p["member"]["reference"] for p in team["participant"] if p["member"].get("type") == "PractitionerRole"]
    for who in ["staff-anna", "staff-johan", "citizen-elsa", "citizen-per"]:
        for path in paths:
            await fhir.get(path, who)
    before = len(await plan_events(world, plan_id))
    missing = str(uuid.uuid4())
    for who in ["staff-sara", "citizen-gustav", "citizen-lena"]:  # another organisation, patient, unchosen relative
        for path in paths:
            type_ = path.split("/")[0]
            refused = await fhir.raw(path, who)
            absent = await fhir.raw(f"{type_}/{missing}", who)
            assert refused.status_code == absent.status_code == 404, (who, path)
            assert valid(refused.json())["issue"][0]["code"] == "not-found"
            assert refused.text.replace(path.split("/")[1], "ID") == absent.text.replace(missing, "ID")
        search = await fhir.get("CarePlan", who, **{"subject:identifier": f"{PNR}|194003122388"})
        assert str(plan_id) not in str(search), who
    assert len(await plan_events(world, plan_id)) == before  # a refused read leaves no plan-read event
    # Organisations are the directory every signed-in person sees (as GraphQL's `organisations`)
    org_id = ref_id(care_plan["activity"][0]["detail"]["performer"][0], "Organization")
    await fhir.get(f"Organization/{org_id}", "citizen-gustav")
    # Not signed in: 401, an OperationOutcome, nothing about the plan
    for path in [*paths, "CarePlan", f"Organization/{org_id}"]:
        response = await fhir.raw(path, None)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert valid(response.json())["resourceType"] == "OperationOutcome" and "Elsa" not in response.text


async def test_reads_are_audited_as_graphql_reads_are(
    fhir: Fhir, gql: GraphQLClient, world: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await demo_plans(world)
    plan_id = made["ACTIVE"]
    before = len(await plan_events(world, plan_id))
    await gql(op("PlanDetail"), {"id": str(plan_id)}, as_="staff-johan")
    [graphql_read] = (await plan_events(world, plan_id))[before:]
    care_plan = await fhir.get(f"CarePlan/{plan_id}", "staff-johan")
    parts = [f"{type_}/{ids[0]}" for type_, ids in linked(care_plan).items()]
    team = await fhir.get(f"CareTeam/{plan_id}", "staff-johan")
    parts += [p["member"]["reference"] for p in team["participant"] if p["member"].get("type") == "PractitionerRole"][
        :1
    ]
    for path in [f"CarePlan/{plan_id}", f"CareTeam/{plan_id}", *parts]:
        before = len(await plan_events(world, plan_id))
        await fhir.get(path, "staff-johan")
        [event] = (await plan_events(world, plan_id))[before:]
        fields = ("access", "action", "actor_kind", "actor_id", "actor_name", "organisation_id", "auth_method")
        assert [getattr(event, f) for f in fields] == [getattr(graphql_read, f) for f in fields], path
        assert event.patient_id == graphql_read.patient_id
    # a search: one plan read per plan in the answer
    before = len(await plan_events(world, plan_id))
    bundle = await fhir.get("CarePlan", "citizen-per", **{"subject:identifier": f"{PNR}|194003122388"})
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(plan_id)]  # Per is wanted in one of Elsa's
    assert [(e.access, e.action, e.actor_name) for e in (await plan_events(world, plan_id))[before:]] == [
        (AuditAccess.READ, "plan.read", "Per Andersson")
    ]
    # the patient resource: a read of that patient
    patient_id = uuid.UUID(ref_id(bundle["entry"][0]["resource"]["subject"], "Patient"))
    await fhir.get(f"Patient/{patient_id}", "staff-johan")
    async with world.db.read() as s:
        last = (await s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))).one()
    assert (last.action, last.patient_id, last.plan_id, last.actor_name) == (
        "patient.read",
        patient_id,
        None,
        "Johan Ek",
    )

    async def broken(*_: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audit, "append_many", broken)
    for path in [f"CarePlan/{plan_id}", f"CareTeam/{plan_id}", f"Patient/{patient_id}", "CarePlan", *parts]:
        response = await fhir.raw(path, "staff-anna")
        assert response.status_code == 503, path
        body = valid(response.json())
        assert body["issue"][0]["code"] == "transient" and "Elsa" not in response.text
        assert "kunde inte loggas" in response.text


async def test_search_by_patient_and_status_pages_with_next_links(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    more = [await big_plan(world, relatives=0, goals=1, actions=1, meeting_count=0) for _ in range(2)]
    elsas = {str(made["ACTIVE"]), str(made["DRAFT"]), *map(str, more)}
    subject = {"subject:identifier": f"{PNR}|194003122388"}
    seen: list[str] = []
    bundle = await fhir.get("CarePlan", "staff-anna", _count="2", **subject)
    pages = 1
    while True:
        assert bundle["type"] == "searchset" and len(bundle.get("entry", [])) <= 2
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        assert all(e["fullUrl"].endswith(f"/fhir/CarePlan/{e['resource']['id']}") for e in bundle.get("entry", []))
        nexts = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nexts:
            break
        bundle, pages = await fhir.url(nexts[0], "staff-anna"), pages + 1
    assert sorted(seen) == sorted(elsas) and pages == 2
    drafts = await fhir.get("CarePlan", "staff-anna", status="draft", **subject)
    assert {e["resource"]["id"] for e in drafts["entry"]} == {str(made["DRAFT"]), *map(str, more)}
    done = await fhir.get("CarePlan", "staff-anna", status="completed,draft")
    assert str(made["CLOSED"]) in {e["resource"]["id"] for e in done["entry"]}
    assert {e["resource"]["status"] for e in done["entry"]} == {"completed", "draft"}
    nothing = await fhir.get("CarePlan", "staff-anna", status="on-hold")  # a valid code no plan has
    assert "entry" not in nothing
    unknown_person = await fhir.get("CarePlan", "staff-anna", **{"subject:identifier": f"{PNR}|191212121212"})
    assert "entry" not in unknown_person
    # the patient herself: her own plans only, whatever she asks for
    own = await fhir.get("CarePlan", "citizen-elsa")
    assert {e["resource"]["id"] for e in own["entry"]} == elsas


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"patient": "x"}, "'patient'"),
        ({"subject:identifier": "194003122388"}, "subject:identifier"),
        ({"subject:identifier": f"{HSA}|194003122388"}, "subject:identifier"),
        ({"subject:identifier": f"{PNR}|1940"}, "12"),
        ({"status": "finished"}, "'finished'"),
        ({"_count": "0"}, "_count"),
        ({"_count": "1000"}, "_count"),
        ({"_count": "x"}, "_count"),
        ({"_cursor": "not-ours"}, "_cursor"),
        ({"_format": "xml"}, "JSON"),
        ({"_include": "CarePlan:author"}, "'CarePlan:author'"),
        ({"_include": "Goal:subject"}, "_include"),
        ({"_lastUpdated": "2026-12-01"}, "_lastUpdated"),
        ({"_lastUpdated": "eq2026-12-01"}, "_lastUpdated"),
        ({"_lastUpdated": "ge2026-13-01"}, "_lastUpdated"),
        ({"_lastUpdated": "ge2026-12-01T10:00:00"}, "_lastUpdated"),
    ],
)
async def test_a_bad_search_is_an_operation_outcome(fhir: Fhir, params: dict[str, str], words: str) -> None:
    response = await fhir.raw("CarePlan", "staff-anna", **params)
    assert response.status_code == 400, response.text
    body = valid(response.json())
    [issue] = body["issue"]
    assert issue["code"] == "invalid" and words in issue["details"]["text"] and " / " in issue["details"]["text"]
    assert "Traceback" not in response.text


async def test_what_is_not_implemented_says_so(fhir: Fhir) -> None:
    for path in ["Consent", "Appointment", "Practitioner/1", f"CarePlan/{uuid.uuid4()}/_history"]:
        response = await fhir.raw(path, "staff-anna")
        assert response.status_code == 404, path
        assert valid(response.json())["resourceType"] == "OperationOutcome"
    # a malformed id is an id that does not exist
    response = await fhir.raw("CarePlan/not-a-uuid", "staff-anna")
    assert response.status_code == 404 and valid(response.json())["issue"][0]["code"] == "not-found"


async def test_a_search_page_takes_the_same_statements_however_many_plans(fhir: Fhir, world: Service) -> None:
    for _ in range(5):
        await big_plan(world, relatives=1, goals=2, actions=2, meeting_count=0)
    counts = {}
    for count in ("1", "5"):
        with world.statements.counting() as counter:
            bundle = await fhir.get("CarePlan", "staff-anna", _count=count)
        assert len(bundle["entry"]) == int(count)
        counts[count] = counter.count
    assert 0 < counts["1"] == counts["5"], counts


async def test_a_withdrawn_consent_is_inactive_and_ends_then(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    plan_id = made["DRAFT"]
    anna = await staff(world, "Anna")

    async def withdrawn(s: Any) -> Plan:
        current = await s.get(Plan, plan_id)
        return await plans.withdraw_consent(s, anna, plan_id, current.version)

    await run(world.db, anna, "test", withdrawn, broker=None)
    care_plan = await fhir.get(f"CarePlan/{plan_id}", "staff-anna")
    assert care_plan["status"] == "completed"
    [consent_id] = linked(care_plan)["Consent"]
    consent = await fhir.get(f"Consent/{consent_id}", "staff-anna")
    assert consent["status"] == "inactive"
    async with world.db.read() as s:
        plan = await s.get(Plan, plan_id)
        assert plan is not None and plan.closed_at is not None
        assert consent["provision"]["period"]["end"] == plan.closed_at.date().isoformat()
    assert "återkallat" in consent["text"]["div"]
    assert not [a for a in consent["provision"]["actor"] if a["reference"].get("type") == "RelatedPerson"]


async def test_each_finalized_revision_is_a_version_and_etags_work(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    # Elsa's plan, finalized and unchanged since: the current version is the finalized one
    elsa = made["ACTIVE"]
    response = await fhir.raw(f"CarePlan/{elsa}", "staff-anna")
    current = valid(response.json())
    vid = current["meta"]["versionId"]
    assert response.headers["etag"] == f'W/"{vid}"'
    [provenance_id] = linked(current)["Provenance"]
    provenance = await fhir.get(f"Provenance/{provenance_id}", "staff-anna")
    assert provenance["target"][0]["reference"] == f"CarePlan/{elsa}/_history/{vid}"
    finalized = await fhir.get(f"CarePlan/{elsa}/_history/{vid}", "staff-anna")
    assert finalized["meta"]["versionId"] == vid and finalized["status"] == "active"
    # If-None-Match: the same version is not sent again (but the read is logged); another one is
    before = len(await plan_events(world, elsa))
    for tag in (f'W/"{vid}"', f'"{vid}"', f'W/"0", W/"{vid}"', "*"):
        same = await fhir.http.get(
            f"/fhir/CarePlan/{elsa}",
            headers={"Authorization": f"Bearer {world.token('staff-anna')}", "If-None-Match": tag},
        )
        assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", f'W/"{vid}"'), tag
    assert len(await plan_events(world, elsa)) == before + 4
    other = await fhir.http.get(
        f"/fhir/CarePlan/{elsa}",
        headers={"Authorization": f"Bearer {world.token('staff-anna')}", "If-None-Match": 'W/"0"'},
    )
    assert other.status_code == 200 and valid(other.json()) == current
    # Gustav's plan, being revised: the revision under way is the current version; the finalized
    # one is still readable as it was, through its Provenance's target
    gustav = made["REVISING"]
    revising = await fhir.get(f"CarePlan/{gustav}", "staff-anna")
    [provenance_id] = linked(revising)["Provenance"]
    target = (await fhir.get(f"Provenance/{provenance_id}", "staff-anna"))["target"][0]["reference"]
    old_vid = target.rsplit("/", 1)[1]
    assert int(revising["meta"]["versionId"]) > int(old_vid)
    anna = await staff(world, "Anna")

    async def goal_added(s: Any) -> Plan:
        current = await s.get(Plan, gustav)
        maria = await s.scalar(
            select(Participant.id).where(
                Participant.plan_id == gustav, Participant.kind == ParticipantKind.REPRESENTATIVE
            )
        )
        await plans.add_goal(s, anna, gustav, current.version, goal_text="Sova hela natten.", expressed_by_id=maria)
        return current

    await run(world.db, anna, "test", goal_added, broker=None)
    changed = await fhir.http.get(
        f"/fhir/CarePlan/{gustav}",
        headers={
            "Authorization": f"Bearer {world.token('staff-anna')}",
            "If-None-Match": f'W/"{revising["meta"]["versionId"]}"',
        },
    )
    assert changed.status_code == 200, "a changed plan is sent again"
    now = valid(changed.json())
    assert int(now["meta"]["versionId"]) > int(revising["meta"]["versionId"])
    assert [g["display"] for g in now["goal"]] == ["Ut i trädgården.", "Sova hela natten."]
    first = await fhir.get(target, "staff-anna")
    assert (first["meta"]["versionId"], first["status"]) == (old_vid, "active")
    assert [g["display"] for g in first["goal"]] == ["Ut i trädgården."]
    assert [a["detail"]["description"] for a in first["activity"] if "detail" in a] == [
        a["detail"]["description"] for a in now["activity"] if "detail" in a
    ]
    assert await fhir.get(f"CarePlan/{gustav}/_history/{now['meta']['versionId']}", "staff-anna") == now
    # versions that are neither current nor finalized, and outsiders: 404 as for a plan that is not there
    draft = made["DRAFT"]
    assert "Provenance" not in str(await fhir.get(f"CarePlan/{draft}", "staff-anna"))
    assert (await fhir.raw(f"CarePlan/{draft}/_history/1", "staff-anna")).status_code == 404
    assert (await fhir.raw(f"CarePlan/{gustav}/_history/{int(old_vid) - 1}", "staff-anna")).status_code == 404
    missing = str(uuid.uuid4())
    refused = await fhir.raw(f"CarePlan/{elsa}/_history/{vid}", "staff-sara")
    absent = await fhir.raw(f"CarePlan/{missing}/_history/{vid}", "staff-sara")
    assert refused.status_code == absent.status_code == 404 and "etag" not in refused.headers
    assert refused.text.replace(str(elsa), "ID") == absent.text.replace(missing, "ID")


def references(resource: Any) -> set[str]:
    """Every literal reference ("Type/id") anywhere in a resource, contained ones and versions aside."""
    if isinstance(resource, dict):
        here = {resource["reference"]} if isinstance(resource.get("reference"), str) else set()
        return here | {r for v in resource.values() for r in references(v)}
    if isinstance(resource, list):
        return {r for v in resource for r in references(v)}
    return set()


async def test_everything_is_one_plan_with_all_it_names(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    for status, plan_id in made.items():
        bundle = await fhir.get(f"CarePlan/{plan_id}/$everything", "staff-anna")
        entries = bundle["entry"]
        assert [e["search"]["mode"] for e in entries] == ["match"] + ["include"] * (len(entries) - 1)
        assert entries[0]["resource"] == await fhir.get(f"CarePlan/{plan_id}", "staff-anna")
        served = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in entries}
        assert len(served) == len(entries), "each resource once"
        named = {  # what the plan's resources name (an Organization's parent is the directory's business)
            r
            for e in entries
            if e["resource"]["resourceType"] != "Organization"
            for r in references(e["resource"])
            if not r.startswith("#") and "/_history/" not in r
        }
        assert named <= set(served), (status, named - set(served))
        for path, resource in served.items():  # each as its own read says it
            assert resource == await fhir.get(path, "staff-anna"), path
        kinds = {p.split("/")[0] for p in served}
        assert {"CarePlan", "CareTeam", "Patient", "Consent", "Organization"} <= kinds, status
    # an outsider: as for a plan that is not there; a parameter: refused
    missing = str(uuid.uuid4())
    refused = await fhir.raw(f"CarePlan/{made['ACTIVE']}/$everything", "staff-sara")
    absent = await fhir.raw(f"CarePlan/{missing}/$everything", "staff-sara")
    assert refused.status_code == absent.status_code == 404
    assert refused.text.replace(str(made["ACTIVE"]), "ID") == absent.text.replace(missing, "ID")
    assert (
        await fhir.raw(f"CarePlan/{made['ACTIVE']}/$everything", "staff-anna", start="2026-01-01")
    ).status_code == 400
    # audited: a read of the plan and of its patient
    before = len(await plan_events(world, made["ACTIVE"]))
    await fhir.get(f"CarePlan/{made['ACTIVE']}/$everything", "staff-johan")
    async with world.db.read() as s:
        last = list(await s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(2)))
    assert sorted(e.action for e in last) == ["patient.read", "plan.read"]
    assert len(await plan_events(world, made["ACTIVE"])) == before + 1


async def test_everything_takes_the_same_statements_however_big_the_plan(fhir: Fhir, world: Service) -> None:
    # (a plan with no meetings at all saves the two statements that load meetings' invitations and attendances)
    small = await big_plan(world, relatives=0, goals=1, actions=1, meeting_count=1)
    big = await big_plan(world, relatives=3, goals=5, actions=8, meeting_count=4)
    counts, sizes = {}, {}
    for name, plan_id in (("small", small), ("big", big)):
        with world.statements.counting() as counter:
            bundle = await fhir.get(f"CarePlan/{plan_id}/$everything", "staff-anna")
        counts[name], sizes[name] = counter.count, len(bundle["entry"])
    assert sizes["big"] >= sizes["small"] + 7, sizes  # 4 more goals, 3 more meetings
    assert 0 < counts["small"] == counts["big"], counts


async def test_search_includes_and_last_updated(fhir: Fhir, world: Service) -> None:
    made = await demo_plans(world)
    subject = {"subject:identifier": f"{PNR}|194003122388"}  # Elsa: her ACTIVE and DRAFT plans
    response = await fhir.http.get(
        "/fhir/CarePlan",
        params=[
            *subject.items(),
            ("_include", "CarePlan:goal"),
            ("_include", "CarePlan:patient"),
            ("_include", "CarePlan:supporting-info"),
        ],
        headers={"Authorization": f"Bearer {world.token('staff-anna')}"},
    )
    assert response.status_code == 200, response.text
    bundle = valid(response.json())
    matches = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert {m["id"] for m in matches} == {str(made["ACTIVE"]), str(made["DRAFT"])}
    want = {f"Goal/{g['reference'].split('/')[1]}" for m in matches for g in m.get("goal", [])}
    want |= {r["reference"] for m in matches for r in m.get("supportingInfo", [])}
    want |= {m["subject"]["reference"] for m in matches}  # Elsa, once
    assert sorted(f"{r['resourceType']}/{r['id']}" for r in included) == sorted(want)
    # _lastUpdated: a day (in Swedish time) or an instant, and a range of two
    today = (await fhir.get(f"CarePlan/{made['ACTIVE']}", "staff-anna"))["meta"]["lastUpdated"][:10]
    everyone = {e["resource"]["id"] for e in (await fhir.get("CarePlan", "staff-anna", _count="50"))["entry"]}
    assert set(map(str, made.values())) <= everyone
    since = await fhir.get("CarePlan", "staff-anna", _count="50", _lastUpdated=f"ge{today}")
    assert set(map(str, made.values())) <= {e["resource"]["id"] for e in since["entry"]}
    assert "entry" not in await fhir.get("CarePlan", "staff-anna", _lastUpdated="gt2999-01-01")
    latest = await fhir.get(f"CarePlan/{made['CLOSED']}", "staff-anna")  # closed last in demo_plans
    moment = latest["meta"]["lastUpdated"]
    after = await fhir.get("CarePlan", "staff-anna", _count="50", _lastUpdated=f"ge{moment}")
    assert [e["resource"]["id"] for e in after["entry"]] == [str(made["CLOSED"])]
    assert "entry" not in await fhir.get("CarePlan", "staff-anna", _lastUpdated=f"gt{moment}")
    response = await fhir.http.get(
        "/fhir/CarePlan",
        params=[("_count", "50"), ("_lastUpdated", f"ge{today}"), ("_lastUpdated", f"lt{moment}")],
        headers={"Authorization": f"Bearer {world.token('staff-anna')}"},
    )
    before_close = {e["resource"]["id"] for e in valid(response.json())["entry"]}
    assert str(made["CLOSED"]) not in before_close and str(made["REVISING"]) in before_close


async def test_practitioners_are_read_as_the_care_teams_they_are_on(fhir: Fhir, world: Service) -> None:
    """Every staff member as a Practitioner, to people in every role and to each organisation's record
    system: there exactly when the caller may read a CareTeam they are on, else a missing id's 404."""
    await demo_plans(world)
    async with world.db.read() as s:
        everyone = list(await s.scalars(select(StaffMember)))
        orgs = [o.hsa_id for o in await s.scalars(select(Organisation))]
    people = [sub for sub in world.provider.identities]
    callers = {sub: world.token(sub) for sub in people}
    callers |= {f"system {h}": world.provider.issue_client_token(f"journal-{h}", h, "system/*.read") for h in orgs}
    missing = str(uuid.uuid4())
    shown_somewhere = refused_somewhere = 0
    for who, token in callers.items():
        headers = {"Authorization": f"Bearer {token}"}
        search = await fhir.http.get("/fhir/CarePlan", params={"_count": "50"}, headers=headers)
        assert search.status_code == 200, (who, search.text)
        expected: set[str] = set()
        for entry in valid(search.json()).get("entry", []):
            team = (await fhir.http.get(f"/fhir/CareTeam/{entry['resource']['id']}", headers=headers)).json()
            for p in valid(team)["participant"]:
                if p["member"].get("type") != "PractitionerRole":
                    continue
                role = await fhir.http.get(f"/fhir/{p['member']['reference']}", headers=headers)
                assert role.status_code == 200, (who, role.text)
                expected.add(ref_id(valid(role.json())["practitioner"], "Practitioner"))
        absent = await fhir.http.get(f"/fhir/Practitioner/{missing}", headers=headers)
        for member in everyone:
            response = await fhir.http.get(f"/fhir/Practitioner/{member.id}", headers=headers)
            if str(member.id) in expected:
                assert response.status_code == 200, (who, member.name)
                assert valid(response.json())["identifier"][0] == {"system": HSA, "value": member.hsa_id}
                shown_somewhere += 1
            else:
                assert response.status_code == absent.status_code == 404, (who, member.name)
                assert response.text.replace(str(member.id), "ID") == absent.text.replace(missing, "ID")
                refused_somewhere += 1
    assert shown_somewhere and refused_somewhere
