"""Contact details on the pages (issue 10, item 5), on the demo data.

Elsa's "Vem kontaktar jag?" names the coordinator first, then the other staff, each with title,
organisation and a large number to tap (tel:), and the organisation with overall responsibility with
its switchboard. Anna's plan page shows each participant's phone and e-mail. The print view, the
patient's copy, holds the personal number (for the patient side and staff, never for a relative),
the plan's version, the day it was printed, the next meeting, the follow-up date and the numbers to
call. axe-core at desktop and 360×640, no sideways scrolling; screenshots test-artifacts/app-contact-*.png.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, async_playwright, expect
from test_app import DESKTOP, Checks, signed_in
from test_no_null import Demo, app_route, demo

from browsing import ARGS, axe_source, chromium
from conftest import GraphQLClient, op

__all__ = ["axe_source", "chromium", "demo"]  # the fixtures

ANNA_TEL = "tel:+46701740605"  # 070-174 06 05, from PTS's range for fiction
JOHAN_TEL = "tel:+46701740608"
ELSA_PNR = "19400312-2388"


async def test_contact_details_on_the_pages(demo: Demo, chromium: str, axe_source: str, gql: GraphQLClient) -> None:
    world, plan = demo.world, demo.plans["Elsa"]
    detail = (await gql(op("PlanDetail"), {"id": plan}, as_="staff-anna"))["plan"]
    version = max(r["number"] for r in detail["revisions"])  # the finalized version, as people count them
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            elsa = await signed_in(browser, world, "Elsa Andersson", checks, viewport=DESKTOP)
            await who_to_call(elsa, world.url, plan, checks)
            await print_view(elsa, world.url, plan, version, checks, patient_side=True)
            per = await signed_in(browser, world, "Per Andersson", checks, viewport=DESKTOP)
            await print_view(per, world.url, plan, version, checks, patient_side=False)
            anna = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await app_route(anna, world.url, f"#/plans/{plan}")
            await anna.locator("#fold-participants").click()
            people = anna.locator("#participant-list")
            elsa_line = people.locator("li").filter(has_text="Elsa Andersson – Patient")
            await expect(elsa_line.locator('a[href="tel:+46701234501"]')).to_have_text("+46701234501")
            await expect(elsa_line.locator('a[href="mailto:elsa.andersson@example.se"]')).to_be_visible()
            johan_line = people.locator("li").filter(has_text="Johan Ek – Personal")
            await expect(johan_line.locator(f'a[href="{JOHAN_TEL}"]')).to_have_text("070-174 06 08")
            await expect(johan_line.locator('a[href="mailto:johan.ek@ekby.example"]')).to_be_visible()
            await checks.shot(anna, "contact-staff-participants")
            await print_view(anna, world.url, plan, version, checks, patient_side=True)
        finally:
            await browser.close()
    checks.verify()


async def who_to_call(page: Page, url: str, plan: str, checks: Checks) -> None:
    await app_route(page, url, f"#/plans/{plan}")
    people = page.locator("#contact-list > li")
    first = people.first
    await expect(first).to_contain_text("Anna Lind, Distriktssköterska")
    await expect(first).to_contain_text("Vårdcentralen Norrbacka – samordnar planen")
    call = first.locator(f'a[href="{ANNA_TEL}"]')
    await expect(call).to_have_text("Ring 070-174 06 05")
    size = float(await call.evaluate("a => parseFloat(getComputedStyle(a).fontSize)"))
    assert size >= 22, size  # large: 1.3 × 18 px
    johan = people.filter(has_text="Johan Ek")
    await expect(johan).to_contain_text("Biståndshandläggare")
    await expect(johan.locator(f'a[href="{JOHAN_TEL}"]')).to_have_text("Ring 070-174 06 08")
    await expect(page.locator("#overall-contact")).to_contain_text("Socialtjänsten Ekby har det övergripande ansvaret.")
    await expect(page.locator("#overall-contact a[href^='tel:+46']")).to_have_count(1)
    await checks.shot(page, "contact-who-to-call")


async def print_view(page: Page, url: str, plan: str, version: int, checks: Checks, *, patient_side: bool) -> None:
    await app_route(page, url, f"#/plans/{plan}/print")
    facts = page.locator("#print-facts")
    if patient_side:
        await expect(facts.locator("#print-pnr dd")).to_have_text(ELSA_PNR)
    else:  # a relative: never the personal number, not even in part
        await expect(facts.locator("#print-pnr")).to_have_count(0)
        assert "19400312" not in await page.locator("main").inner_text()
    await expect(facts.locator("#print-version dd")).to_have_text(str(version))
    await expect(facts.locator("#print-date dd")).to_have_text(re.compile(r"^\d{1,2} \w+ 20\d\d$"))
    await expect(facts.locator("#print-next dd")).to_contain_text(" kl. ")  # the demo's video meeting, soon
    await expect(facts.locator("#print-followup dd")).to_have_text(re.compile(r"^\d{1,2} \w+ 20\d\d$"))
    await expect(page.locator(f'.print-plan a[href="{ANNA_TEL}"]')).to_be_visible()
    name = (await page.locator("#signed-in-name").inner_text()).split()[0].lower()
    await page.emulate_media(media="print")
    await checks.shot(page, f"contact-print-{name}", axe=False, phone=False)
    await page.emulate_media(media="screen")
    await checks.shot(page, f"contact-print-{name}-screen")
