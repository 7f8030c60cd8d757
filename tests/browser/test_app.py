"""The plan app (web/, served at /app/) end to end in headless Chromium, through its pages only.

The issue's story: a nurse (Anna) creates a plan for Elsa; a municipal care planner (Johan) sets the
overall responsibility and adds an action, which appears on Anna's open page within a second (live,
PlanChanges over the websocket); the finalize button stays disabled with the reasons beside it; Elsa,
on a phone, adds her own goal, chooses her son as the relative to take part and approves; Anna books an
in-person meeting, invites, attests Elsa's attendance, and finalizes. axe-core (from the npm registry,
tests/browser/package-lock.json) checks every page at desktop and phone sizes: no serious or critical
violations. Screenshots go to test-artifacts/app-*.png.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, async_playwright, expect

from sip_service.api import operations

from browsing import ARGS, ARTIFACTS, RUN_AXE, axe_source, chromium
from conftest import REPO_ROOT, Service
from helpers import ALL_BUT_INVITED

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
ZOOM_200 = {"width": 640, "height": 400}
STOCKHOLM = ZoneInfo("Europe/Stockholm")
LIVE_WITHIN_S = 1.0
SERIOUS = {"serious", "critical"}
GOAL = "Jag vill kunna gå till affären själv, med min rullator."


# ---- the operations the app sends -----------------------------------------------------------


def test_the_app_names_only_known_operations() -> None:
    """The pages fetch the operations by name (/graphql/operations.json); every name they use exists,
    and no module writes a query of its own."""
    known = operations.documents()
    for module in (REPO_ROOT / "web").rglob("*.js"):  # js/ and lib/; vendor/ is third-party code
        if not module.is_file() or "vendor" in module.relative_to(REPO_ROOT / "web").parts:
            continue
        text = module.read_text(encoding="utf-8")
        for name in re.findall(r'(?:request\(|subscribe\(|mutate\(view,)\s*"([A-Za-z]+)"', text):
            assert name in known, f"{module.name}: {name} is not in graphql/operations/"
        assert not re.search(r"\b(query|mutation|subscription)\s+[A-Z]\w*\s*[({]", text), module.name


# ---- axe-core --------------------------------------------------------------------------------


class Checks:
    """Screenshots, axe findings and CSP reports gathered along the story."""

    def __init__(self, world: Service, axe: str) -> None:
        self.world, self.axe = world, axe
        self.violations: list[tuple[str, dict[str, Any]]] = []
        self.console_problems: list[str] = []
        self.checked = 0
        self.sent: list[str] = []  # every GraphQL document a page sent, over HTTP or the websocket

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.console_problems.append(message.text)

        def on_frame(payload: str | bytes) -> None:
            message = json.loads(payload)
            if message.get("type") == "subscribe":
                self.sent.append(message["payload"]["query"])

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.console_problems.append(f"page error: {error}"))
        page.on(
            "request",
            lambda r: (
                self.sent.append(json.loads(r.post_data or "{}").get("query", ""))
                if r.url.endswith("/graphql") and r.method == "POST"
                else None
            ),
        )
        page.on("websocket", lambda ws: ws.on("framesent", on_frame))

    def verify(self) -> None:
        """No serious accessibility problem, no script error or CSP report, only known operations."""
        assert not self.violations, json.dumps(self.violations, indent=1, ensure_ascii=False)
        assert not self.console_problems, self.console_problems
        known = set(operations.documents().values())
        assert self.sent and all(q in known for q in self.sent), [q[:80] for q in self.sent if q not in known]

    async def shot(self, page: Page, name: str, *, axe: bool = True, phone: bool = True) -> None:
        """Screenshot at the page's size; axe there and, for desktop pages, at 360×640 too."""
        await page.screenshot(path=ARTIFACTS / f"app-{name}-{self.world.backend}.png", full_page=True)
        if axe:
            await self.run_axe(page, name)
        await self.fits(page, name)
        size = page.viewport_size
        if phone and size is not None and size["width"] > PHONE["width"]:
            await page.set_viewport_size(PHONE)
            await page.screenshot(path=ARTIFACTS / f"app-{name}-phone-{self.world.backend}.png", full_page=True)
            await self.fits(page, f"{name} (phone)")
            if axe:
                await self.run_axe(page, f"{name} (phone)")
            await page.set_viewport_size(ZOOM_200)  # a 1280 px screen at 200 % zoom
            await self.fits(page, f"{name} (200 %)")
            await page.set_viewport_size(size)

    async def fits(self, page: Page, where: str) -> None:
        """Nothing wider than the screen: no sideways scrolling on a phone or at 200 % zoom."""
        wide = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"{where}: the page is {wide}px wider than the screen"

    async def run_axe(self, page: Page, where: str) -> None:
        if not await page.evaluate("() => typeof window.axe === 'object'"):
            await page.evaluate(self.axe)  # through the debugger protocol: the page's CSP stays as it is
        found: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
        self.checked += 1
        self.violations += [(where, v) for v in found if v["impact"] in SERIOUS]


async def signed_in(browser: Browser, world: Service, who: str, checks: Checks, **options: Any) -> Page:
    context: BrowserContext = await browser.new_context(locale="sv-SE", **options)
    page = await context.new_page()
    checks.watch(page)
    await page.goto(f"{world.url}/auth/login?next=/app/")
    await page.get_by_role("button", name=re.compile(who)).click()
    await page.wait_for_url(re.compile(r"/app/"))
    await expect(page.locator("#signed-in-name")).to_have_text(who)
    return page


async def settled(page: Page) -> None:
    """The page shows what it last read: no read under way (<main aria-busy>). An open plan page reads
    the plan again on each change anyone makes, its own too, and draws it anew where something
    changed; acting on a control drawn before that read ends would act on one about to be replaced."""
    await expect(page.locator("main[data-route]:not([aria-busy])")).to_have_count(1)


async def click(target: Locator, *, disabled: bool = False) -> None:
    """Click a control in its final state: once its page has settled, visible and enabled (or, with
    `disabled`, shown as disabled: aria-disabled keeps it in the tab order; clicking it must do
    nothing). No fixed waits."""
    await settled(target.page)
    await expect(target).to_be_visible()
    if disabled:
        await expect(target).to_be_disabled()
        await target.click(force=True)  # force: Playwright would wait for it to become enabled
    else:
        await expect(target).to_be_enabled()
        await target.click()


async def blocker_codes(page: Page) -> set[str]:
    codes: list[str] = await page.locator("li.blocker").evaluate_all("els => els.map(e => e.dataset.code)")
    return set(codes)


async def until_codes(page: Page, expected: set[str], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        await settled(page)
        if (found := await blocker_codes(page)) == expected:
            return
        if time.monotonic() > deadline:
            shown = await page.locator("main").inner_text()
            raise AssertionError(f"checklist shows {sorted(found)}, expected {sorted(expected)}:\n{shown}")
        await asyncio.sleep(0.05)


async def unfold(page: Page, section: str) -> None:
    """Open a folded section of the plan page (its heading's button), if it is not open already."""
    button = page.locator(f"#fold-{section}")
    await settled(page)
    if await button.get_attribute("aria-expanded") != "true":
        await click(button)
    await expect(button).to_have_attribute("aria-expanded", "true")


def blocker(page: Page, code: str) -> Any:
    return page.locator(f'li.blocker[data-code="{code}"]')


async def open_fix(page: Page, code: str) -> Any:
    """The checklist item, with its form opened (a live re-render keeps what was open)."""
    item = blocker(page, code)
    await settled(page)
    if await item.locator("details").get_attribute("open") is None:
        await click(item.locator("summary"))
    return item


async def test_the_plan_story_through_the_pages(world: Service, chromium: str, axe_source: str) -> None:
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            await story(browser, world, checks)
        finally:
            await browser.close()
    assert checks.checked >= 20
    checks.verify()


async def story(browser: Browser, world: Service, checks: Checks) -> None:
    # The nurse works from a computer whose clock is set to another zone: the page still means Stockholm.
    anna = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP, timezone_id="America/Sao_Paulo")
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Mina planer")
    await checks.shot(anna, "01-queue-empty")

    # -- English and back: the choice is remembered
    await click(anna.get_by_role("button", name="Byt språk till engelska"))
    await expect(anna.get_by_role("heading", level=1)).to_have_text("My plans")
    await anna.reload()
    await expect(anna.get_by_role("heading", level=1)).to_have_text("My plans")
    assert await anna.evaluate("document.documentElement.lang") == "en"
    await click(anna.get_by_role("button", name="Change language to Swedish"))
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Mina planer")

    # -- Anna creates the plan
    await click(anna.get_by_role("navigation").get_by_role("link", name="Ny plan"))
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Ny plan")
    await expect(anna.get_by_role("heading", level=1)).to_be_focused()
    await anna.get_by_label("Personnummer (12 siffror)").fill("19400312-2388")
    await click(anna.get_by_role("button", name="Sök"))
    await expect(anna.get_by_text("Patient: Elsa Andersson")).to_be_visible()
    await anna.get_by_label("Bakgrund – varför behövs en plan?").fill("Fallit två gånger. Bor ensam.")
    await checks.shot(anna, "02-new-plan")
    await click(anna.get_by_role("button", name="Skapa planen"))
    await anna.wait_for_url(re.compile(r"#/plans/[0-9a-f-]{36}$"))
    plan_url = anna.url
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
    await until_codes(anna, ALL_BUT_INVITED)
    await expect(anna.locator("#finalize-button")).to_have_attribute("aria-disabled", "true")
    await checks.shot(anna, "03-plan-created")

    # -- the municipality takes part (the fix sits in the checklist item)
    cross = await open_fix(anna, "CROSS_ORGANISATION")
    await cross.get_by_label("Verksamhet").select_option(label="Socialtjänsten Ekby")
    await cross.get_by_label("Person").select_option(label="Johan Ek, Biståndshandläggare")
    await click(cross.get_by_role("button", name="Lägg till"))
    await until_codes(anna, ALL_BUT_INVITED - {"CROSS_ORGANISATION"})

    # -- a relative, the son
    await unfold(anna, "participants")
    await click(anna.locator("#d-add-relative summary"))
    relative = anna.locator("#d-add-relative")
    await relative.get_by_label("Namn").fill("Per Andersson")
    await relative.get_by_label("Personnummer (12 siffror)").fill("196805141234")
    await relative.get_by_label("Mobilnummer (frivilligt)").fill("+46701234502")
    await click(relative.get_by_role("button", name="Lägg till närstående"))
    await expect(anna.locator("#participant-list")).to_contain_text("Per Andersson")

    # -- Elsa's oral consent, written down by Anna, for both organisations
    consent = await open_fix(anna, "CONSENT")
    await expect(consent.get_by_label("Socialtjänsten Ekby")).to_be_checked()
    await expect(consent.get_by_label("Vårdcentralen Norrbacka")).to_be_checked()
    await click(consent.get_by_role("button", name="Anteckna muntligt samtycke"))
    await until_codes(anna, ALL_BUT_INVITED - {"CROSS_ORGANISATION", "CONSENT"})
    await expect(anna.locator("#consent-summary")).to_contain_text("muntligt, antecknat av Anna Lind")

    follow_up = (datetime.now(STOCKHOLM) + timedelta(days=60)).date()
    await open_fix(anna, "FOLLOW_UP")
    await blocker(anna, "FOLLOW_UP").get_by_label("Uppföljningsdatum").fill(follow_up.isoformat())
    await click(blocker(anna, "FOLLOW_UP").get_by_role("button", name="Spara"))
    await until_codes(anna, ALL_BUT_INVITED - {"CROSS_ORGANISATION", "CONSENT", "FOLLOW_UP"})
    await checks.shot(anna, "04-staff-checklist", phone=False)

    # -- Johan, in another browser, on the same plan; Anna's page stays open
    johan = await signed_in(browser, world, "Johan Ek", checks, viewport=DESKTOP)
    await expect(johan.locator("#plan-list")).to_contain_text("Plan för Elsa Andersson")
    await click(johan.get_by_role("link", name="Plan för Elsa Andersson"))
    await expect(johan.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
    overall = await open_fix(johan, "OVERALL_RESPONSIBILITY")
    await overall.get_by_label("Övergripande ansvar").select_option(label="Socialtjänsten Ekby")
    await click(overall.get_by_role("button", name="Spara"))
    await expect(blocker(johan, "OVERALL_RESPONSIBILITY")).to_have_count(0)
    await expect(blocker(anna, "OVERALL_RESPONSIBILITY")).to_have_count(0)  # live

    action = await open_fix(johan, "ACTIONS")
    await action.get_by_label("Vad ska göras?").fill("Hemtjänst morgon och kväll")
    await expect(action.get_by_label("Ansvarig organisation")).to_have_value(re.compile(".+"))
    async with johan.expect_response(lambda r: r.url.endswith("/graphql") and r.request.method == "POST") as done:
        await click(action.get_by_role("button", name="Lägg till insats"))
    await done.value
    saved_at = time.monotonic()
    # the change appears in the other browser within a second
    await expect(anna.locator("#action-groups")).to_contain_text(
        "Hemtjänst morgon och kväll", timeout=LIVE_WITHIN_S * 1000
    )
    live_s = time.monotonic() - saved_at
    assert live_s < LIVE_WITHIN_S, live_s
    await expect(johan.locator("#action-groups")).to_contain_text("Socialtjänsten Ekby")
    await checks.shot(johan, "05-municipality-action")

    # Anna adds the health centre's action
    await click(anna.locator("#d-add-action summary"))
    add_action = anna.locator("#d-add-action")
    await add_action.get_by_label("Vad ska göras?").fill("Läkemedelsgenomgång")
    await add_action.get_by_label("Ansvarig organisation").select_option(label="Vårdcentralen Norrbacka")
    await click(add_action.get_by_role("button", name="Lägg till insats"))
    waiting_for_patient = {"PATIENT_GOALS", "PATIENT_ATTENDED", "RELATIVES_DECIDED", "PATIENT_APPROVED"}
    await until_codes(anna, waiting_for_patient)
    # finalize stays disabled, with the reasons beside it
    await expect(anna.locator("#finalize-button")).to_have_attribute("aria-disabled", "true")
    # the reasons are the checklist's, listed once: beside the button only how many are left
    reasons = anna.locator("#finalize-reasons")
    await expect(reasons).to_contain_text("Planen kan inte fastställas än: 4 punkter återstår i listan ovan.")
    assert await reasons.locator("li").count() == 0
    assert await anna.locator("#finalize-button").get_attribute("aria-describedby") == "finalize-reasons"
    await expect(blocker(anna, "RELATIVES_DECIDED")).to_contain_text("Bara patienten")
    await click(anna.locator("#finalize-button"), disabled=True)  # does nothing: the reasons stand
    await expect(anna.locator(".lead .status")).to_have_text("Status: Utkast")
    await checks.shot(anna, "06-finalize-disabled")

    # -- Elsa on her phone
    elsa = await signed_in(browser, world, "Elsa Andersson", checks, viewport=PHONE, is_mobile=True, has_touch=True)
    await click(elsa.get_by_role("link", name="Plan för Elsa Andersson"))
    await expect(elsa.get_by_role("heading", name="Vem kontaktar jag?")).to_be_visible()
    await expect(elsa.locator("#contact-list > li").first).to_contain_text("Anna Lind, Distriktssköterska")
    await expect(elsa.locator("#contact-list > li").first).to_contain_text("Vårdcentralen Norrbacka – samordnar planen")
    await checks.shot(elsa, "07-patient-plan")
    await elsa.get_by_label("Mitt mål, med mina egna ord").fill("Jag vill kunna gå till affären själv.")
    await click(elsa.get_by_role("button", name="Lägg till mål"))
    await expect(elsa.locator("#goal-list")).to_contain_text("Jag vill kunna gå till affären själv.")
    await click(elsa.get_by_role("button", name="Ändra: Jag vill kunna gå till affären själv."))
    editing = elsa.locator("#goal-list").get_by_label("Mitt mål, med mina egna ord")
    await expect(editing).to_be_focused()
    await editing.fill(GOAL)
    await click(elsa.locator("#goal-list").get_by_role("button", name="Spara"))
    await expect(elsa.locator("#goal-list")).to_contain_text(GOAL)
    await elsa.get_by_label("Per Andersson").check()
    await click(elsa.get_by_role("button", name="Spara mitt val"))
    await expect(elsa.locator("#sec-relatives")).to_contain_text("Du bestämde")
    await checks.shot(elsa, "08-patient-goal-relatives")
    await until_codes(anna, {"PATIENT_ATTENDED", "RELATIVES_INVITED", "PATIENT_APPROVED"})

    # -- Anna books an in-person meeting now (Stockholm time), invites, and attests Elsa was there
    attended = await open_fix(anna, "PATIENT_ATTENDED")
    start = datetime.now(STOCKHOLM) - timedelta(minutes=5)
    await attended.get_by_label("Typ av möte").select_option("IN_PERSON")
    await attended.get_by_label("Datum").fill(start.date().isoformat())
    await attended.get_by_label("Starttid (svensk tid)").fill(start.strftime("%H:%M"))
    await attended.get_by_label("Plats (frivilligt)").fill("Vårdcentralen Norrbacka, rum 12")
    await click(attended.get_by_role("button", name="Boka mötet"))
    await expect(anna.locator("#meeting-list")).to_contain_text(f"kl. {start.strftime('%H:%M')}")
    await click(blocker(anna, "RELATIVES_INVITED").get_by_role("button", name="Kalla till mötet: Per Andersson"))
    await until_codes(anna, {"PATIENT_ATTENDED", "PATIENT_APPROVED"})
    meetings = anna.locator("#sec-meetings")
    await click(meetings.locator("details[id^=d-invite-] summary"))  # Per is invited: the rest on request
    await expect(meetings.get_by_label("Elsa Andersson (Patient)")).to_be_checked()
    await click(meetings.get_by_role("button", name="Skicka kallelse"))
    elsa_line = anna.locator("#participant-list li").filter(has_text="Elsa Andersson")
    await expect(elsa_line.locator("p.hint")).to_have_text(re.compile(r"^kallad \d"))
    await click(blocker(anna, "PATIENT_ATTENDED").get_by_role("button", name="Intyga att Elsa Andersson var med"))
    await until_codes(anna, {"PATIENT_APPROVED"})
    await expect(anna.locator("#participant-list")).to_contain_text("var med (intygat av Anna Lind)")
    await expect(anna.locator("#finalize-button")).to_have_attribute("aria-disabled", "true")
    await checks.shot(anna, "09-waiting-for-approval")

    # -- Elsa approves this version; Anna's page learns it live
    await click(elsa.get_by_role("button", name="Jag godkänner planen"))
    await expect(elsa.locator("#approved")).to_contain_text("Du godkände den här versionen")
    await checks.shot(elsa, "10-patient-approved")
    await expect(anna.locator("#finalize-button")).not_to_have_attribute("aria-disabled", "true")
    await expect(anna.locator("#checklist")).to_have_count(0)

    # -- Anna finalizes
    await click(anna.locator("#finalize-button"))
    await expect(anna.locator(".lead .status")).to_have_text("Status: Fastställd")
    await expect(anna.locator("#revision-list")).to_contain_text("Version 1, fastställd")
    await expect(elsa.locator(".lead .status")).to_have_text("Status: Fastställd")  # live for Elsa too
    await checks.shot(anna, "11-finalized")

    # -- the print view for the patient
    await anna.goto(f"{plan_url}/print")
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
    await expect(anna.locator(".print-plan")).to_contain_text(GOAL)
    await anna.emulate_media(media="print")
    await anna.screenshot(path=ARTIFACTS / f"app-12-print-{world.backend}.png", full_page=True)
    await anna.emulate_media(media="screen")
    await checks.shot(anna, "12-print-view")

    # -- Elsa: who has looked at my plan (folded until she opens it)
    await unfold(elsa, "log")
    await click(elsa.get_by_role("button", name="Visa"))
    await expect(elsa.locator("#access-people")).to_contain_text("Johan Ek, Socialtjänsten Ekby")
    await checks.shot(elsa, "13-access-log")

    # -- the queue, with the needs-attention filter
    await johan.goto(f"{world.url}/app/#/plans")
    await expect(johan.locator("#plan-list")).to_contain_text("Fastställd")
    await johan.get_by_label("Behöver åtgärd").check()
    await expect(johan.locator("#queue-results")).to_contain_text("Inga planer att visa.")
    await checks.shot(johan, "14-queue-attention")

    # -- a revision: Anna reopens the plan, Johan adds an action, Elsa approves again, Anna finalizes;
    # the history says what changed
    await anna.goto(plan_url)
    await click(anna.get_by_role("button", name="Börja revidera planen"))
    await expect(anna.locator(".lead .status")).to_have_text("Status: Revideras")
    await until_codes(anna, {"PATIENT_APPROVED"})
    await johan.goto(plan_url)
    await click(johan.locator("#d-add-action summary"))
    await johan.locator("#d-add-action").get_by_label("Vad ska göras?").fill("Trygghetslarm")
    await click(johan.locator("#d-add-action").get_by_role("button", name="Lägg till insats"))
    await expect(anna.locator("#action-groups")).to_contain_text("Trygghetslarm")
    await expect(elsa.locator("#sec-actions")).to_contain_text("Trygghetslarm")
    await click(elsa.get_by_role("button", name="Jag godkänner planen"))
    await expect(elsa.locator("#approved")).to_be_visible()
    await expect(anna.locator("#finalize-button")).not_to_have_attribute("aria-disabled", "true")
    await click(anna.locator("#finalize-button"))
    await expect(anna.locator(".lead .status")).to_have_text("Status: Fastställd")
    history = anna.locator("#revision-list")
    await expect(history).to_contain_text("Version 2, fastställd")
    await expect(history.locator("li").first).to_contain_text("Tillagt: Insatser: Trygghetslarm")
    await checks.shot(anna, "17-revision-history")

    # -- Per, the son Elsa chose, reads the plan; he decides nothing on her behalf
    per = await signed_in(browser, world, "Per Andersson", checks, viewport=PHONE, is_mobile=True, has_touch=True)
    await click(per.get_by_role("link", name="Plan för Elsa Andersson"))
    await expect(per.get_by_text("Du ser planen för att Elsa Andersson vill ha med dig.")).to_be_visible()
    await expect(per.locator("#sec-actions")).to_contain_text("Trygghetslarm")
    for mine_only in ("#sec-relatives", "#sec-consent", "#sec-approve", "#sec-log"):
        await expect(per.locator(mine_only)).to_have_count(0)
    await checks.shot(per, "18-relative-view")


async def tab_to(page: Page, predicate: str, limit: int = 40) -> None:
    """Press Tab until the focused element satisfies the JS predicate `el => …`."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"({predicate})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {predicate}")


FOCUS_SHOWN = """el => { const s = getComputedStyle(el);
  return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none'; }"""


async def test_keyboard_only_and_large_text(world: Service, chromium: str, axe_source: str) -> None:
    """Skip link, visible focus, and a plan created with the keyboard alone; text at least 18 px."""
    checks = Checks(world, axe_source)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await expect(page.get_by_role("heading", level=1)).to_have_text("Mina planer")
            assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
            await page.keyboard.press("Tab")
            skip = page.locator("#skip")
            await expect(skip).to_be_focused()
            await expect(skip).to_be_in_viewport()
            assert await skip.evaluate(FOCUS_SHOWN)
            await page.keyboard.press("Enter")
            assert await page.evaluate("document.activeElement.id") == "main"
            assert page.url.endswith("/app/")  # the skip link does not disturb the route

            await tab_to(page, "el => el.textContent === 'Ny plan'")
            assert await page.evaluate(f"({FOCUS_SHOWN})(document.activeElement)")
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("heading", level=1)).to_be_focused()
            await page.keyboard.press("Tab")
            await expect(page.get_by_label("Personnummer (12 siffror)")).to_be_focused()
            await page.keyboard.type("194003122388")
            await page.keyboard.press("Enter")
            await expect(page.get_by_text("Patient: Elsa Andersson")).to_be_visible()
            await tab_to(page, "el => el.id === 'new-background'")
            await page.keyboard.type("Skapad med tangentbordet.")
            await tab_to(page, "el => el.textContent === 'Skapa planen'")
            await page.keyboard.press("Enter")
            await page.wait_for_url(re.compile(r"#/plans/[0-9a-f-]{36}$"))
            await expect(page.get_by_role("heading", level=1)).to_be_focused()
            # open a fix in the checklist and use it, still without a mouse
            await tab_to(page, "el => el.tagName === 'SUMMARY' && el.textContent === 'Sätt uppföljningsdatum'")
            await page.keyboard.press("Enter")
            await page.keyboard.press("Tab")
            await page.keyboard.type((datetime.now(STOCKHOLM) + timedelta(days=30)).strftime("%m%d%Y"))
            field = blocker(page, "FOLLOW_UP").get_by_label("Uppföljningsdatum")
            if not await field.input_value():  # the date field's keyboard order follows the browser's locale
                await field.fill((datetime.now(STOCKHOLM) + timedelta(days=30)).date().isoformat())
            await page.keyboard.press("Enter")
            await expect(blocker(page, "FOLLOW_UP")).to_have_count(0)
            await checks.shot(page, "20-keyboard")

            await page.goto(f"{world.url}/app/#/plans/00000000-0000-4000-8000-000000000000")
            await expect(page.get_by_role("alert")).to_have_text("Planen finns inte, eller så får du inte se den.")
            before = len(checks.console_problems)
            await page.get_by_role("button", name="Logga ut").click()
            await page.wait_for_url(f"{world.url}/")
            await page.goto(f"{world.url}/app/")
            await expect(page.get_by_role("link", name="Logga in")).to_have_attribute(
                "href", "/auth/login?next=%2Fapp%2F"
            )
            del checks.console_problems[before:]  # the service's home page (no favicon), /auth/me's 401
        finally:
            await browser.close()
    checks.verify()


async def test_version_conflict_in_plain_words_and_english(
    world: Service, chromium: str, axe_source: str, gql: Any
) -> None:
    """Someone else changed the plan and the page did not hear of it (its live updates held back):
    the refused change is explained in plain words, with a button that reads the plan again."""
    from conftest import op

    elsa = (await gql(op("FindPatient"), {"personalNumber": "194003122388"}, as_="staff-anna"))["patient"]
    plan = (await gql(op("CreatePlan"), {"input": {"patientId": elsa["id"]}}, as_="staff-anna"))["createPlan"]
    checks = Checks(world, axe_source)
    held = {"on": False}

    async def hold_back_changes(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if not (held["on"] and '"next"' in str(message)):
                ws.send(message)

        server.on_message(from_server)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = await signed_in(browser, world, "Anna Lind", checks, viewport=DESKTOP)
            await page.route_web_socket(re.compile(r"/graphql$"), hold_back_changes)
            await page.goto(f"{world.url}/app/#/plans/{plan['id']}")
            await expect(page.locator("#live-status")).to_have_text("Uppdateras direkt när någon ändrar planen.")
            held["on"] = True
            await gql(
                op("UpdatePlan"),
                {"planId": plan["id"], "expectedVersion": plan["version"], "input": {"background": "Ändrad."}},
                as_="staff-anna",
            )
            follow_up = (datetime.now(STOCKHOLM) + timedelta(days=30)).date().isoformat()
            fix = await open_fix(page, "FOLLOW_UP")
            await fix.get_by_label("Uppföljningsdatum").fill(follow_up)
            await click(fix.get_by_role("button", name="Spara"))
            conflict = page.locator("#conflict")
            await expect(conflict).to_contain_text("Någon annan ändrade planen medan du arbetade")
            await expect(conflict).to_be_focused()
            await checks.shot(page, "15-version-conflict", phone=False)
            held["on"] = False
            await click(conflict.get_by_role("button", name="Läs in planen igen"))
            await expect(conflict).to_have_count(0)
            await expect(page.locator("#plan-facts")).to_contain_text("Ändrad.")
            fix = await open_fix(page, "FOLLOW_UP")
            await fix.get_by_label("Uppföljningsdatum").fill(follow_up)
            await click(fix.get_by_role("button", name="Spara"))
            await expect(blocker(page, "FOLLOW_UP")).to_have_count(0)

            # in English: the page, the readiness messages from the API, dates still in Stockholm time
            await click(page.get_by_role("button", name="Byt språk till engelska"))
            await expect(page.get_by_role("heading", level=1)).to_have_text("Plan for Elsa Andersson")
            await expect(blocker(page, "CONSENT")).to_contain_text("consent")
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            # a video meeting: "start the video meeting" leads to the meeting page
            meeting = await open_fix(page, "PATIENT_ATTENDED")
            await meeting.get_by_label("Kind of meeting").select_option(label="Video meeting")
            await click(meeting.get_by_role("button", name="Book the meeting"))
            start = page.get_by_role("link", name="Start the video meeting").first
            await expect(start).to_have_attribute("href", re.compile(r"^/video/\?m=[0-9a-f-]{36}$"))
            await checks.shot(page, "16-english")
        finally:
            await browser.close()
    checks.verify()
