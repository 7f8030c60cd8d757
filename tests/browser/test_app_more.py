"""The plan app's remaining controls, through the page, each checked against what the API then says.

A plan is prepared over the API (Anna's, with Johan from the municipality, Omar, the son Per, a goal,
an action for each organisation and a video meeting with Elsa and Per invited). Then Anna, on the
page: is refused, in plain words, when she changes the municipality's action; changes her own action's
status; removes a goal, an action and a participant (each after a confirm step, one of them by
keyboard alone); reads how each invitation was delivered; issues Elsa's meeting link, copies and
revokes it; moves and cancels the meeting; switches to English and back; and closes the plan with a
reason. axe-core at desktop and phone sizes on each new view; screenshots in test-artifacts/app-2*.png.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from typing import Any

from playwright.async_api import Page, async_playwright, expect
from test_app import DESKTOP, STOCKHOLM, Checks, click, settled, signed_in, unfold

from browsing import ARGS, axe_source, chromium
from conftest import Service, op

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

Gql = Any


async def detail(gql: Gql, plan_id: str) -> dict[str, Any]:
    plan: dict[str, Any] = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    return plan


async def prepare(gql: Gql) -> dict[str, Any]:
    """A draft plan with something of everything, made over the API as the browser would."""
    elsa = (await gql(op("FindPatient"), {"personalNumber": "194003122388"}, as_="staff-anna"))["patient"]
    plan_id = (await gql(op("CreatePlan"), {"input": {"patientId": elsa["id"]}}, as_="staff-anna"))["createPlan"]["id"]
    orgs = {o["name"]: o["id"] for o in (await gql(op("Organisations"), as_="staff-anna"))["organisations"]}
    soc, vcn = orgs["Socialtjänsten Ekby"], orgs["Vårdcentralen Norrbacka"]

    async def staff(org: str, name: str) -> str:
        found = (await gql(op("StaffMembers"), {"organisationId": org}, as_="staff-anna"))["staffMembers"]
        return str(next(s["id"] for s in found if s["name"] == name))

    async def change(name: str, variables: dict[str, Any], as_: str = "staff-anna") -> None:
        version = (await detail(gql, plan_id))["version"]
        result = await gql(op(name), {"planId": plan_id, "expectedVersion": version, **variables}, as_=as_)
        assert "code" not in next(iter(result.values())), result

    await change("AddParticipant", {"input": {"kind": "STAFF", "staffMemberId": await staff(soc, "Johan Ek")}})
    await change("AddParticipant", {"input": {"kind": "STAFF", "staffMemberId": await staff(vcn, "Omar Haddad")}})
    per = {"name": "Per Andersson", "personalNumber": "196805141234", "phone": "+46701234502"}
    await change("AddParticipant", {"input": {"kind": "RELATIVE", "newCitizen": per}})
    participants = (await detail(gql, plan_id))["participants"]
    patient = next(p["id"] for p in participants if p["kind"] == "PATIENT")
    relative = next(p["id"] for p in participants if p["kind"] == "RELATIVE")
    # Elsa chooses Per, so that he may be invited (a relative takes part only as the patient decided)
    await change("RecordRelativesDecision", {"relativeIds": [relative]}, "citizen-elsa")
    await change("AddGoal", {"input": {"text": "Gå i trapporna själv", "expressedById": patient}})
    consent = {"organisationIds": [vcn, soc], "givenById": patient}
    await change("RecordConsent", {"input": consent})  # without it Johan may not see the plan
    await change(
        "AddAction", {"input": {"description": "Hemtjänst morgon", "responsibleOrganisationId": soc}}, "staff-johan"
    )
    await change("AddAction", {"input": {"description": "Blodtryckskontroll", "responsibleOrganisationId": vcn}})
    start = (datetime.now(STOCKHOLM) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    meeting = (
        await gql(
            op("ScheduleMeeting"),
            {
                "planId": plan_id,
                "input": {
                    "kind": "VIDEO",
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(hours=1)).isoformat(),
                },
            },
            as_="staff-anna",
        )
    )["scheduleMeeting"]
    plan = await detail(gql, plan_id)
    invited = [p["id"] for p in plan["participants"] if p["kind"] in ("PATIENT", "RELATIVE")]
    result = await gql(
        op("InviteToMeeting"),
        {
            "meetingId": meeting["id"],
            "expectedVersion": meeting["version"],
            "participantIds": invited,
            "channel": "SMS",
        },
        as_="staff-anna",
    )
    assert "code" not in result["inviteToMeeting"], result
    return {"id": plan_id, "meeting": meeting["id"]}


async def until(check: Any, timeout_s: float = 5.0) -> None:
    """Poll the API until `check()` (async, returns bool) holds."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "the API never showed the change"
        await asyncio.sleep(0.05)


async def deliveries(gql: Gql, plan_id: str) -> dict[str, dict[str, Any]]:
    data = await gql(op("MeetingDeliveries"), {"planId": plan_id}, as_="staff-anna")
    return {i["participantId"]: i["delivery"] for m in data["plan"]["meetings"] for i in m["invitations"]}


def action_item(page: Page, text: str) -> Any:
    return page.locator("#action-groups li").filter(has_text=text)


async def test_close_remove_status_and_meeting_controls(
    world: Service, chromium: str, axe_source: str, gql: Gql
) -> None:
    prepared = await prepare(gql)
    plan_id, meeting_id = prepared["id"], prepared["meeting"]
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            anna = await signed_in(
                browser, world, "Anna Lind", checks, viewport=DESKTOP, timezone_id="America/Sao_Paulo"
            )
            await anna.goto(f"{world.url}/app/#/plans/{plan_id}")
            await expect(anna.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
            await expect(anna.locator("#live-status")).to_have_text("Uppdateras direkt när någon ändrar planen.")
            await story(anna, gql, checks, plan_id, meeting_id)
        finally:
            await browser.close()
    checks.verify()


async def story(anna: Page, gql: Gql, checks: Checks, plan_id: str, meeting_id: str) -> None:
    # -- the municipality's action: Anna may not change it, and is told so plainly
    theirs = action_item(anna, "Hemtjänst morgon")
    await settled(anna)
    await theirs.get_by_label("Status", exact=True).select_option(label="Pågår")
    await click(theirs.get_by_role("button", name="Spara status"))
    await expect(theirs.get_by_role("alert")).to_have_text(
        "Du kan inte ändra den här insatsen. Bara Socialtjänsten Ekby, som ansvarar för den, kan ändra eller ta bort den."
    )
    plan = await detail(gql, plan_id)
    assert {a["description"]: a["status"] for a in plan["actions"]}["Hemtjänst morgon"] == "PLANNED"
    await checks.shot(anna, "21-action-forbidden")

    # -- her own organisation's action: the status changes
    mine = action_item(anna, "Blodtryckskontroll")
    await settled(anna)
    await mine.get_by_label("Status", exact=True).select_option(label="Pågår")
    await click(mine.get_by_role("button", name="Spara status"))

    async def ongoing() -> bool:
        actions = (await detail(gql, plan_id))["actions"]
        return {a["description"]: a["status"] for a in actions}["Blodtryckskontroll"] == "ONGOING"

    await until(ongoing)
    await expect(action_item(anna, "Blodtryckskontroll").locator("p.hint")).to_have_text("Pågår")

    # -- remove a goal: ask, change one's mind (focus goes back), ask again, confirm
    ask_goal = anna.get_by_role("button", name="Ta bort: Gå i trapporna själv")
    await click(ask_goal)
    question = anna.locator("#goal-list .confirm-question")
    await expect(question).to_have_text("Vill du ta bort målet ”Gå i trapporna själv”?")
    await expect(question).to_be_focused()
    await checks.shot(anna, "22-confirm-remove-goal")
    await click(anna.locator("#goal-list").get_by_role("button", name="Avbryt"))
    await expect(ask_goal).to_be_focused()
    assert len((await detail(gql, plan_id))["goals"]) == 1
    await click(ask_goal)
    await click(anna.locator("#goal-list").get_by_role("button", name="Ja, ta bort"))
    await expect(anna.locator("#sec-goals")).to_contain_text("Inga mål ännu.")
    await expect(anna.locator("#h-goals")).to_be_focused()
    assert (await detail(gql, plan_id))["goals"] == []

    # -- remove an action
    await click(anna.get_by_role("button", name="Ta bort: Blodtryckskontroll"))
    await click(action_item(anna, "Blodtryckskontroll").get_by_role("button", name="Ja, ta bort"))
    await expect(anna.locator("#action-groups")).not_to_contain_text("Blodtryckskontroll")
    assert [a["description"] for a in (await detail(gql, plan_id))["actions"]] == ["Hemtjänst morgon"]

    # -- remove a participant, with the keyboard alone (the participants are folded until opened)
    await unfold(anna, "participants")
    await settled(anna)
    await anna.get_by_role("button", name="Ta bort: Omar Haddad").focus()
    await anna.keyboard.press("Enter")
    await expect(anna.locator("#participant-list .confirm-question")).to_be_focused()
    await anna.keyboard.press("Escape")  # changed one's mind: back where one was, nothing removed
    await expect(anna.get_by_role("button", name="Ta bort: Omar Haddad")).to_be_focused()
    await anna.keyboard.press("Enter")
    await expect(anna.locator("#participant-list .confirm-question")).to_be_focused()
    await anna.keyboard.press("Tab")
    await expect(anna.locator("#participant-list").get_by_role("button", name="Ja, ta bort")).to_be_focused()
    await anna.keyboard.press("Enter")
    await expect(anna.locator("#participant-list")).not_to_contain_text("Omar Haddad")
    plan = await detail(gql, plan_id)
    assert "Omar Haddad" not in [p["name"] for p in plan["participants"]]
    # the patient and the only coordinator cannot be removed: no button is offered
    await expect(anna.get_by_role("button", name="Ta bort: Elsa Andersson")).to_have_count(0)
    await expect(anna.get_by_role("button", name="Ta bort: Anna Lind")).to_have_count(0)

    # -- the invitations: how each was delivered, in plain words
    elsa_id = next(p["id"] for p in plan["participants"] if p["kind"] == "PATIENT")
    invitations = anna.locator(f"#invitations-{meeting_id}")
    elsa_line = invitations.locator(f'li[data-participant="{elsa_id}"]')
    await click(anna.get_by_role("button", name="Kontrollera kallelserna igen"))
    delivery = (await deliveries(gql, plan_id))[elsa_id]
    plain = {
        "SENT": r"^Kallelsen är skickad \d",
        "PENDING": r"^Kallelsen (väntar på att skickas|har inte kommit fram än)",
        "FAILED": r"^Kallelsen kunde inte skickas",
        "NOT_SENT": r"^Skickas inte automatiskt",
    }[delivery["status"]]
    await expect(elsa_line.locator(".delivery")).to_have_text(re.compile(plain))
    await expect(elsa_line).to_contain_text("kallad via sms")

    # -- Elsa's personal meeting link: issued, shown to copy, then revoked
    # the invitation by sms carried a link already: a new one replaces it
    await expect(elsa_line.locator(".link-state")).to_contain_text("Den har inte använts än.")
    await click(elsa_line.get_by_role("button", name="Skapa ny möteslänk för Elsa Andersson"))
    link = anna.get_by_label("Möteslänk för Elsa Andersson – kopiera och ge den till hen")
    await expect(link).to_be_focused()
    await expect(link).to_have_value(re.compile(r"^https?://.+#t=.+"))
    meeting = next(m for m in (await detail_meetings(gql, plan_id)) if m["id"] == meeting_id)
    assert elsa_id in [x["participantId"] for x in meeting["inviteLinks"]]
    await click(elsa_line.get_by_role("button", name="Kopiera länken"))
    await expect(anna.locator("#announce")).to_have_text("Länken är kopierad.")
    await expect(elsa_line.locator(".link-state")).to_contain_text("Den har inte använts än.")
    await checks.shot(anna, "23-meeting-link")
    await click(elsa_line.get_by_role("button", name="Stäng av länken för Elsa Andersson"))
    await expect(link).to_have_count(0)
    await expect(elsa_line.get_by_role("button", name="Skapa möteslänk för Elsa Andersson")).to_be_visible()

    async def revoked() -> bool:
        m = next(m for m in (await detail_meetings(gql, plan_id)) if m["id"] == meeting_id)
        return elsa_id not in [x["participantId"] for x in m["inviteLinks"]]

    await until(revoked)

    # -- move the meeting (Stockholm time, whatever the computer's zone)
    moved = (datetime.now(STOCKHOLM) + timedelta(days=2)).replace(hour=14, minute=30, second=0, microsecond=0)
    await click(anna.locator(f"#d-move-{meeting_id} summary"))
    move = anna.locator(f"#move-{meeting_id}")
    await move.get_by_label("Datum").fill(moved.date().isoformat())
    await move.get_by_label("Starttid (svensk tid)").fill("14:30")
    await click(move.get_by_role("button", name="Flytta mötet"))
    await expect(anna.locator("#meeting-list h3").first).to_contain_text("kl. 14:30")
    meeting = next(m for m in (await detail_meetings(gql, plan_id)) if m["id"] == meeting_id)
    assert datetime.fromisoformat(meeting["startsAt"]) == moved

    # -- cancel it, after a confirm step
    await click(anna.get_by_role("button", name="Ställ in mötet"))
    await expect(anna.locator("#meeting-list .confirm-question")).to_be_focused()
    await checks.shot(anna, "24-confirm-cancel-meeting")
    await click(anna.get_by_role("button", name="Ja, ställ in mötet"))
    await expect(anna.locator("#meeting-list h3").first).to_contain_text("(inställt)")
    meeting = next(m for m in (await detail_meetings(gql, plan_id)) if m["id"] == meeting_id)
    assert meeting["status"] == "CANCELLED"

    # -- a draft never finalized has no "close with a reason" (no goals met on a plan never made);
    # in English the small "not needed?" disclosure reads in English; then back to Swedish
    await expect(anna.locator("#sec-close")).to_have_count(0)
    await click(anna.get_by_role("button", name="Byt språk till engelska"))
    await expect(anna.locator("#d-discard summary")).to_have_text("Is the plan not needed?")
    await click(anna.get_by_role("button", name="Change language to Swedish"))
    await expect(anna.locator("#d-discard summary")).to_have_text("Behövs planen inte?")

    # -- put the draft away as not needed, after a confirm step (closing a finalized plan with a
    # reason: tests/browser/test_calm_pages.py)
    await click(anna.locator("#d-discard summary"))
    await click(anna.get_by_role("button", name="Avsluta utkastet"))
    question = anna.locator("#confirm-close-q")
    await expect(question).to_be_focused()
    await expect(question).to_contain_text("Skäl: planen behövs inte.")
    await checks.shot(anna, "25-confirm-close")
    await click(anna.get_by_role("button", name="Ja, avsluta utkastet"))
    await expect(anna.locator(".lead .status")).to_have_text("Status: Avslutad – behövs inte längre")
    await expect(anna.locator("#sec-checklist")).to_contain_text("Planen är avslutad.")
    await expect(anna.get_by_role("button", name=re.compile("^Ta bort"))).to_have_count(0)
    plan = await detail(gql, plan_id)
    assert (plan["status"], plan["closeReason"]) == ("CLOSED", "NO_LONGER_NEEDED")
    await checks.shot(anna, "26-closed")


async def detail_meetings(gql: Gql, plan_id: str) -> list[dict[str, Any]]:
    """The meetings with their invite links (MeetingCore, as the meeting mutations return them)."""
    plan = await gql(op("AppPlanPage"), {"id": plan_id, "language": "SV"}, as_="staff-anna")
    meetings: list[dict[str, Any]] = plan["plan"]["meetings"]
    return meetings
