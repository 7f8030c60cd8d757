"""The staff inbox page ("Att göra", web/js/inbox.js) in Chromium, as Johan (municipal care planner)
meets it: consent first, then the plan waits for him as new.

Anna (health centre) made Elsa's plan and added Johan; Elsa's consent does not cover his
organisation yet. Per's plan (consent for both) has an action of Johan's due tomorrow, a meeting he
is invited to and a discharge notice. Johan's header and start page count what is new; his inbox
shows Per's plan and nothing of Elsa's. Once Elsa's consent covers him, Elsa's plan is there as
new. He marks the action read, opens Elsa's plan (no longer new), then marks the rest read, and
turns his daily e-mail off and on. Each
step is checked against what the API says; axe at desktop and 360×640, no sideways scroll.
Screenshots: test-artifacts/app-inbox-*.png.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import Page, async_playwright, expect
from test_app import DESKTOP, Checks, click, settled, signed_in

from browsing import ARGS, axe_source, chromium
from conftest import GraphQLClient, Service, op
from helpers import busy_plan, consent_for_both, plan_added_to

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)


async def johans_inbox(gql: GraphQLClient) -> dict[str, Any]:
    return dict((await gql(op("Inbox"), as_="staff-johan"))["inbox"])


async def showing_inbox(page: Page) -> None:
    await expect(page.locator('main[data-route="#/inbox"]')).to_have_count(1)
    await settled(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Att göra")


def nav_inbox(page: Page) -> Any:
    return page.locator("#nav-inbox")


async def test_johan_finds_the_plan_in_his_inbox_once_consent_covers_him(
    world: Service, chromium: str, axe_source: str, gql: GraphQLClient
) -> None:
    elsa_plan = await plan_added_to(world, consent=False)
    per_plan = await busy_plan(world, patient="Per")
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            johan = await signed_in(browser, world, "Johan Ek", checks, viewport=DESKTOP)
            await before_consent(johan, world, gql, checks, elsa_plan, per_plan)
            await after_consent(johan, world, gql, checks, elsa_plan)
        finally:
            await browser.close()
    checks.verify()


async def before_consent(
    johan: Page, world: Service, gql: GraphQLClient, checks: Checks, elsa_plan: uuid.UUID, per_plan: uuid.UUID
) -> None:
    box = await johans_inbox(gql)
    assert box["unread"] == 4, box  # Per's plan is new to him; his action, the meeting, the discharge
    await settled(johan)
    await expect(nav_inbox(johan)).to_have_text("Att göra 4 nya")
    await expect(johan.locator("#queue-inbox")).to_have_text("Du har 4 nya saker att göra. Visa Att göra")
    await checks.shot(johan, "inbox-1-start")
    await click(nav_inbox(johan))
    await showing_inbox(johan)
    main = johan.locator("main")
    await expect(johan.locator("#inbox-summary")).to_have_text("4 nya av 4.")
    await expect(main).not_to_contain_text("Elsa")  # consent first: nothing of her plan reaches Johan
    await expect(johan.locator(f'a[href="#/plans/{elsa_plan}"]')).to_have_count(0)
    sections = johan.locator("main section h2")
    await expect(sections).to_have_text(
        [
            "Utskrivning – kalla till SIP-möte (1)",
            "Nya planer (1)",
            "Insatser som ska vara klara snart (1)",
            "Möten du är kallad till (1)",
            "E-post när något nytt väntar",
        ]
    )
    action = johan.locator("#inbox-ACTION li")
    await expect(action).to_contain_text("Ny")
    await expect(action).to_contain_text("”Insats om 1 dagar” ska vara klar")
    await expect(action).to_contain_text("Ansvarig: Johan Ek")
    await expect(action.get_by_role("link", name="Plan för Per Andersson")).to_have_attribute(
        "href", f"#/plans/{per_plan}"
    )
    await expect(johan.locator("#inbox-DISCHARGE li")).to_contain_text("Kalla till SIP-möte senast")
    await expect(johan.locator("#inbox-NEW_PLAN li")).to_contain_text("Du är med i planen och har inte öppnat den än.")
    await checks.shot(johan, "inbox-2-before-consent")


async def after_consent(johan: Page, world: Service, gql: GraphQLClient, checks: Checks, elsa_plan: uuid.UUID) -> None:
    async with world.db.write() as s:
        await consent_for_both(s, world, elsa_plan)
    await johan.reload()
    await showing_inbox(johan)
    await expect(nav_inbox(johan)).to_have_text("Att göra 5 nya")
    elsa = johan.locator("#inbox-NEW_PLAN li").filter(has_text="Elsa Andersson")
    await expect(elsa).to_contain_text("Ny")
    await expect(elsa.get_by_role("link", name="Plan för Elsa Andersson")).to_have_attribute(
        "href", f"#/plans/{elsa_plan}"
    )
    await checks.shot(johan, "inbox-3-after-consent")

    # he marks his action read: it stays, without "Ny"; the count goes down
    action = johan.locator("#inbox-ACTION li")
    await click(action.get_by_role("button", name=re.compile("^Markera som läst")))
    await expect(action.get_by_role("button")).to_have_count(0)
    await expect(action.locator(".new-label")).to_have_count(0)
    await expect(nav_inbox(johan)).to_have_text("Att göra 4 nya")
    await expect(action.get_by_role("link")).to_be_focused()  # the keyboard stays where it was
    assert [i["read"] for i in (await johans_inbox(gql))["items"] if i["kind"] == "ACTION"] == [True]

    # opening Elsa's plan makes it no longer new
    await click(elsa.get_by_role("link", name="Plan för Elsa Andersson"))
    await expect(johan.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
    await settled(johan)
    await expect(nav_inbox(johan)).to_have_text("Att göra 3 nya")
    await click(nav_inbox(johan))
    await showing_inbox(johan)
    await expect(johan.locator("main")).not_to_contain_text("Elsa")
    assert str(elsa_plan) not in str([i for i in (await johans_inbox(gql))["items"] if i["kind"] == "NEW_PLAN"])

    # and the rest, all at once
    await click(johan.get_by_role("button", name="Markera alla som lästa"))
    await expect(johan.locator("#inbox-summary")).to_have_text("Du har sett allt. 3 saker att göra.")
    await expect(nav_inbox(johan)).to_have_text("Att göra")
    await expect(johan.locator("main .new-label")).to_have_count(0)
    await checks.shot(johan, "inbox-4-all-read")
    assert (await johans_inbox(gql))["unread"] == 0

    # the daily e-mail: on, to his work e-mail; he turns it off, and on again
    receive = johan.get_by_label(re.compile("^Skicka ett brev till johan.ek@ekby.example"))
    await expect(receive).to_be_checked()
    await receive.uncheck()
    await expect(johan.locator("#digest-status")).to_have_text("Sparat.")
    assert (await johans_inbox(gql))["digest"]["receives"] is False
    await johan.locator("#inbox-digest").scroll_into_view_if_needed()
    await checks.shot(johan, "inbox-5-digest-off")
    await receive.check()
    await expect(johan.locator("#digest-status")).to_have_text("Sparat.")
    assert (await johans_inbox(gql))["digest"]["receives"] is True

    # the same page in English
    await click(johan.get_by_role("button", name="Byt språk till engelska"))
    await expect(johan.get_by_role("heading", level=1)).to_have_text("To do")
    await expect(johan.locator("#inbox-summary")).to_have_text("You have seen everything. 3 things to do.")
    await settled(johan)
    await checks.shot(johan, "inbox-6-english", phone=False)
