"""No page says "null": on the demo data, every role — signed out, staff (a nurse, the municipal care
planner, a nurse of another health centre, the auditor), patients, a relative and a representative
(god man) — reads every page it reaches (work queue and its filter, each plan it may see with every
form opened, the print view, creating a plan, the patient's access log, the video meeting page: the
invite link, the lobby, the room) at desktop (1280×800) and phone (390×844) size. The visible text
(document.body.innerText), the title and the accessible names and hints (aria-label, title, alt,
placeholder) must not hold the words `null`, `undefined`, `NaN` or `[object Object]`: what a script
shows where it meant to show nothing. Each page is also checked by axe-core (no serious or critical
finding) and for fit (no sideways scrolling). Screenshots: test-artifacts/pages-<role>-<page>-<size>-*.png.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from sip_service.demo import seed
from sip_service.models import Base

from browsing import ARGS, ARTIFACTS, RUN_AXE, axe_source, chromium
from conftest import GraphQLClient, Service, op

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

SIZES: dict[str, ViewportSize] = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# who signs in (the name on the development provider's page); None: nobody
ROLES: dict[str, str | None] = {
    "signed-out": None,
    "staff-anna": "Anna Lind",  # nurse, Vårdcentralen Norrbacka: made the demo's plans
    "staff-johan": "Johan Ek",  # care planner, Socialtjänsten Ekby: takes part in them
    "staff-karin": "Karin Berg",  # nurse, Vårdcentralen Åstorp: the discharge of a patient with protected identity
    "staff-ulla": "Ulla Åberg",  # auditor, Region Sörmark: no plans of her own
    "citizen-elsa": "Elsa Andersson",  # patient (active plan)
    "citizen-gustav": "Gustav Nilsson",  # patient (plan being revised) with a god man
    "citizen-per": "Per Andersson",  # Elsa's son, the relative she wants
    "citizen-maria": "Maria Svensson",  # Gustav's god man (representative)
}
WORDS = r"\b(null|undefined|NaN)\b|\[object Object\]"
FIND = """(pattern) => {
  const re = new RegExp(pattern, "g");
  const found = [];
  const look = (where, text) => {
    for (const m of (text || "").matchAll(re)) {
      const around = text.slice(Math.max(0, m.index - 50), m.index + m[0].length + 50).replace(/\\s+/g, " ");
      found.push(`${where}: ${m[0]} in "…${around}…"`);
    }
  };
  look("text", document.body.innerText);
  look("title", document.title);
  for (const name of ["aria-label", "title", "alt", "placeholder"]) {
    for (const el of document.querySelectorAll(`[${name}]`)) look(name, el.getAttribute(name));
  }
  return found;
}"""
SERIOUS = {"serious", "critical"}


@dataclass
class Demo:
    world: Service
    plans: dict[str, str]  # patient's first name → plan id
    meetings: dict[str, str]  # patient's first name → the video meeting's id
    guest_link: str  # Maria's personal link to Gustav's video meeting


@pytest.fixture
async def demo(world: Service, gql: GraphQLClient) -> Demo:
    """The demo as `sip-service seed-demo` makes it, and a video meeting on Elsa's and on Gustav's
    plan (in five minutes, the patient's side and the wanted relatives invited by SMS), with a
    personal link for Gustav's god man Maria."""
    async with world.db.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "audit_events":
                await session.execute(table.delete())
    assert await seed(world.db, world.settings)
    nodes = (await gql(op("AppWorkQueue"), {"first": 50, "language": "SV"}, as_="staff-anna"))["plans"]["nodes"]
    plans = {n["patient"]["name"].split()[0]: n["id"] for n in nodes}
    meetings: dict[str, str] = {}
    link = ""
    start = datetime.now(UTC) + timedelta(minutes=5)
    for patient in ("Elsa", "Gustav"):
        variables = {
            "planId": plans[patient],
            "input": {
                "kind": "VIDEO",
                "startsAt": start.isoformat(),
                "endsAt": (start + timedelta(hours=1)).isoformat(),
            },
        }
        meeting = (await gql(op("ScheduleMeeting"), variables, as_="staff-anna"))["scheduleMeeting"]
        plan = (await gql(op("PlanDetail"), {"id": plans[patient]}, as_="staff-anna"))["plan"]
        invited = [
            p
            for p in plan["participants"]
            if p["kind"] in ("PATIENT", "REPRESENTATIVE") or (p["kind"] == "RELATIVE" and p["wantedByPatient"])
        ]
        variables = {
            "meetingId": meeting["id"],
            "expectedVersion": meeting["version"],
            "participantIds": [p["id"] for p in invited],
            "channel": "SMS",
        }
        meeting = (await gql(op("InviteToMeeting"), variables, as_="staff-anna"))["inviteToMeeting"]
        meetings[patient] = meeting["id"]
        if patient == "Gustav":
            maria = next(p["id"] for p in invited if p["kind"] == "REPRESENTATIVE")
            variables = {"meetingId": meeting["id"], "expectedVersion": meeting["version"], "participantId": maria}
            link = (await gql(op("IssueInviteLink"), variables, as_="staff-anna"))["issueInviteLink"]["url"]
    return Demo(world, plans, meetings, link)


@dataclass
class Reader:
    """Reads each page as it is shown: the words, axe-core, the fit; a screenshot of each."""

    page: Page
    role: str
    size: str
    backend: str
    axe: str
    found: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    async def read(self, name: str) -> None:
        where = f"{self.role} · {self.size} · {name}"
        self.seen.append(name)
        path = ARTIFACTS / f"pages-{self.role}-{name}-{self.size}-{self.backend}.png"
        await self.page.screenshot(path=path, full_page=True)
        self.found += [f"{where}: {problem}" for problem in await self.page.evaluate(FIND, WORDS)]
        wide = await self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if wide > 0:
            self.found.append(f"{where}: {wide}px wider than the screen")
        if not await self.page.evaluate("() => typeof window.axe === 'object'"):
            await self.page.evaluate(self.axe)  # through the debugger protocol: the page's CSP stays as it is
        for v in await self.page.evaluate(RUN_AXE):
            if v["impact"] in SERIOUS:
                self.found.append(f"{where}: axe {v['id']} ({v['impact']}): {v['help']} at {v['nodes']}")


async def shown(page: Page, route: str) -> None:
    """The plans app shows `route` (data-route), its data read (no aria-busy)."""
    await expect(page.locator(f'main[data-route="{route}"]:not([aria-busy])')).to_have_count(1)


async def app_route(page: Page, url: str, route: str) -> None:
    await page.goto(f"{url}/app/{route}")
    await shown(page, route)


async def video_phase(page: Page, *phases: str) -> None:
    """The meeting page reached one of these phases (window.sipVideo, its read-only hook)."""
    await page.wait_for_function(
        "phases => window.sipVideo && phases.includes(window.sipVideo.state.phase)", arg=list(phases)
    )


async def signed_out(reader: Reader, demo: Demo) -> None:
    page, url = reader.page, demo.world.url
    await page.goto(f"{url}/")
    await expect(page.locator("body")).not_to_be_empty()
    await reader.read("home")
    await page.goto(f"{url}/app/")
    await shown(page, "sign-in")
    await reader.read("app-sign-in")
    await page.goto(f"{url}/auth/login?next=/app/")
    await expect(page.get_by_role("button", name=re.compile("Anna Lind"))).to_be_visible()
    await reader.read("provider")
    await page.goto(f"{url}/video/?m={demo.meetings['Gustav']}")
    await video_phase(page, "signin")
    await reader.read("video-sign-in")
    await page.goto(f"{url}/join")
    await video_phase(page, "error")
    await reader.read("video-no-link")
    # a guest: Maria's personal link, one tap, the lobby (waiting to be let in)
    await page.goto(demo.guest_link)
    await video_phase(page, "start")
    await reader.read("video-invite")
    await page.get_by_role("button", name="Gå med").click()
    await video_phase(page, "lobby")
    await expect(page.locator("#lobby-text")).not_to_be_empty()
    await reader.read("video-lobby")
    await page.get_by_role("button", name="Lämna mötet").click()
    await video_phase(page, "left")
    await reader.read("video-left")


async def signed_in(reader: Reader, demo: Demo, name: str) -> None:
    page, url = reader.page, demo.world.url
    await page.goto(f"{url}/auth/login?next=/app/")
    await page.get_by_role("button", name=re.compile(name)).click()
    await page.wait_for_url(re.compile(r"/app/"))
    await expect(page.locator("#signed-in-name")).to_have_text(name)
    await shown(page, "#/plans")
    await reader.read("queue")
    staff = await page.locator("#filter-attention").count() > 0
    if staff:
        await page.locator("#filter-attention").check()
        await shown(page, "#/plans")
        await reader.read("queue-attention")
        await page.locator("#filter-status").select_option("CLOSED")
        await shown(page, "#/plans")
        await reader.read("queue-attention-closed")
        await page.locator("#filter-attention").uncheck()
        await page.locator("#filter-status").select_option("")
        await shown(page, "#/plans")
    # each plan in the list, by its patient's first name ("Plan för Elsa Andersson")
    links = await page.locator("#plan-list a").evaluate_all(
        "as => as.map(a => [a.getAttribute('href').split('/').pop(), a.textContent.split(' ')[2].toLowerCase()])"
    )
    videos: list[str] = []
    for plan_id, who in links:
        await app_route(page, url, f"#/plans/{plan_id}")
        await expect(page.locator("main h1")).to_have_text(re.compile(f"^Plan för {who}", re.IGNORECASE))
        await reader.read(f"plan-{who}")
        # every folded section and every form opened: their labels, choices and hints too
        await page.locator('main button.fold[aria-expanded="false"]').evaluate_all("bs => bs.forEach(b => b.click())")
        await page.locator("main details:not([open]) > summary").evaluate_all("ss => ss.forEach(s => s.click())")
        log = page.locator("#show-log")
        if await log.count():  # the patient's "who has looked at my plan"
            await log.click()
            await expect(page.locator("#access-log")).not_to_be_empty()
        await reader.read(f"plan-{who}-opened")
        videos += await page.locator('main a[href^="/video/"]').evaluate_all(
            "as => as.map(a => a.getAttribute('href'))"
        )
        await app_route(page, url, f"#/plans/{plan_id}/print")
        await expect(page.locator("main h1")).to_have_text(re.compile(f"^Plan för {who}", re.IGNORECASE))
        await reader.read(f"print-{who}")
    if staff:
        await app_route(page, url, "#/inbox")  # "Att göra", after the plans were opened
        await reader.read("inbox")
        await app_route(page, url, "#/new")
        await reader.read("new")
        for pnr, who, answer in (
            ("194003122388", "elsa", "Patient: Elsa Andersson"),
            ("194511305678", "birgitta", "Patient: Birgitta Olsson"),  # protected identity
            ("190001010000", "nobody", "Ingen med det personnumret finns i registret."),  # in Swedish, too
            ("1234", "bad", "Personnumret ska ha 12 siffror"),
        ):
            await page.locator("#new-pnr").fill(pnr)
            await page.get_by_role("button", name="Sök").click()
            await expect(page.locator("#new-patient p")).to_contain_text(answer)
            await reader.read(f"new-{who}")
    for href in dict.fromkeys(videos):
        await page.goto(f"{url}{href}")
        await video_phase(page, "prejoin", "lobby")  # ready to go in, or waiting to be let in
        await reader.read("video-" + ("elsa" if href.endswith(demo.meetings["Elsa"]) else "gustav"))
    if reader.role == "staff-anna" and videos:  # into the room, alone, and out again
        await page.goto(f"{url}/video/?m={demo.meetings['Gustav']}")
        await page.get_by_role("button", name="Gå in i mötet").click()
        await video_phase(page, "room")
        await expect(page.locator("#tiles .tile")).to_have_count(1)
        await reader.read("video-room")
        await page.get_by_role("button", name="Lämna mötet").click()
        await video_phase(page, "left")
        await reader.read("video-left")


async def read_as(browser: Browser, demo: Demo, role: str, size: str, axe: str) -> Reader:
    phone = size == "phone"
    context = await browser.new_context(locale="sv-SE", viewport=SIZES[size], is_mobile=phone, has_touch=phone)
    try:
        page = await context.new_page()
        reader = Reader(page, role, size, demo.world.backend, axe)
        page.on("pageerror", lambda error: reader.found.append(f"{role} · {size}: page error: {error}"))
        name = ROLES[role]
        if name is None:
            await signed_out(reader, demo)
        else:
            await signed_in(reader, demo, name)
        return reader
    finally:
        await context.close()


# What each role reaches, beyond the queue: the plans in its list (in the queue's order), and the
# video meetings it is invited to.
REACHES: dict[str, tuple[list[str], list[str]]] = {
    "staff-anna": (["gustav", "elsa", "olle"], ["video-gustav", "video-elsa", "video-room", "video-left"]),
    "staff-johan": (["gustav", "elsa", "olle"], ["video-gustav", "video-elsa"]),
    "staff-karin": (["birgitta"], []),
    "staff-ulla": ([], []),
    "citizen-elsa": (["elsa"], ["video-elsa"]),
    "citizen-gustav": (["gustav"], ["video-gustav"]),
    "citizen-per": (["elsa"], ["video-elsa"]),
    "citizen-maria": (["gustav"], ["video-gustav"]),
}


@pytest.mark.parametrize("role", list(ROLES))
async def test_no_page_says_null(demo: Demo, chromium: str, axe_source: str, role: str) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            readers = [await read_as(browser, demo, role, size, axe_source) for size in SIZES]
        finally:
            await browser.close()
    found = [problem for reader in readers for problem in reader.found]
    assert not found, "\n".join(found)
    for reader in readers:  # the walk reached what it should (a walk that saw nothing proves nothing)
        if role == "signed-out":
            assert "video-lobby" in reader.seen, reader.seen
            continue
        plans, videos = REACHES[role]
        assert [s[5:] for s in reader.seen if re.fullmatch(r"plan-[a-z]+", s)] == plans, reader.seen
        assert [s for s in reader.seen if s.startswith("video-")] == videos, reader.seen
