"""A meeting page tells the people in it, in words, when their meeting ends or their connection goes,
instead of leaving a frozen picture: staff cancel the meeting → "Mötet är avslutat." on everyone's
page (the patient's at phone size, 390×844); the Janus instance carrying the meeting dies → "Anslutningen
bröts – vi kopplar upp dig igen …", and the page connects again by itself, to another instance.
Screenshots go to test-artifacts/ (meeting-ended-*.png)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from test_video_meeting import (
    DESKTOP,
    FRAMES_WITHIN_S,
    Running,
    _connected,
    _decoding,
    _more,
    _video_service,
    state,
    until,
    watch_console,
)

from sip_service.settings import MediaBackend

from browsing import ARGS, ARTIFACTS, chromium
from conftest import GraphQLClient, own_database
from helpers import Setup, issue, plan_with_meetings
from media_servers import Janus, janus, janus_server

__all__ = ["chromium", "janus"]  # the fixtures (browsing.py, media_servers.py)

PHONE = {"width": 390, "height": 844}
WORDS_WITHIN_S = 10.0  # from the staff's cancel (or the kill) to the words on the patient's page
CANCEL = """mutation($m: UUID!, $v: Int!) { cancelMeeting(meetingId: $m, expectedVersion: $v) {
  ... on Meeting { status } ... on Error { code } } }"""
VERSIONS = """query($id: UUID!) { plan(id: $id) { meetings { id version } } }"""


@pytest.fixture
async def relay_service(tmp_path: Path) -> AsyncIterator[Running]:
    """The service with the embedded relay; SQLite (what this adds is the page, not the database)."""
    async with own_database("sqlite", tmp_path) as url:
        running = await _video_service("sqlite", url, tmp_path)
        try:
            yield running
        finally:
            await running.stop()


async def meet(browser: Browser, world_url: str, meeting_id: str, link: str, problems: list[str]) -> tuple[Page, Page]:
    """Anna (staff) in the room, Elsa (the patient, from her link, on a phone) let in; both connected."""
    staff = await (await browser.new_context(locale="sv-SE", viewport=DESKTOP)).new_page()
    patient = await (
        await browser.new_context(locale="sv-SE", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    ).new_page()
    watch_console(staff, problems)
    watch_console(patient, problems)
    await staff.goto(f"{world_url}/auth/login?next=/video/?m={meeting_id}")
    await staff.get_by_role("button", name=re.compile("Anna Lind")).click()
    await staff.get_by_role("button", name="Gå in i mötet").click()
    await until("staff connected", lambda: _connected(staff), within=FRAMES_WITHIN_S)
    await patient.goto(link)
    await patient.get_by_role("button", name="Gå med").tap()
    await staff.get_by_role("button", name="Släpp in Elsa Andersson").click()
    await until("the patient connected", lambda: _connected(patient), within=FRAMES_WITHIN_S)
    return staff, patient


async def cancel(gql: GraphQLClient, setup: Setup) -> None:
    plan = (await gql(VERSIONS, {"id": setup.plan_id}, as_="staff-anna"))["plan"]
    version = next(m["version"] for m in plan["meetings"] if m["id"] == setup.meetings[0]["id"])
    done = (await gql(CANCEL, {"m": setup.meetings[0]["id"], "v": version}, as_="staff-anna"))["cancelMeeting"]
    assert done == {"status": "CANCELLED"}, done


async def test_the_patient_reads_that_the_meeting_has_ended_when_staff_cancel_it(
    relay_service: Running, chromium: str
) -> None:
    """In the meeting, seeing each other; staff cancel it (the plans app's cancelMeeting): within
    seconds both pages say "Mötet är avslutat." (large, the page's heading), the camera is off, no
    picture is left and nothing offers to join again; in English, "The meeting has ended."."""
    assert relay_service.service is not None
    world = relay_service.service
    problems: list[str] = []
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        link = (await issue(gql, setup, setup.patient))["url"]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
            try:
                staff, patient = await meet(browser, world.url, setup.meetings[0]["id"], link, problems)
                staff_id = (await state(staff))["participantId"]
                await until("the patient sees Anna", lambda: _decoding(patient, staff_id), within=FRAMES_WITHIN_S)

                cancelled = time.monotonic()
                await cancel(gql, setup)
                heading = patient.get_by_role("heading", name="Mötet är avslutat.")
                await expect(heading).to_be_visible(timeout=WORDS_WITHIN_S * 1000)
                print(f"cancelled → the patient's page says so: {time.monotonic() - cancelled:.1f} s")
                await expect(patient.get_by_text("Mötet är slut. Du kan stänga den här sidan.")).to_be_visible()
                await expect(staff.get_by_role("heading", name="Mötet är avslutat.")).to_be_visible()
                # Large: at least the size of the page's other headings (2 rem and up), on a phone.
                size = await heading.evaluate("h => parseFloat(getComputedStyle(h).fontSize)")
                assert size >= 24, size
                await patient.screenshot(path=ARTIFACTS / "meeting-ended-patient-phone.png")
                now = await state(patient)
                assert now["phase"] == "closed" and now["media"] == "idle" and now["remote"] == [], now
                assert await patient.locator("video").evaluate_all("vs => vs.filter(v => v.offsetParent).length") == 0
                assert not await patient.get_by_role("button", name="Gå med igen").is_visible()
                assert not await patient.evaluate(
                    "navigator.mediaDevices && [...document.querySelectorAll('video')]"
                    ".some(v => v.srcObject && v.srcObject.getTracks().some(t => t.readyState === 'live'))"
                )
                await patient.get_by_role("button", name="In English").tap()
                await expect(patient.get_by_role("heading", name="The meeting has ended.")).to_be_visible()
                await patient.screenshot(path=ARTIFACTS / "meeting-ended-patient-phone-english.png")
            finally:
                await browser.close()
    assert problems == []


@pytest.fixture
async def two_janus_service(tmp_path: Path, janus: Janus) -> AsyncIterator[tuple[Running, Janus, object]]:
    """The service on two Janus instances, the first (where the first meeting goes) doomed."""
    (tmp_path / "doomed").mkdir()
    with janus_server(tmp_path / "doomed", janus.admin_key) as (doomed, process):
        async with own_database("sqlite", tmp_path) as url:
            running = await _video_service(
                "sqlite",
                url,
                tmp_path,
                media_backend=MediaBackend.JANUS,
                janus_urls=[doomed.url, janus.url],
                janus_admin_key=janus.admin_key,
            )
            try:
                yield running, doomed, process
            finally:
                await running.stop()


async def test_the_page_says_the_connection_broke_when_its_janus_dies_and_comes_back(
    two_janus_service: tuple[Running, Janus, object], chromium: str
) -> None:
    """The meeting's Janus is killed: the service tells the pages at once (MEDIA_LOST), the patient's
    page says "Anslutningen bröts – vi kopplar upp dig igen …" (no frozen picture: the others' video
    goes), and both connect again by themselves, on the other instance, and see each other."""
    running, _, process = two_janus_service
    assert running.service is not None
    world = running.service
    problems: list[str] = []
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        link = (await issue(gql, setup, setup.patient))["url"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            staff, patient = await meet(browser, world.url, setup.meetings[0]["id"], link, problems)
            staff_id = (await state(staff))["participantId"]
            await until("the patient sees Anna", lambda: _decoding(patient, staff_id), within=FRAMES_WITHIN_S)
            # Every text the status line shows, as it shows it (it may be up only for a moment).
            await patient.evaluate(
                """() => { const el = document.getElementById('media-state'); window.shown = [];
                new MutationObserver(() => { if (!el.hidden) window.shown.push(el.textContent); })
                  .observe(el, {attributes: true, childList: true, characterData: true, subtree: true}); }"""
            )

            process.kill()  # type: ignore[attr-defined]
            killed = time.monotonic()
            words = "Anslutningen bröts – vi kopplar upp dig igen …"

            async def told() -> bool:
                return words in await patient.evaluate("window.shown")

            await until("the patient's page says the connection broke", told, within=WORDS_WITHIN_S)
            print(f"killed → the patient's page says so: {time.monotonic() - killed:.1f} s")
            try:
                await expect(patient.locator("#media-state")).to_have_text(words, timeout=1000)
                await patient.screenshot(path=ARTIFACTS / "meeting-reconnecting-patient-phone.png")
            except AssertionError:
                print("(connected again before the screenshot)")
            for page, other in ((staff, setup.patient), (patient, staff_id)):
                await until("connected again", lambda page=page: _connected(page), within=FRAMES_WITHIN_S)
                before = await until(
                    "video again", lambda page=page, other=other: _decoding(page, other), within=FRAMES_WITHIN_S
                )
                await until("video keeps coming", lambda page=page, other=other, b=before: _more(page, other, b))
            print(f"killed → both decoding again: {time.monotonic() - killed:.1f} s")
            await expect(patient.locator("#media-state")).to_be_hidden()
        finally:
            await browser.close()
    assert problems == []
