"""A hospital's discharge notice, taken on in Chromium by the unit it names (issue 15).

The region's hospital system posts a "ready for discharge" Task for Birgitta, who has no plan, naming
Vårdcentralen Norrbacka. Anna (a nurse there) finds it in her inbox, opens the plan nobody
coordinates yet, and takes it on as its coordinator in one step; from then on it is hers (her
colleague Omar's inbox no longer shows it) and the checklist no longer says only the coordinator may
finalize. Screenshots: test-artifacts/app-discharge-*.png; axe at desktop and 360×640.
"""

from __future__ import annotations

import httpx
from playwright.async_api import async_playwright, expect
from test_app import DESKTOP, Checks, click, settled, signed_in

from sip_service.kit import clock

from browsing import ARGS, axe_source, chromium
from conftest import GraphQLClient, Service, op

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

TASK_CODE = "urn:sip-tjansten:fhir:CodeSystem:task-code"


async def discharge_items(gql: GraphQLClient, who: str) -> list[str]:
    return [i["planId"] for i in (await gql(op("Inbox"), as_=who))["inbox"]["items"] if i["kind"] == "DISCHARGE"]


async def test_anna_takes_on_the_plan_a_discharge_notice_started(
    world: Service, chromium: str, axe_source: str, gql: GraphQLClient
) -> None:
    token = world.provider.issue_client_token("journal-sjukhus", "SE2321000016-REG", "system/Task.write")
    task = {
        "resourceType": "Task",
        "identifier": [{"system": "urn:oid:1.2.752.29.4.19.sjukhus", "value": "utskr-4711"}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "utskrivningsklar"}]},
        "for": {
            "identifier": {"system": "http://electronichealth.se/identifier/personnummer", "value": "194511305678"}
        },
        "owner": {"identifier": {"system": "urn:oid:1.2.752.29.4.19", "value": "SE2321000016-VCN"}},
        "authoredOn": clock.now().isoformat(),
    }
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        posted = await http.post(
            "/fhir/Task",
            json=task,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        )
    assert posted.status_code == 201, posted.text
    plan_id = posted.json()["focus"]["reference"].removeprefix("CarePlan/")
    assert await discharge_items(gql, "staff-omar") == [plan_id]  # the whole unit's, until someone takes it on

    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            anna = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await settled(anna)
            await click(anna.locator("#nav-inbox"))
            await expect(anna.locator("main")).to_contain_text("Patienten är utskrivningsklar.")
            await checks.shot(anna, "discharge-1-inbox")
            await click(anna.get_by_role("link", name="Plan för Birgitta Olsson").first)
            take_on = anna.locator("#take-on")
            await expect(take_on).to_contain_text("Ingen samordnar den här planen än.")
            await expect(take_on).to_contain_text("sjukhusets meddelande om att patienten är utskrivningsklar")
            await expect(anna.locator("#finalize-reasons")).to_contain_text("samordnare")
            await checks.shot(anna, "discharge-2-nobody-coordinates")
            await click(take_on.get_by_role("button", name="Bli samordnare för planen"))
            await expect(anna.locator("#take-on")).to_have_count(0)
            await settled(anna)
            await expect(anna.locator("#participant-list")).to_contain_text("Anna Lind")
            await expect(anna.locator("#participant-list")).to_contain_text("(samordnare)")
            await expect(anna.locator("#finalize-reasons")).not_to_contain_text("Bara planens samordnare")
            await checks.shot(anna, "discharge-3-taken-on")
        finally:
            await browser.close()
    checks.verify()
    # hers now: the notice's item left her colleague's inbox and stays in hers
    assert await discharge_items(gql, "staff-omar") == []
    assert await discharge_items(gql, "staff-anna") == [plan_id]
