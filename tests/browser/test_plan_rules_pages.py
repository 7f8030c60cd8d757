"""The plan pages follow the service's domain rules, so that staff meet no dead end (issue 10).

Anna tries to create a second plan for Elsa: the page warns, in its language, and links to the open
plan, which she follows. There she opens the invitation form: Elsa has not decided about her son
Per, so he cannot be ticked and the page says why. Elsa, on her phone, chooses Per; Anna's form then
offers him, not ticked in advance. A saved goal shows a visible "Sparat." and its form closes empty.
On Gustav's plan Anna removes the god man Maria, who has attended a meeting, after a confirm step
that says what removing means: "Tidigare deltagare" then shows her, and her history stays. Removing
Johan, responsible for an open action, is refused with the service's reason beside the control.
Each step is checked against what the API then says. Screenshots: test-artifacts/app-rules-*.png.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from playwright.async_api import Page, async_playwright, expect
from test_app import DESKTOP, STOCKHOLM, Checks, click, settled, signed_in, unfold

from browsing import ARGS, axe_source, chromium
from conftest import Service, op

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

Gql = Any
PHONE_390 = {"width": 390, "height": 844}
ELSA, PER, GUSTAV, MARIA = "194003122388", "196805141234", "193709213456", "197512034567"


async def detail(gql: Gql, plan_id: str) -> dict[str, Any]:
    plan: dict[str, Any] = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    return plan


async def citizen(gql: Gql, personal_number: str) -> str:
    found = await gql(op("FindPatient"), {"personalNumber": personal_number}, as_="staff-anna")
    return str(found["patient"]["id"])


async def change(gql: Gql, plan_id: str, name: str, variables: dict[str, Any], as_: str = "staff-anna") -> None:
    version = (await detail(gql, plan_id))["version"]
    result = await gql(op(name), {"planId": plan_id, "expectedVersion": version, **variables}, as_=as_)
    assert "code" not in next(iter(result.values())), result


async def meeting(gql: Gql, plan_id: str, kind: str, *, soon: bool = False) -> dict[str, Any]:
    start = (datetime.now(STOCKHOLM) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    if soon:  # attendance can be attested from shortly before a meeting starts
        start = (datetime.now(STOCKHOLM) + timedelta(minutes=5)).replace(second=0, microsecond=0)
    variables = {
        "planId": plan_id,
        "input": {"kind": kind, "startsAt": start.isoformat(), "endsAt": (start + timedelta(hours=1)).isoformat()},
    }
    if kind != "VIDEO":
        variables["input"]["location"] = "Vårdcentralen Norrbacka, rum 4"
    result: dict[str, Any] = (await gql(op("ScheduleMeeting"), variables, as_="staff-anna"))["scheduleMeeting"]
    assert "code" not in result, result
    return result


async def organisations(gql: Gql) -> dict[str, str]:
    return {o["name"]: o["id"] for o in (await gql(op("Organisations"), as_="staff-anna"))["organisations"]}


async def johan(gql: Gql, soc: str) -> str:
    found = (await gql(op("StaffMembers"), {"organisationId": soc}, as_="staff-anna"))["staffMembers"]
    return str(next(s["id"] for s in found if s["name"] == "Johan Ek"))


async def elsas_plan(gql: Gql) -> str:
    """Elsa's open plan: her son Per added, not yet decided about by Elsa; a video meeting booked."""
    plan_id = (await gql(op("CreatePlan"), {"input": {"patientId": await citizen(gql, ELSA)}}, as_="staff-anna"))[
        "createPlan"
    ]["id"]
    await change(gql, plan_id, "AddParticipant", {"input": {"kind": "RELATIVE", "citizenId": await citizen(gql, PER)}})
    await meeting(gql, plan_id, "VIDEO")
    return str(plan_id)


async def gustavs_plan(gql: Gql) -> str:
    """Gustav's plan with Johan (responsible for an open action) and the god man Maria, who attended."""
    orgs = await organisations(gql)
    soc = orgs["Socialtjänsten Ekby"]
    plan_id = str(
        (await gql(op("CreatePlan"), {"input": {"patientId": await citizen(gql, GUSTAV)}}, as_="staff-anna"))[
            "createPlan"
        ]["id"]
    )
    await change(gql, plan_id, "AddParticipant", {"input": {"kind": "STAFF", "staffMemberId": await johan(gql, soc)}})
    maria = {
        "kind": "REPRESENTATIVE",
        "citizenId": await citizen(gql, MARIA),
        "representativeKind": "GOD_MAN",
        "role": "God man",
    }
    await change(gql, plan_id, "AddParticipant", {"input": maria})
    await change(gql, plan_id, "AddAction", {"input": {"description": "Hemtjänst", "responsibleOrganisationId": soc}})
    m = await meeting(gql, plan_id, "IN_PERSON", soon=True)
    maria_id = next(p["id"] for p in (await detail(gql, plan_id))["participants"] if p["kind"] == "REPRESENTATIVE")
    invited = await gql(
        op("InviteToMeeting"),
        {"meetingId": m["id"], "expectedVersion": m["version"], "participantIds": [maria_id], "channel": "LETTER"},
        as_="staff-anna",
    )
    assert "code" not in invited["inviteToMeeting"], invited
    version = invited["inviteToMeeting"]["version"]
    attested = await gql(
        op("AttestAttendance"),
        {"meetingId": m["id"], "expectedVersion": version, "participantId": maria_id},
        as_="staff-anna",
    )
    assert "code" not in attested["attestAttendance"], attested
    return plan_id


def invite_form(page: Page) -> Any:
    return page.locator("#meeting-list form[id^=inv-]")


async def test_the_plan_pages_follow_the_domain_rules(world: Service, chromium: str, axe_source: str, gql: Gql) -> None:
    elsa_plan = await elsas_plan(gql)
    gustav_plan = await gustavs_plan(gql)
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            anna = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await second_plan(anna, world, gql, checks, elsa_plan)
            await relatives(anna, browser, world, gql, checks, elsa_plan)
            await saving(anna, gql, checks, elsa_plan)
            await removing(anna, world, gql, checks, gustav_plan)
        finally:
            await browser.close()
    checks.verify()


async def second_plan(anna: Page, world: Service, gql: Gql, checks: Checks, elsa_plan: str) -> None:
    await anna.goto(f"{world.url}/app/#/new")
    await settled(anna)
    await anna.get_by_label("Personnummer (12 siffror)").fill(ELSA)
    await click(anna.get_by_role("button", name="Sök"))
    await expect(anna.get_by_text("Patient: Elsa Andersson")).to_be_visible()
    await click(anna.get_by_role("button", name="Skapa planen"))
    warning = anna.locator("#open-plan-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("Patienten har redan en öppen plan.")  # the service's words, in Swedish
    await expect(warning.get_by_role("button", name="Skapa en till ändå")).to_be_visible()
    link = warning.get_by_role("link", name="Öppna den planen")
    await expect(link).to_have_attribute("href", f"#/plans/{elsa_plan}")
    await checks.shot(anna, "rules-1-second-plan")
    plans = (await gql(op("Plans"), {"first": 50}, as_="staff-anna"))["plans"]["nodes"]
    assert [p["id"] for p in plans if p["patient"]["name"] == "Elsa Andersson"] == [elsa_plan]  # nothing made
    await click(link)
    await expect(anna.locator(f'main[data-route="#/plans/{elsa_plan}"]')).to_have_count(1)
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")


async def relatives(anna: Page, browser: Any, world: Service, gql: Gql, checks: Checks, elsa_plan: str) -> None:
    plan = await detail(gql, elsa_plan)
    per = next(p for p in plan["participants"] if p["kind"] == "RELATIVE")
    meeting_id = plan["meetings"][0]["id"]
    box = anna.locator(f"#inv-{meeting_id}-{per['id']}")
    await settled(anna)
    await expect(box).to_be_disabled()
    await expect(box).not_to_be_checked()
    await expect(invite_form(anna)).to_contain_text(
        "Patienten har inte valt ännu om Per Andersson ska vara med. Hen kan kallas när patienten har valt."
    )
    await invite_form(anna).scroll_into_view_if_needed()
    await checks.shot(anna, "rules-2-per-not-chosen")

    # Elsa, on her phone, chooses Per
    elsa = await signed_in(browser, world, "Elsa Andersson", checks, viewport=PHONE_390, is_mobile=True)
    await elsa.goto(f"{world.url}/app/#/plans/{elsa_plan}")
    await expect(elsa.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
    await settled(elsa)
    await elsa.get_by_label("Per Andersson").check()
    await click(elsa.get_by_role("button", name="Spara mitt val"))
    await expect(elsa.locator("#sec-relatives [role=status]")).to_have_text("Sparat.")
    await expect(elsa.locator("#sec-relatives")).to_contain_text("Du bestämde")
    await expect(elsa.get_by_label("Per Andersson")).to_be_checked()  # the form shows what was saved
    await checks.shot(elsa, "rules-3-elsa-chose-per")
    assert next(p for p in (await detail(gql, elsa_plan))["participants"] if p["kind"] == "RELATIVE")["wantedByPatient"]
    await elsa.context.close()

    # Anna's page (live): Per may now be ticked, and is not ticked for her
    await expect(box).to_be_enabled()
    await expect(box).not_to_be_checked()
    await expect(invite_form(anna)).not_to_contain_text("har inte valt ännu")
    await invite_form(anna).scroll_into_view_if_needed()
    await checks.shot(anna, "rules-4-per-offered")


async def saving(anna: Page, gql: Gql, checks: Checks, plan_id: str) -> None:
    section = anna.locator("#sec-goals")
    await click(section.locator("#d-add-goal summary"))
    await section.get_by_label("Målet med patientens egna ord").fill("Kunna gå till affären")
    await click(section.get_by_role("button", name="Lägg till mål"))
    await expect(section.get_by_role("status")).to_have_text("Sparat.")
    await expect(section.locator("#d-add-goal")).not_to_have_attribute("open", "")
    await expect(section.locator("#goal-list")).to_contain_text("Kunna gå till affären")
    await checks.shot(anna, "rules-5-saved")
    await click(section.locator("#d-add-goal summary"))
    await expect(section.get_by_label("Målet med patientens egna ord")).to_have_value("")
    assert [g["text"] for g in (await detail(gql, plan_id))["goals"]] == ["Kunna gå till affären"]


async def removing(anna: Page, world: Service, gql: Gql, checks: Checks, plan_id: str) -> None:
    await anna.goto(f"{world.url}/app/#/plans/{plan_id}")
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Plan för Gustav Nilsson")
    participants = anna.locator("#participant-list")
    await unfold(anna, "participants")

    # the god man Maria, who attended: ask first, saying what it means, then remove
    await click(anna.get_by_role("button", name="Ta bort: Maria Svensson"))
    question = participants.locator(".confirm-question")
    await expect(question).to_be_focused()
    await expect(question).to_contain_text("Maria Svensson")
    await expect(question).to_contain_text("slutar fungera")
    await expect(question).to_contain_text("historik")
    await checks.shot(anna, "rules-6-confirm-remove")
    await click(participants.get_by_role("button", name="Ja, ta bort"))
    await expect(participants).not_to_contain_text("Maria Svensson")
    removed = anna.locator("#removed-participants")
    await expect(removed).to_contain_text("Maria Svensson")
    await expect(anna.locator("#sec-participants")).to_contain_text("Tidigare deltagare")
    plan = await detail(gql, plan_id)
    assert [p["name"] for p in plan["removedParticipants"]] == ["Maria Svensson"]
    assert any(a for m in plan["meetings"] for a in m["attendances"])  # her attendance stays in the history

    # Johan is responsible for an open action: refused, the reason beside the control
    await click(anna.get_by_role("button", name="Ta bort: Johan Ek"))
    await click(participants.get_by_role("button", name="Ja, ta bort"))
    refusal = participants.get_by_role("alert")
    await expect(refusal).to_contain_text(re.compile("insats", re.I))
    await expect(participants).to_contain_text("Johan Ek")
    await refusal.scroll_into_view_if_needed()
    await checks.shot(anna, "rules-7-removal-refused")
    assert "Johan Ek" in [p["name"] for p in (await detail(gql, plan_id))["participants"]]


async def test_adding_staff_the_consent_does_not_cover_says_so(
    world: Service, chromium: str, axe_source: str, gql: Gql
) -> None:
    """Anna adds Johan (Socialtjänsten Ekby) to a fresh plan for Elsa without consent: the page says
    at once that he can see the plan only once Elsa's consent covers his organisation."""
    created = await gql(
        op("CreatePlan"),
        {"input": {"patientId": await citizen(gql, ELSA), "allowAnotherOpenPlan": True}},
        as_="staff-anna",
    )
    plan_id = str(created["createPlan"]["id"])
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            anna = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await anna.goto(f"{world.url}/app/#/plans/{plan_id}")
            section = anna.locator("#sec-participants")
            await unfold(anna, "participants")
            await click(section.locator("#d-add-staff summary"))
            await section.locator("#sec-staff-org").select_option(label="Socialtjänsten Ekby")
            await expect(section.locator("#sec-staff-person option", has_text="Johan Ek")).to_have_count(1)
            soc = (await organisations(gql))["Socialtjänsten Ekby"]
            await section.locator("#sec-staff-person").select_option(value=await johan(gql, soc))
            await click(section.locator("#sec-staff button[type=submit]"))
            note = section.locator("#participant-list .awaiting-consent")
            await expect(note).to_have_text(
                "Johan Ek (Socialtjänsten Ekby) kan se planen först när patientens samtycke omfattar "
                "Socialtjänsten Ekby. Be patienten om samtycke."
            )
            await checks.shot(anna, "rules-consent-awaited")
        finally:
            await browser.close()
    checks.verify()
    plan = await detail(gql, plan_id)
    assert plan["organisationsAwaitingConsent"] == [(await organisations(gql))["Socialtjänsten Ekby"]]
