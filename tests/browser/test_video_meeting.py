"""The video meeting page end to end in headless Chromium (fake camera and microphone): a staff
member signs in and enters the meeting, the patient opens her invite link on a phone-sized screen,
taps Join and waits, is let in, and both see each other's video (frames decoded, from getStats).

The service runs here with its own database and `media_addresses=["127.0.0.1"]`: only loopback
reaches the media relay on a test machine. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import BrowserContext, ConsoleMessage, Page, async_playwright, expect

from sip_service.api import operations
from sip_service.app import create_app
from sip_service.demo import _people
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.settings import MediaBackend, Settings

from browsing import ARGS, ARTIFACTS, RUN_AXE, axe_source, chromium
from conftest import BACKENDS, REPO_ROOT, GraphQLClient, Service, StatementCounter, free_port, own_database, started
from helpers import issue, plan_with_meetings
from media_servers import Janus, Turn, coturn, coturn_for_janus, janus

__all__ = [
    "axe_source",
    "chromium",
    "coturn",
    "coturn_for_janus",
    "janus",
]  # the fixtures (browsing.py, media_servers.py)

PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
ZOOM_200 = {"width": 640, "height": 400}  # the desktop at 200 % zoom
FRAMES_WITHIN_S = 45.0
REFUSED_DURING_RESTART = re.compile(r"net::ERR_CONNECTION_REFUSED")  # a websocket or a request


class Running:
    """The service on its port; `restart` stops it and starts a new process's worth of it (a new
    app, relay and meeting-token key; the same database, port and session-cookie key)."""

    def __init__(self, backend: str, settings: Settings, port: int) -> None:
        self.backend, self.settings, self.port = backend, settings, port
        self.service: Service | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Service:
        db = Database(self.settings.database_url)
        app = create_app(self.settings, db)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=3
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await started(self._server, self._task)
        self.service = Service(
            self.backend, self.settings.public_url, self.settings, db, app.state.dev_provider, StatementCounter()
        )
        return self.service

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task  # its shutdown disposes of the database engine
            self._server = self._task = None

    async def restart(self) -> Service:
        await self.stop()
        return await self.start()


@pytest.fixture(params=BACKENDS)
async def video_service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Running]:
    """A service of its own (media relay on loopback), with the demo people and no plans."""
    async with own_database(request.param, tmp_path) as url:
        running = await _video_service(request.param, url, tmp_path)
        try:
            yield running
        finally:
            await running.stop()


@pytest.fixture(params=["aiortc", "janus"])
async def relay_only_service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Running]:
    """The service handing out coturn (with credentials) and telling browsers to use nothing else,
    its meetings on the embedded relay or on Janus (whose ICE is on the host address: coturn relays
    there). SQLite only: what this adds is the media path, not the database."""
    backend: dict[str, Any] = {}
    coturn: Turn = request.getfixturevalue("coturn_for_janus" if request.param == "janus" else "coturn")
    if request.param == "janus":
        janus: Janus = request.getfixturevalue("janus")
        backend = {"media_backend": MediaBackend.JANUS, "janus_urls": [janus.url], "janus_admin_key": janus.admin_key}
    async with own_database("sqlite", tmp_path) as url:
        running = await _video_service(
            "sqlite", url, tmp_path, ice_servers=coturn.urls, turn_secret=coturn.secret, ice_relay_only=True, **backend
        )
        try:
            yield running
        finally:
            await running.stop()


@pytest.fixture
async def janus_service(tmp_path: Path, janus: Janus) -> AsyncIterator[Running]:
    """The service running its meetings on Janus (SIP_MEDIA_BACKEND=janus), in its own process's
    lifespan as in production. SQLite only: what this adds is the media path, not the database."""
    async with own_database("sqlite", tmp_path) as url:
        running = await _video_service(
            "sqlite",
            url,
            tmp_path,
            media_backend=MediaBackend.JANUS,
            janus_urls=[janus.url],
            janus_admin_key=janus.admin_key,
        )
        try:
            yield running
        finally:
            await running.stop()


async def _video_service(backend: str, url: str, tmp_path: Path, **more: Any) -> Running:
    await asyncio.to_thread(migrations.upgrade, url)
    port = free_port()
    settings = Settings(
        database_url=url,
        public_url=f"http://127.0.0.1:{port}",
        dev_oidc_key_file=tmp_path / "key.json",
        session_secret="a session cookie key for this test only, 32+ chars",
        media_addresses=["127.0.0.1"],
        **more,
    )
    db = Database(url)
    async with db.write() as session:
        await _people(session, settings)
    await db.dispose()
    running = Running(backend, settings, port)
    await running.start()
    return running


async def until(what: str, check: Callable[[], Awaitable[Any]], within: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: not within {within} s (last: {last!r})")


def watch_console(page: Page, problems: list[str], sent: list[str] | None = None) -> None:
    """Errors in the page (a CSP refusal, an exception) fail the test at its end; `sent` collects
    the GraphQL documents it sends over its websocket."""

    def on_frame(payload: str | bytes) -> None:
        message = json.loads(payload)
        if sent is not None and message.get("type") == "subscribe":
            sent.append(message["payload"]["query"])

    page.on("websocket", lambda ws: ws.on("framesent", on_frame))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: {message.text}")
        elif message.type == "warning":
            print("page warning:", page.url, message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))


async def frames(page: Page) -> dict[str, int]:
    stats: list[dict[str, Any]] = await page.evaluate("window.sipVideo.stats()")
    return {s["participantId"]: int(s["framesDecoded"]) for s in stats}


async def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.sipVideo.state")
    return result


class Shots:
    """Screenshots of the page at a size, each checked there by axe-core (no accessibility
    problem at all) and for fit (no sideways scrolling: a phone, 200 % zoom)."""

    def __init__(self, backend: str, axe: str) -> None:
        self.backend, self.axe = backend, axe
        self.problems: list[tuple[str, Any]] = []

    async def take(self, page: Page, name: str, viewport: dict[str, int], *, full_page: bool = True) -> None:
        """The whole page, or (the room, whose buttons stay at the bottom) what the screen shows."""
        await page.set_viewport_size(viewport)
        await asyncio.sleep(0.3)  # layout and a frame or two of video
        await page.screenshot(path=ARTIFACTS / f"video-{name}-{self.backend}.png", full_page=full_page)
        if not await page.evaluate("() => typeof window.axe === 'object'"):
            await page.evaluate(self.axe)  # through the debugger protocol: the page's CSP stays as it is
        self.problems += [(name, v) for v in await page.evaluate(RUN_AXE)]
        wide = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if wide > 0:
            self.problems.append((name, f"{wide}px wider than the screen"))


async def test_staff_admits_the_patient_and_they_see_each_other(
    video_service: Running, chromium: str, axe_source: str
) -> None:
    assert video_service.service is not None
    world = video_service.service
    shots = Shots(world.backend, axe_source)
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        meeting_id = setup.meetings[0]["id"]
        issued = await issue(gql, setup, setup.patient)
    link = issued["url"]
    assert "#t=" in link and link.startswith(world.url)

    problems: list[str] = []
    sent: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            staff_context = await browser.new_context(locale="sv-SE", viewport=DESKTOP)
            patient_context = await browser.new_context(
                locale="sv-SE", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
            )
            staff = await staff_context.new_page()
            patient = await patient_context.new_page()
            watch_console(staff, problems, sent)
            watch_console(patient, problems, sent)

            # Staff: sign in (the development provider), land on the meeting page, go in.
            await staff.goto(f"{world.url}/auth/login?next=/video/?m={meeting_id}")
            await staff.get_by_role("button", name=re.compile("Anna Lind")).click()
            await staff.wait_for_url(re.compile(r"/video/\?m="))
            enter = staff.get_by_role("button", name="Gå in i mötet")
            await expect(enter).to_be_visible()
            await shots.take(staff, "staff-lobby-desktop", DESKTOP)
            await enter.click()
            await expect(staff.get_by_role("heading", name="Ingen väntar på att komma in.")).to_be_visible()
            assert (await state(staff))["presence"] == "IN_ROOM"

            # Patient: the link from the SMS, one tap, then the lobby.
            await patient.goto(link)
            await expect(patient.get_by_role("heading", name="Välkommen, Elsa Andersson")).to_be_visible()
            assert "#t=" not in patient.url  # the token left the address bar
            await shots.take(patient, "patient-start-phone", PHONE)
            await patient.get_by_role("button", name="Gå med").tap()
            await expect(patient.locator("#lobby-text")).to_have_text("Du väntar på att personalen släpper in dig.")
            await expect(patient.get_by_role("heading", name="Väntrum")).to_be_visible()
            await until("the microphone is heard", lambda: patient.get_by_text("Vi hör dig.").is_visible(), within=30)
            await shots.take(patient, "patient-lobby-phone", PHONE)
            await shots.take(patient, "patient-lobby-desktop", DESKTOP)
            await patient.set_viewport_size(PHONE)

            # Staff see her waiting (and are told), and let her in.
            admit = staff.get_by_role("button", name="Släpp in Elsa Andersson")
            await expect(admit).to_be_visible()
            await expect(staff.get_by_role("status").filter(has_text="Elsa Andersson väntar")).to_be_visible()
            await shots.take(staff, "staff-waiting-desktop", DESKTOP)
            await shots.take(staff, "staff-waiting-zoom200", ZOOM_200, full_page=False)
            await staff.set_viewport_size(DESKTOP)
            # With the keyboard only: Tab from the top of the page reaches the button.
            await staff.locator("body").focus()
            for _ in range(12):
                await staff.keyboard.press("Tab")
                if await admit.evaluate("b => b === document.activeElement"):
                    break
            else:
                raise AssertionError("Tab never reached the admit button")
            await staff.keyboard.press("Enter")
            await expect(admit).to_be_hidden()
            await until("the patient is in the room", lambda: _phase_is(patient, "room"))
            await expect(patient.get_by_role("button", name="Mikrofonen är på")).to_be_visible()
            # one's own name is under one's picture, not over it (both measured at the same moment:
            # a line above, such as "Tryck här för att höra de andra", may come and go meanwhile)
            picture_bottom, name_top = await patient.locator(".tile.self").evaluate(
                "t => [t.querySelector('video').getBoundingClientRect().bottom,"
                " t.querySelector('.tile-label').getBoundingClientRect().top]"
            )
            assert name_top >= picture_bottom - 1, (picture_bottom, name_top)

            # Both see the other's video: frames decoded keep rising.
            patient_id, staff_id = setup.patient, (await state(staff))["participantId"]
            first_staff = await until(
                "staff decode the patient's video",
                lambda: _decoding(staff, patient_id),
                within=FRAMES_WITHIN_S,
            )
            first_patient = await until(
                "the patient decodes the staff member's video",
                lambda: _decoding(patient, staff_id),
                within=FRAMES_WITHIN_S,
            )
            await asyncio.sleep(2)
            assert (await frames(staff))[patient_id] > first_staff
            assert (await frames(patient))[staff_id] > first_patient
            await expect(staff.locator(".tile").filter(has_text="Elsa Andersson")).to_be_visible()
            await expect(patient.locator(".tile").filter(has_text="Anna Lind")).to_be_visible()

            await shots.take(patient, "patient-meeting-phone", PHONE, full_page=False)
            await shots.take(patient, "patient-meeting-desktop", DESKTOP, full_page=False)
            await shots.take(staff, "staff-meeting-desktop", DESKTOP, full_page=False)
            await shots.take(staff, "staff-meeting-phone", PHONE, full_page=False)
            await shots.take(staff, "staff-meeting-zoom200", ZOOM_200, full_page=False)

            # The service restarts (a deployment): both pages say they reconnect, come back into the
            # room by themselves (the patient with a new meeting token, without waiting again), and
            # the video flows again.
            await patient.set_viewport_size(PHONE)
            outage_starts = len(problems)
            await video_service.restart()
            await expect(patient.get_by_text("Anslutningen bröts – vi kopplar upp dig igen …").first).to_be_visible()
            await shots.take(patient, "patient-reconnecting-phone", PHONE, full_page=False)
            for page, other in ((staff, patient_id), (patient, staff_id)):
                await until("back in the room", lambda page=page: _connected(page), within=FRAMES_WITHIN_S)
                before = await until(
                    "video again", lambda page=page, other=other: _decoding(page, other), within=FRAMES_WITHIN_S
                )
                await until(
                    "video keeps coming",
                    lambda page=page, other=other, before=before: _more(page, other, before),
                    within=FRAMES_WITHIN_S,
                )
            # While the service was down, a page that tried to reconnect was refused: Chromium says so
            # in the console (the page's own retry is what the test wants). On a loaded machine the
            # restart takes long enough for that to happen; anything else said then still counts.
            problems[outage_starts:] = [p for p in problems[outage_starts:] if not REFUSED_DURING_RESTART.search(p)]

            # A third comes in while the two are connected: the patient's page takes the server's
            # new offer on the same connection, and shows him too.
            johan_context = await browser.new_context(locale="sv-SE", viewport=DESKTOP)
            johan = await johan_context.new_page()
            watch_console(johan, problems, sent)
            await johan.goto(f"{world.url}/auth/login?next=/video/?m={meeting_id}")
            await johan.get_by_role("button", name=re.compile("Johan Ek")).click()
            await johan.get_by_role("button", name="Gå in i mötet").click()
            await until("Johan is in the room", lambda: _connected(johan), within=FRAMES_WITHIN_S)
            johan_id = (await state(johan))["participantId"]
            await until("the patient sees Johan", lambda: _decoding(patient, johan_id), within=FRAMES_WITHIN_S)
            await until("Johan sees the patient", lambda: _decoding(johan, patient_id), within=FRAMES_WITHIN_S)
            await expect(patient.locator(".tile").filter(has_text="Johan Ek")).to_be_visible()
            await shots.take(patient, "patient-three-phone", PHONE)
            await shots.take(johan, "johan-three-desktop", DESKTOP, full_page=False)
            # The staff member removes him (after a question); his page says so, the others' tiles go.
            staff.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await staff.get_by_role("button", name="Ta bort Johan Ek").click()
            await expect(johan.get_by_role("heading", name="Du är inte längre med i mötet")).to_be_visible()
            await expect(patient.locator(".tile").filter(has_text="Johan Ek")).to_be_hidden()
            await expect(staff.locator(".tile").filter(has_text="Johan Ek")).to_be_hidden()
            await johan_context.close()

            # In English, on request (and back).
            await patient.get_by_role("button", name="In English").tap()
            await expect(patient.get_by_role("button", name="Leave")).to_be_visible()
            await expect(patient.locator(".tile").filter(has_text="Anna Lind")).to_contain_text("Distriktssköterska")
            await shots.take(patient, "patient-meeting-english-phone", PHONE, full_page=False)
            await patient.get_by_role("button", name="På svenska").tap()

            # Muting shows on the other's tile; the buttons say their state.
            await patient.set_viewport_size(PHONE)
            mute = patient.locator("#mute")
            await expect(mute).to_have_attribute("aria-pressed", "true")  # pressed: the microphone is on
            await expect(mute).to_have_text("Mikrofonen är på")
            await mute.tap()
            await expect(mute).to_have_attribute("aria-pressed", "false")
            await expect(mute).to_have_text("Mikrofonen är av")
            tile = staff.locator(".tile").filter(has_text="Elsa Andersson")
            await expect(tile.get_by_text("Mikrofonen är av")).to_be_visible()

            # Leaving: the patient's page says so, and the staff member is told.
            await patient.get_by_role("button", name="Lämna mötet").tap()
            await expect(patient.get_by_role("heading", name="Du har lämnat mötet")).to_be_visible()
            await expect(staff.get_by_role("status").filter(has_text="Elsa Andersson lämnade")).to_be_visible()
            await staff_context.close()
            await patient_context.close()
        finally:
            await browser.close()
    assert problems == []
    assert shots.problems == [], json.dumps(shots.problems, indent=1, ensure_ascii=False)
    # Only the known operations, word for word (in production anything else is refused).
    known = operations.documents()
    assert sent and set(sent) <= set(known.values()), [q[:60] for q in sent if q not in known.values()]
    used = {name for name, document in known.items() if document in sent}
    assert used >= {"MeetingEvents", "JoinMeeting", "AdmitToMeeting", "RemoveFromMeeting", "LeaveMeeting"}, used
    assert used >= {"MeetingRoom", "ConnectMedia", "SendSignal"}, used


async def test_relay_only_browsers_meet_through_turn(relay_only_service: Running, chromium: str) -> None:
    """Browsers that may only use TURN (iceTransportPolicy "relay", as on a network that lets no
    media through directly): the staff member and the patient she admits still see each other, and
    their media goes through coturn, with the credentials the service made; on either backend."""
    assert relay_only_service.service is not None
    world = relay_only_service.service
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        meeting_id = setup.meetings[0]["id"]
        link = (await issue(gql, setup, setup.patient))["url"]
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            staff = await (await browser.new_context(locale="sv-SE", viewport=DESKTOP)).new_page()
            patient = await (await browser.new_context(locale="sv-SE", viewport=PHONE)).new_page()
            watch_console(staff, problems)
            watch_console(patient, problems)
            await staff.goto(f"{world.url}/auth/login?next=/video/?m={meeting_id}")
            await staff.get_by_role("button", name=re.compile("Anna Lind")).click()
            await staff.get_by_role("button", name="Gå in i mötet").click()
            await patient.goto(link)
            await patient.get_by_role("button", name="Gå med").click()
            await staff.get_by_role("button", name="Släpp in Elsa Andersson").click()
            staff_id = (await state(staff))["participantId"]
            for page, other in ((staff, setup.patient), (patient, staff_id)):
                await until("connected", lambda page=page: _connected(page), within=FRAMES_WITHIN_S)
                before = await until(
                    "frames decoded", lambda page=page, other=other: _decoding(page, other), within=FRAMES_WITHIN_S
                )
                await until("more frames", lambda page=page, other=other, before=before: _more(page, other, before))
                route = await page.evaluate("window.sipVideo.route()")
                assert route["local"] == "relay", route  # through coturn, not straight to the media server
        finally:
            await browser.close()
    assert problems == []


async def test_browsers_meet_on_janus(janus_service: Running, chromium: str) -> None:
    """The same page on the Janus backend: it publishes on a connection of its own and receives the
    others on another. The staff member and the patient she admits see each other; a third comes,
    goes, and comes again (Janus gives his new media the m-lines his old media had); when she removes
    the patient, the patient's page says so and the staff member's stops receiving her."""
    assert janus_service.service is not None
    world = janus_service.service
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        meeting_id = setup.meetings[0]["id"]
        link = (await issue(gql, setup, setup.patient))["url"]
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            staff = await (await browser.new_context(locale="sv-SE", viewport=DESKTOP)).new_page()
            patient = await (await browser.new_context(locale="sv-SE", viewport=PHONE)).new_page()
            watch_console(staff, problems)
            watch_console(patient, problems)
            await staff.goto(f"{world.url}/auth/login?next=/video/?m={meeting_id}")
            await staff.get_by_role("button", name=re.compile("Anna Lind")).click()
            await staff.get_by_role("button", name="Gå in i mötet").click()
            await until("staff connected, alone in the room", lambda: _connected(staff), within=FRAMES_WITHIN_S)
            await patient.goto(link)
            await patient.get_by_role("button", name="Gå med").click()
            await staff.get_by_role("button", name="Släpp in Elsa Andersson").click()
            staff_id = (await state(staff))["participantId"]
            for page, other in ((staff, setup.patient), (patient, staff_id)):
                await until("connected", lambda page=page: _connected(page), within=FRAMES_WITHIN_S)
                before = await until(
                    "frames decoded", lambda page=page, other=other: _decoding(page, other), within=FRAMES_WITHIN_S
                )
                await until("more frames", lambda page=page, other=other, before=before: _more(page, other, before))

            for visit in ("first", "again"):
                johan_context = await browser.new_context(locale="sv-SE", viewport=DESKTOP)
                johan = await johan_context.new_page()
                watch_console(johan, problems)
                await johan.goto(f"{world.url}/auth/login?next=/video/?m={meeting_id}")
                await johan.get_by_role("button", name=re.compile("Johan Ek")).click()
                await johan.get_by_role("button", name="Gå in i mötet").click()
                await until(f"Johan in the room ({visit})", lambda j=johan: _connected(j), within=FRAMES_WITHIN_S)
                johan_id = (await state(johan))["participantId"]
                for page, other in ((patient, johan_id), (staff, johan_id), (johan, setup.patient), (johan, staff_id)):
                    before = await _decoding(page, other)
                    await until(
                        f"frames from {other} ({visit})",
                        lambda page=page, other=other, before=before: _more(page, other, before),
                        within=FRAMES_WITHIN_S,
                    )
                await johan_context.close()  # his stream ends: he has left
                await expect(staff.locator(".tile").filter(has_text="Johan Ek")).to_be_hidden()
                await expect(patient.locator(".tile").filter(has_text="Johan Ek")).to_be_hidden()

            staff.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await staff.get_by_role("button", name="Ta bort Elsa Andersson").click()
            await expect(patient.get_by_role("heading", name="Du är inte längre med i mötet")).to_be_visible()
            await expect(staff.locator(".tile").filter(has_text="Elsa Andersson")).to_be_hidden()
            await until("the staff no longer receives her", lambda: _not_receiving(staff, setup.patient))
        finally:
            await browser.close()
    assert problems == []


async def _not_receiving(page: Page, participant_id: str) -> bool:
    return participant_id not in await frames(page)


async def _phase_is(page: Page, phase: str) -> bool:
    return bool((await state(page))["phase"] == phase)


async def _connected(page: Page) -> bool:
    now = await state(page)
    return bool(now["phase"] == "room" and now["media"] == "connected" and now["connection"] == "ok")


async def _more(page: Page, participant_id: str, than: int) -> bool:
    return await _decoding(page, participant_id) > than


async def _decoding(page: Page, participant_id: str) -> int:
    return (await frames(page)).get(participant_id, 0)


async def test_one_language_for_the_plan_app_and_the_meeting_page(
    video_service: Running, chromium: str, axe_source: str
) -> None:
    """The language is chosen once for the whole service (web/lib/language.js): English chosen in
    the plan app holds on the meeting page, and Swedish chosen there holds in the plan app. A choice
    stored by the meeting page before they shared it (its old key) is not lost."""
    assert video_service.service is not None
    world = video_service.service
    shots = Shots(world.backend, axe_source)
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        meeting_id = setup.meetings[0]["id"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            context: BrowserContext = await browser.new_context(locale="sv-SE", viewport=DESKTOP)
            page = await context.new_page()
            # Someone chose English on the meeting page before the apps shared the choice.
            await page.goto(f"{world.url}/join#t=not-a-real-token")
            await expect(page.get_by_role("heading", name="Länken fungerar inte")).to_be_visible()
            await page.evaluate("localStorage.clear(); localStorage.setItem('sipVideoLanguage', 'en')")
            problems: list[str] = []
            watch_console(page, problems)  # from here on (the made-up link above was refused)

            await page.goto(f"{world.url}/auth/login?next=/app/")
            await page.get_by_role("button", name=re.compile("Anna Lind")).click()
            await page.wait_for_url(re.compile(r"/app/"))
            await expect(page.get_by_role("heading", level=1)).to_have_text("My plans")  # kept
            assert await page.evaluate("localStorage.getItem('sipVideoLanguage')") is None  # read once

            await page.get_by_role("button", name="Change language to Swedish").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Mina planer")
            await page.goto(f"{world.url}/video/?m={meeting_id}")
            await expect(page.get_by_role("button", name="Gå in i mötet")).to_be_visible()
            assert await page.evaluate("document.documentElement.lang") == "sv"

            # English in the plan app: the meeting page is English too.
            await page.goto(f"{world.url}/app/")
            await page.get_by_role("button", name="Byt språk till engelska").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("My plans")
            await page.goto(f"{world.url}/video/?m={meeting_id}")
            await expect(page.get_by_role("button", name="Enter the meeting")).to_be_visible()
            await expect(page.get_by_role("button", name="På svenska")).to_be_visible()
            assert await page.evaluate("document.documentElement.lang") == "en"
            await shots.take(page, "staff-lobby-english-desktop", DESKTOP)

            # And back: Swedish on the meeting page, Swedish in the plan app.
            await page.get_by_role("button", name="På svenska").click()
            await expect(page.get_by_role("button", name="Gå in i mötet")).to_be_visible()
            await page.goto(f"{world.url}/app/")
            await expect(page.get_by_role("heading", level=1)).to_have_text("Mina planer")
            assert await page.evaluate("document.documentElement.lang") == "sv"
            await context.close()
        finally:
            await browser.close()
    assert problems == [], problems
    assert shots.problems == [], json.dumps(shots.problems, indent=1, ensure_ascii=False)


async def test_a_link_that_does_not_work_says_so_plainly(
    video_service: Running, chromium: str, axe_source: str
) -> None:
    assert video_service.service is not None
    world = video_service.service
    shots = Shots(world.backend, axe_source)
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        gql = GraphQLClient(http, world)
        setup = await plan_with_meetings(gql, world, timedelta(minutes=5))
        revoked = (await issue(gql, setup, setup.patient))["url"]
        await issue(gql, setup, setup.patient)  # a new link: the first one stops working
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            context: BrowserContext = await browser.new_context(locale="sv-SE", viewport=PHONE)
            page = await context.new_page()
            await page.goto(f"{world.url}/video/join#t=not-a-real-token")  # also at /join (what invites make)
            await expect(page.get_by_role("heading", name="Länken fungerar inte")).to_be_visible()
            await expect(page.get_by_text("Länken är inte giltig. Be personalen om en ny länk.")).to_be_visible()
            await expect(page.get_by_role("button", name="Gå med")).to_be_hidden()
            await shots.take(page, "bad-link-phone", PHONE)

            await page.goto(revoked)  # another link in the same tab
            await expect(page.get_by_text("Länken gäller inte längre. Be personalen om en ny länk.")).to_be_visible()
            await page.reload()  # the same page again, from the stored link
            await expect(page.get_by_text("Länken gäller inte längre. Be personalen om en ny länk.")).to_be_visible()

            # In English on request; remembered on the next visit.
            await page.get_by_role("button", name="In English").click()
            await expect(page.get_by_role("heading", name="The link does not work")).to_be_visible()
            await page.close()
            page = await context.new_page()
            await page.goto(f"{world.url}/join#t=still-not-real")
            await expect(page.get_by_role("heading", name="The link does not work")).to_be_visible()
            assert await page.evaluate("document.documentElement.lang") == "en"
            await shots.take(page, "bad-link-english-desktop", DESKTOP)
            await context.close()
        finally:
            await browser.close()
    assert shots.problems == [], json.dumps(shots.problems, indent=1, ensure_ascii=False)


def test_the_page_names_only_known_operations() -> None:
    """The page has no GraphQL of its own: it sends the service's operations (fetched by name from
    /graphql/operations.json), and names only ones that exist."""
    known = operations.documents()
    named: set[str] = set()
    for module in [*(REPO_ROOT / "video" / "js").rglob("*.js"), REPO_ROOT / "web" / "lib" / "gql.js"]:
        text = module.read_text(encoding="utf-8")
        named |= set(re.findall(r"(?:request|subscribe)\(\s*'([A-Za-z]+)'", text))
        assert not re.search(r"\b(query|mutation|subscription|fragment)\s+[A-Z]\w*\s*[({]", text), module.name
    assert named, "no operation found: the pattern above is out of date"
    assert named <= set(known), named - set(known)
