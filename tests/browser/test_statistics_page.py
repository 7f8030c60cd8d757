"""The statistics page (web/js/statistics.js) in Chromium, as Maja (the region's manager) meets it
on a desktop and on a phone (390×844): the header links to it, every table under a chart shows
exactly what the API answers ("< 5" where hidden), a filter (a unit, a range of months) shows that
unit's cells, the CSV download is the API's CSV, and she turns the monthly e-mail on. Anna (no
manager) has no link and no figures. axe at each step; no sideways scrolling; screenshots in
test-artifacts/app-statistics-*.png."""

from __future__ import annotations

import math
import re
from typing import Any

from playwright.async_api import Page, async_playwright, expect
from test_app import DESKTOP, Checks, click, settled, signed_in

from sip_service import demo

from browsing import ARGS, ARTIFACTS, axe_source, chromium
from conftest import GraphQLClient, Service, op

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

PHONE_390 = {"width": 390, "height": 844}


def _count(v: Any) -> str:
    return "< 5" if v is None else str(v)


def _pct(v: Any) -> str:
    return "–" if v is None else f"{math.floor(v * 100 + 0.5)} %"  # as Math.round: halves up


async def _api(gql: GraphQLClient, **variables: Any) -> dict[str, Any]:
    variables = {"view": "CARE_GIVER", **variables}
    return dict((await gql(op("Statistics"), variables, as_="staff-maja"))["statistics"])


async def _showing(page: Page) -> None:
    await expect(page.locator('main[data-route="#/statistics"]')).to_have_count(1)
    await settled(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Statistik")


async def _tables_match(page: Page, answer: dict[str, Any]) -> None:
    """Every month row and year row of the plans', meetings' and follow-ups' tables, as the API says."""
    chosen = answer["nodes"][0]["key"]
    by_period = {f["period"]: f for f in answer["figures"] if f["node"] == chosen}
    periods = answer["months"] + answer["years"]
    expected_plans = [[_count(by_period[p][k]) for k in ("started", "finalized", "closed")] for p in periods]
    expected_meetings = [
        [_count(by_period[p]["meetings"]), _pct(by_period[p]["patientShare"]), _pct(by_period[p]["relativesShare"])]
        for p in periods
    ]
    expected_follow = [[_count(by_period[p]["followUps"]), _pct(by_period[p]["followUpOnTimeShare"])] for p in periods]
    for table, expected in (
        ("#stats-plans-table", expected_plans),
        ("#stats-meetings-table", expected_meetings),
        ("#stats-followups-table", expected_follow),
    ):
        rows = page.locator(f"{table} tbody tr, {table} tfoot tr")
        await expect(rows).to_have_count(len(periods))
        shown = [[c.strip() for c in await rows.nth(i).locator("td").all_inner_texts()] for i in range(len(periods))]
        assert shown == expected, (table, shown, expected)


async def test_a_manager_reads_the_statistics_on_desktop_and_phone(
    world: Service, chromium: str, axe_source: str, gql: GraphQLClient
) -> None:
    await demo.history(world.db)
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            anna = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await expect(anna.locator("#nav-statistics")).to_have_count(0)
            await anna.goto(f"{world.url}/app/#/statistics")
            await _showing(anna)
            await expect(anna.get_by_role("alert")).to_have_text("Du har inte tillgång till statistiken.")

            maja = await signed_in(browser, world, "Maja Ström", checks, viewport=DESKTOP, accept_downloads=True)
            await click(maja.locator("#nav-statistics"))
            await _showing(maja)
            answer = await _api(gql)
            await expect(maja.locator("#statistics-shown")).to_contain_text("Region Sörmark")
            await _tables_match(maja, answer)
            assert "< 5" in await maja.locator("main").inner_text()  # small cells are hidden, visibly
            await expect(maja.locator("main canvas")).to_have_count(6)
            await checks.shot(maja, "statistics-1-region")
            for section in ("plans", "meetings", "gas", "units"):  # closer looks, for the eye
                await maja.locator(f"#stats-{section}").screenshot(path=ARTIFACTS / f"app-statistics-{section}.png")

            # the CSV is the API's, suppression and all
            async with maja.expect_download() as download_info:
                await click(maja.get_by_role("button", name="Ladda ner som CSV"))
            download = await download_info.value
            path = await download.path()
            assert path is not None
            assert path.read_bytes().decode("utf-8-sig") == answer["csv"]

            # one unit, three months
            lindo = next(n for n in answer["nodes"] if n["name"] == "Vårdcentralen Lindö")
            months = answer["months"]
            await maja.get_by_label("Organisation eller enhet").select_option(lindo["key"])
            await maja.get_by_label("Från månad").select_option(months[-3])
            await maja.get_by_label("Till och med månad").select_option(months[-1])
            await click(maja.get_by_role("button", name="Visa statistiken"))
            await _showing(maja)
            await expect(maja.locator("#statistics-shown")).to_contain_text("Vårdcentralen Lindö")
            unit = await _api(gql, node=lindo["key"], firstMonth=months[-3], lastMonth=months[-1])
            assert unit["months"] == months[-3:]
            await _tables_match(maja, unit)
            await checks.shot(maja, "statistics-2-unit")

            # the monthly e-mail, on
            receive = maja.get_by_label(re.compile("^Skicka förra månadens statistik till maja.strom@sormark.example"))
            await expect(receive).not_to_be_checked()
            await receive.check()
            await expect(maja.locator("#stats-report-status")).to_have_text("Sparat.")
            report = (await gql(op("StatisticsReport"), as_="staff-maja"))["statisticsReport"]
            assert report["receives"] is True

            # on a phone: the same figures, nothing wider than the screen
            phone = await signed_in(browser, world, "Maja Ström", checks, viewport=PHONE_390)
            await phone.goto(f"{world.url}/app/#/statistics")
            await _showing(phone)
            await _tables_match(phone, answer)
            await checks.shot(phone, "statistics-3-phone")
            await phone.screenshot(path=ARTIFACTS / "app-statistics-phone-top.png")  # as it first looks
            await phone.locator("#stats-meetings").screenshot(path=ARTIFACTS / "app-statistics-phone-meetings.png")
        finally:
            await browser.close()
    checks.verify()
