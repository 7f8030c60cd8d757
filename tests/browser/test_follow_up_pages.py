"""A follow-up in the browser, on the demo data: the nurse (Anna, desktop) records one on Elsa's active
plan after the follow-up meeting held an hour ago: she describes the goal's scale with Elsa, rates it
with one of five choices labelled in those words, writes Elsa's words, marks the actions and sets the
next date; the plan's history shows it. Then Elsa, on her phone (390×844), reads "Hur det har gått" in
plain words ("<Month> <year>: Lite bättre än vi hoppades", her own words), not numbers and not the
staff's wording; the print view shows the latest follow-up; her son Per reads the same about her, in
English. axe-core finds nothing serious on any of
it. Screenshots: test-artifacts/follow-up-*.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, async_playwright, expect
from test_no_null import SERIOUS, SIZES, Demo, app_route, demo

from browsing import ARGS, ARTIFACTS, RUN_AXE, axe_source, chromium
from conftest import GraphQLClient, op

__all__ = ["axe_source", "chromium", "demo"]  # the fixtures (browsing.py, test_no_null.py)

LEVELS = {
    "muchLess": "Kommer inte ut alls",
    "less": "Kommer ut med hjälp någon gång i veckan",
    "expected": "Går till affären själv varje vecka",
    "more": "Går till affären och på promenad flera gånger i veckan",
    "muchMore": "Går själv till träffpunkten också",
}
WORDS = "Jag har gått till affären själv varje vecka, och ut med grannen."
# the staff's words and numbers: never on the patient's page
STAFF_ONLY = ["förväntat", "Förväntad nivå", "+1", "−1", "Uppföljning ", "Inskriven av", "Bedöms inte"]


async def axe_clean(page: Page, axe: str, where: str) -> list[str]:
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe)
    return [
        f"{where}: axe {v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in await page.evaluate(RUN_AXE)
        if v["impact"] in SERIOUS
    ]


async def sign_in(page: Page, url: str, name: str) -> None:
    await page.goto(f"{url}/auth/login?next=/app/")
    await page.get_by_role("button", name=re.compile(name)).click()
    await page.wait_for_url(re.compile(r"/app/"))
    await expect(page.locator("#signed-in-name")).to_have_text(name)


async def test_a_nurse_records_a_follow_up_and_the_patient_reads_how_it_went(
    demo: Demo, gql: GraphQLClient, chromium: str, axe_source: str
) -> None:
    url, plan_id = demo.world.url, demo.plans["Elsa"]
    # the follow-up meeting, in person, an hour ago
    start = datetime.now(UTC) - timedelta(hours=1, minutes=30)
    meeting = {
        "kind": "IN_PERSON",
        "purpose": "FOLLOW_UP",
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(hours=1)).isoformat(),
        "location": "Vårdcentralen Norrbacka, rum 12",
    }
    scheduled = await gql(op("ScheduleMeeting"), {"planId": plan_id, "input": meeting}, as_="staff-anna")
    assert scheduled["scheduleMeeting"]["id"], scheduled
    before = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    assert before["status"] == "ACTIVE"
    found: list[str] = []

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            # -- the nurse, at her desk
            context = await browser.new_context(locale="sv-SE", viewport=SIZES["desktop"])
            page = await context.new_page()
            page.on("pageerror", lambda error: found.append(f"staff: page error: {error}"))
            await sign_in(page, url, "Anna Lind")
            await app_route(page, url, f"#/plans/{plan_id}")
            fold = page.locator("#fold-followups")
            if await fold.get_attribute("aria-expanded") != "true":
                await fold.click()
            await page.locator("#d-record-followup > summary").click()
            form = page.locator("#sec-fu")
            await expect(form.locator("#sec-fu-meeting")).to_have_value(re.compile(".+"))  # the meeting, chosen
            goals = form.locator("fieldset.rate-goal")
            count = await goals.count()
            assert count == len(before["goals"]) >= 1
            for i in range(count):
                goal = goals.nth(i)
                for level, text in LEVELS.items():  # the scale, described with Elsa where it is not yet
                    box = goal.locator(f"input[id$='-level-{level}']")
                    if await box.count():
                        await box.fill(text)
                if i == 0:  # five choices, labelled in the goal's own words
                    await expect(goal.locator("input[type=radio]")).to_have_count(6)
                    await goal.get_by_label(re.compile(re.escape(LEVELS["more"]))).check()
                    await goal.locator("textarea").fill(WORDS)
                else:
                    await goal.get_by_label(re.compile("^Bedöms inte nu")).check()
            actions = form.locator("fieldset.review-action")
            for i in range(await actions.count()):
                await actions.nth(i).get_by_label(re.compile("^Klar" if i == 0 else "^Fortsätter")).check()
            await page.screenshot(path=ARTIFACTS / "follow-up-staff-form.png", full_page=True)
            found += await axe_clean(page, axe_source, "staff form")
            await form.get_by_role("button", name="Spara uppföljningen").click()
            await expect(page.locator(".saved-note")).to_have_text("Sparat.")
            history = page.locator("#followup-list > li").first
            await expect(history).to_contain_text("Inskriven av Anna Lind")
            await expect(history).to_contain_text("+1 Lite bättre än vi hoppades")
            await expect(history).to_contain_text(WORDS)
            await history.scroll_into_view_if_needed()
            await page.screenshot(path=ARTIFACTS / "follow-up-staff-history.png", full_page=True)
            found += await axe_clean(page, axe_source, "staff history")
            await context.close()

            after = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
            assert after["status"] == "ACTIVE" and len(after["followUps"]) == len(before["followUps"]) + 1
            assert after["followUpDate"] != before["followUpDate"]

            # -- the patient, on her phone
            context = await browser.new_context(locale="sv-SE", viewport=SIZES["phone"], is_mobile=True, has_touch=True)
            page = await context.new_page()
            page.on("pageerror", lambda error: found.append(f"patient: page error: {error}"))
            await sign_in(page, url, "Elsa Andersson")
            await app_route(page, url, f"#/plans/{plan_id}")
            progress = page.locator("#sec-progress")
            await expect(progress.locator("h2")).to_have_text("Hur det har gått")
            item = progress.locator(".progress-item").last
            await expect(item).to_contain_text(re.compile(r"^[A-ZÅÄÖ][a-zåäö]+ \d{4}: Lite bättre än vi hoppades"))
            await expect(item).to_contain_text(LEVELS["more"])
            await expect(item).to_contain_text(f"Du sa: ”{WORDS}”")
            await progress.scroll_into_view_if_needed()
            await page.screenshot(path=ARTIFACTS / "follow-up-patient-phone.png")
            await page.screenshot(path=ARTIFACTS / "follow-up-patient-phone-full.png", full_page=True)
            text = await progress.inner_text()
            found += [f"patient page: staff wording {w!r}" for w in STAFF_ONLY if w in text]
            size = await item.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
            if size < 17:
                found.append(f"patient page: 'how it went' in {size}px, not large")
            wide = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if wide > 0:
                found.append(f"patient page: {wide}px wider than the phone")
            found += await axe_clean(page, axe_source, "patient page")
            await app_route(page, url, f"#/plans/{plan_id}/print")
            await expect(page.locator("#print-latest-followup")).to_contain_text("Lite bättre än vi hoppades")
            await page.screenshot(path=ARTIFACTS / "follow-up-patient-print.png", full_page=True)
            found += await axe_clean(page, axe_source, "print view")
            await context.close()

            # -- her son Per, whom she wants to take part, reads about her, in English
            context = await browser.new_context(locale="sv-SE", viewport=SIZES["phone"], is_mobile=True, has_touch=True)
            page = await context.new_page()
            page.on("pageerror", lambda error: found.append(f"relative: page error: {error}"))
            await sign_in(page, url, "Per Andersson")
            await page.get_by_role("button", name="Byt språk till engelska").click()
            await app_route(page, url, f"#/plans/{plan_id}")
            progress = page.locator("#sec-progress")
            await expect(progress.locator("h2")).to_have_text("How it has gone")
            item = progress.locator(".progress-item").last
            await expect(item).to_contain_text(re.compile(r"^[A-Z][a-z]+ \d{4}: A little better than we hoped"))
            await expect(item).to_contain_text(f"Elsa Andersson said: “{WORDS}”")
            await progress.scroll_into_view_if_needed()
            await page.screenshot(path=ARTIFACTS / "follow-up-relative-phone-en.png")
            found += await axe_clean(page, axe_source, "relative page")
            await context.close()
        finally:
            await browser.close()
    assert not found, "\n".join(found)
