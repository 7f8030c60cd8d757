"""Two organisations and the patient make a plan together, as the people do it (issue 10): each in
their own browser, through the pages only, in this order.

Anna (nurse, Vårdcentralen Norrbacka) creates Elsa's plan and adds Johan (Socialtjänsten Ekby): her
page says at once that he waits for Elsa's consent. Johan's queue does not show the plan, and its
address tells him nothing. Elsa, on her phone, gives her consent for both organisations and chooses
her son Per (not her daughter Lena). Johan now finds the plan in his work queue and adds his action.
Anna books a video meeting and invites: Elsa by SMS, Per and the staff by e-mail; the messages, read
back from the SMS provider and a real SMTP server (aiosmtpd), say the right things in one language.
Lena, whom Elsa did not choose, can be neither invited nor given a link, on the page or through the
API. Elsa joins from the link in her SMS and Anna lets her in; the relay hears her, so she attended.
Elsa writes her goal and approves; Anna finalizes; the print view is the patient's copy.

Every page is checked by axe-core at its size and at 360×640, with no sideways scroll and no console
error. Screenshots: test-artifacts/app-story-*.png and video-story-*.png.

The story runs on the last backend only (PostgreSQL in CI): it is the longest test, and each of its
parts has tests of its own on both backends.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date
from icalendar import Calendar
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select
from test_app import DESKTOP, STOCKHOLM, Checks, blocker, click, open_fix, settled, signed_in

from sip_service.models.notify import OutboxMessage
from sip_service.notify import service as outbox
from sip_service.notify.senders import Senders, SmtpSender

from browsing import ARGS, ARTIFACTS, axe_source, chromium
from conftest import BACKENDS, GraphQLClient, Service, free_port, op
from helpers import WAIT_S, RecordingSms, Smtp

__all__ = ["axe_source", "chromium"]  # the fixtures (browsing.py)

PHONE_390 = {"width": 390, "height": 844}
ELSA, PER, LENA = "194003122388", "196805141234", "197101262345"
GOAL = "Jag vill klara mig hemma och gå till affären själv."
LINK = re.compile(r"https?://\S+/join#t=[A-Za-z0-9_-]+")
PHONE_NUMBER = re.compile(r"\b0\d{1,3}-\d{2,3} \d{2} \d{2}\b")
ENGLISH = re.compile(r"\b(meeting|invited|the link|join|your|Swedish time)\b", re.IGNORECASE)


@pytest.fixture
def smtp() -> Any:
    server = Smtp(free_port())
    server.start()
    with outbox.paused():  # the test sends the outbox itself, when the story has written to it
        yield server
    server.stop()


@pytest.mark.parametrize("service", BACKENDS[-1:], indirect=True)
async def test_two_organisations_and_the_patient_make_a_plan(
    world: Service, gql: GraphQLClient, smtp: Smtp, chromium: str, axe_source: str
) -> None:
    checks = Checks(world, axe_source)
    sms = RecordingSms()
    senders = Senders(SmtpSender("127.0.0.1", smtp.port, world.settings.mail_from), sms)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            await Story(browser, world, gql, checks, senders, sms, smtp).tell()
        finally:
            await browser.close()
    checks.verify()


class Story:
    def __init__(
        self,
        browser: Browser,
        world: Service,
        gql: GraphQLClient,
        checks: Checks,
        senders: Senders,
        sms: RecordingSms,
        smtp: Smtp,
    ) -> None:
        self.browser, self.world, self.gql, self.checks = browser, world, gql, checks
        self.senders, self.sms, self.smtp = senders, sms, smtp
        self.plan_url = ""

    async def shot(self, page: Page, name: str, **options: Any) -> None:
        await self.checks.shot(page, f"story-{name}", **options)

    async def tell(self) -> None:
        anna = await signed_in(self.browser, self.world, "Anna Lind", self.checks, viewport=DESKTOP)
        await self.anna_creates_the_plan(anna)
        johan = await signed_in(self.browser, self.world, "Johan Ek", self.checks, viewport=DESKTOP)
        await self.johan_cannot_see_it_yet(johan)
        elsa = await signed_in(
            self.browser, self.world, "Elsa Andersson", self.checks, viewport=PHONE_390, is_mobile=True, has_touch=True
        )
        await self.elsa_consents_and_chooses_per(elsa)
        await self.johan_finds_it_and_adds_his_action(johan, anna)
        meeting_id = await self.anna_books_and_invites(anna)
        await self.lena_can_be_neither_invited_nor_linked(anna, meeting_id)
        await self.messages_go_out()
        await self.elsa_joins_and_anna_lets_her_in(anna, meeting_id)
        await self.elsa_writes_her_goal_and_approves(elsa, anna)
        await self.anna_finalizes_and_prints(anna, elsa)
        self.messages_read_right()

    # ---- 1. Anna ---------------------------------------------------------------------------

    async def anna_creates_the_plan(self, anna: Page) -> None:
        await click(anna.get_by_role("navigation").get_by_role("link", name="Ny plan"))
        await anna.get_by_label("Personnummer (12 siffror)").fill(ELSA)
        await click(anna.get_by_role("button", name="Sök"))
        await expect(anna.get_by_text("Patient: Elsa Andersson")).to_be_visible()
        await anna.get_by_label("Bakgrund – varför behövs en plan?").fill(
            "Bor ensam, har fallit två gånger. Behöver hemtjänst efter sjukhusvistelsen."
        )
        await click(anna.get_by_role("button", name="Skapa planen"))
        await anna.wait_for_url(re.compile(r"#/plans/[0-9a-f-]{36}$"))
        self.plan_url = anna.url
        await expect(anna.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")

        # the municipality takes part: the page says at once that Johan waits for Elsa's consent
        cross = await open_fix(anna, "CROSS_ORGANISATION")
        await cross.get_by_label("Verksamhet").select_option(label="Socialtjänsten Ekby")
        await cross.get_by_label("Person").select_option(label="Johan Ek, Biståndshandläggare")
        await click(cross.get_by_role("button", name="Lägg till"))
        waiting = anna.locator("#participant-list .awaiting-consent")
        await expect(waiting).to_have_text(
            "Johan Ek (Socialtjänsten Ekby) kan se planen först när patientens samtycke omfattar "
            "Socialtjänsten Ekby. Be patienten om samtycke."
        )
        # Elsa's son and daughter; Elsa decides which of them take part
        for name, number in (("Per Andersson", PER), ("Lena Andersson", LENA)):
            await click(anna.locator("#d-add-relative summary"))
            relative = anna.locator("#d-add-relative")
            await relative.get_by_label("Namn").fill(name)
            await relative.get_by_label("Personnummer (12 siffror)").fill(number)
            await click(relative.get_by_role("button", name="Lägg till närstående"))
            await expect(anna.locator("#participant-list")).to_contain_text(name)
        follow_up = self.follow_up = (datetime.now(STOCKHOLM) + timedelta(days=90)).date()
        fix = await open_fix(anna, "FOLLOW_UP")
        await fix.get_by_label("Uppföljningsdatum").fill(follow_up.isoformat())
        await click(fix.get_by_role("button", name="Spara"))
        await expect(blocker(anna, "FOLLOW_UP")).to_have_count(0)
        await waiting.scroll_into_view_if_needed()
        await self.shot(anna, "01-anna-johan-waits-for-consent")

    # ---- 2. Johan, before Elsa's consent -------------------------------------------------------

    async def johan_cannot_see_it_yet(self, johan: Page) -> None:
        await settled(johan)
        await expect(johan.locator("main")).not_to_contain_text("Elsa Andersson")  # his queue
        await click(johan.locator("#nav-inbox"))
        await expect(johan.get_by_role("heading", level=1)).to_have_text("Att göra")
        await expect(johan.locator("main")).not_to_contain_text("Elsa Andersson")
        await johan.goto(self.plan_url)
        await expect(johan.get_by_role("alert")).to_have_text("Planen finns inte, eller så får du inte se den.")
        await self.shot(johan, "02-johan-not-yet")

    # ---- 3. Elsa on her phone ------------------------------------------------------------------

    async def elsa_consents_and_chooses_per(self, elsa: Page) -> None:
        await click(elsa.get_by_role("link", name="Plan för Elsa Andersson"))
        await expect(elsa.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
        await self.shot(elsa, "03-elsa-plan")
        consent = elsa.locator("#sec-consent")
        await expect(consent.get_by_label("Vårdcentralen Norrbacka")).to_be_checked()
        await expect(consent.get_by_label("Socialtjänsten Ekby")).to_be_checked()
        await click(consent.get_by_role("button", name="Spara mitt samtycke"))
        await expect(elsa.locator("#consent-summary")).to_contain_text("Du gav ditt samtycke digitalt")
        relatives = elsa.locator("#sec-relatives")
        await relatives.get_by_label("Per Andersson").check()
        await click(relatives.get_by_role("button", name="Spara mitt val"))
        await expect(relatives).to_contain_text("Du bestämde")
        await self.shot(elsa, "04-elsa-consent-and-relatives")

    # ---- 4. Johan, after it ----------------------------------------------------------------------

    async def johan_finds_it_and_adds_his_action(self, johan: Page, anna: Page) -> None:
        await johan.goto(f"{self.world.url}/app/#/plans")
        await expect(johan.locator("#plan-list")).to_contain_text("Plan för Elsa Andersson")
        await expect(johan.locator("#queue-inbox")).to_contain_text("Du har 1 ny sak att göra.")
        await click(johan.locator("#nav-inbox"))
        new = johan.locator("#inbox-NEW_PLAN li").filter(has_text="Elsa Andersson")
        await expect(new).to_contain_text("Du är med i planen och har inte öppnat den än.")
        await expect(new.locator(".new-label")).to_have_count(1)
        await self.shot(johan, "05-johan-finds-the-plan-in-his-inbox")
        await click(new.get_by_role("link", name="Plan för Elsa Andersson"))
        await expect(johan.get_by_role("heading", level=1)).to_have_text("Plan för Elsa Andersson")
        await expect(anna.locator("#participant-list .awaiting-consent")).to_have_count(0)  # live for Anna
        overall = await open_fix(johan, "OVERALL_RESPONSIBILITY")
        await overall.get_by_label("Övergripande ansvar").select_option(label="Vårdcentralen Norrbacka")
        await click(overall.get_by_role("button", name="Spara"))
        await expect(blocker(johan, "OVERALL_RESPONSIBILITY")).to_have_count(0)
        action = await open_fix(johan, "ACTIONS")
        await action.get_by_label("Vad ska göras?").fill("Hemtjänst morgon och kväll, hjälp med dusch")
        await click(action.get_by_role("button", name="Lägg till insats"))
        await expect(johan.locator("#action-groups")).to_contain_text("Hemtjänst morgon och kväll")
        await expect(anna.locator("#action-groups")).to_contain_text("Hemtjänst morgon och kväll")
        await self.shot(johan, "06-johan-action")

    # ---- 5. Anna books a video meeting and invites ---------------------------------------------

    async def anna_books_and_invites(self, anna: Page) -> str:
        start = (datetime.now(STOCKHOLM) + timedelta(minutes=5)).replace(second=0, microsecond=0)
        self.start = start
        booking = await open_fix(anna, "PATIENT_ATTENDED")
        await booking.get_by_label("Typ av möte").select_option("VIDEO")
        await booking.get_by_label("Datum").fill(start.date().isoformat())
        await booking.get_by_label("Starttid (svensk tid)").fill(start.strftime("%H:%M"))
        await click(booking.get_by_role("button", name="Boka mötet"))
        meetings = anna.locator("#sec-meetings")
        await expect(meetings).to_contain_text(f"kl. {start.strftime('%H:%M')}")
        invite = meetings.locator("form[id^=inv-]")
        meeting_id = (await invite.get_attribute("id") or "").removeprefix("inv-")
        # Elsa by SMS (she is ticked in advance, as the patient)
        await expect(invite.get_by_label("Elsa Andersson (Patient)")).to_be_checked()
        await invite.get_by_label("Hur?").select_option("SMS")
        await click(invite.get_by_role("button", name="Skicka kallelse"))
        await expect(anna.locator("#participant-list li").filter(has_text="Elsa Andersson")).to_contain_text("kallad")
        await expect(meetings.locator(".saved-note")).to_have_text("Sparat.")  # the form is emptied: the next one
        # Per and the staff by e-mail; Lena, whom Elsa did not choose, cannot be ticked
        await click(meetings.locator(f"#d-invite-{meeting_id} summary"))  # "Kalla fler till mötet"
        invite = meetings.locator(f"#inv-{meeting_id}")
        await expect(invite.get_by_label("Lena Andersson (Närstående)")).to_have_count(0)
        for who in ("Per Andersson (Närstående)", "Johan Ek (Personal)", "Anna Lind (Personal)"):
            await invite.get_by_label(who).check()
        await invite.get_by_label("Hur?").select_option("EMAIL")
        await click(invite.get_by_role("button", name="Skicka kallelse"))
        await expect(meetings).to_contain_text("Alla är kallade.")
        await self.shot(anna, "07-anna-invited")
        return meeting_id

    async def lena_can_be_neither_invited_nor_linked(self, anna: Page, meeting_id: str) -> None:
        plan = await self.detail()
        lena = next(p for p in plan["participants"] if p["name"] == "Lena Andersson")
        meeting = next(m for m in plan["meetings"] if m["id"] == meeting_id)
        for name, variables in (
            ("InviteToMeeting", {"participantIds": [lena["id"]], "channel": "EMAIL"}),
            ("IssueInviteLink", {"participantId": lena["id"]}),
        ):
            answer = await self.gql(
                op(name),
                {"meetingId": meeting_id, "expectedVersion": meeting["version"], **variables},
                as_="staff-anna",
            )
            result = next(iter(answer.values()))
            assert result.get("code") == "RELATIVE_NOT_CHOSEN", (name, result)
        # the page offers no link for her either
        await expect(anna.locator("#sec-meetings").get_by_role("button", name=re.compile("Lena"))).to_have_count(0)

    async def messages_go_out(self) -> None:
        result = await outbox.run_once(self.world.db, self.senders, max_attempts=3)
        assert result.failed == 0 and not result.errors, result
        async with self.world.db.read() as s:
            self.written = list(await s.scalars(select(OutboxMessage)))
        to_elsa = [m for m in self.written if m.address in ("+46701234501", "elsa.andersson@example.se")]
        assert len(to_elsa) == 1, to_elsa
        found = LINK.search(to_elsa[0].body)
        assert found, to_elsa[0].body
        self.elsa_link = found.group(0)

    def messages_read_right(self) -> None:
        """Each message as its reader gets it: by the channel Anna chose, in one language (Swedish
        here), with the weekday and date in words, who invites and whom to call, and how to join."""
        when = format_date(self.start, "EEEE d MMMM", locale="sv") + f" kl. {self.start:%H.%M}"
        by_address = {m.address: m for m in self.written}
        assert sorted(by_address) == sorted(
            ["+46701234501", "per.andersson@example.se", "anna.lind@norrbacka.example", "johan.ek@ekby.example"]
        ), sorted(by_address)
        assert [m.address for m in self.sms.sent] == ["+46701234501"]  # Elsa: the SMS Anna chose
        elsa = self.sms.sent[0].body
        for said in (when, "Öppna länken", "väntrum", "Ring Anna Lind", "Vårdcentralen Norrbacka"):
            assert said in elsa, (said, elsa)
        assert LINK.search(elsa) and PHONE_NUMBER.search(elsa), elsa

        mails = {m["To"]: m for m in self.smtp.mails}
        assert sorted(mails) == sorted(a for a in by_address if "@" in a), sorted(mails)
        per = mails["per.andersson@example.se"]
        per_text = per.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for said in ("Hej Per!", "Elsa vill att du är med.", when, "Ring Anna Lind", "Länken är personlig"):
            assert said in per_text, (said, per_text)
        assert LINK.search(per_text) and PHONE_NUMBER.search(per_text), per_text
        for address in ("anna.lind@norrbacka.example", "johan.ek@ekby.example"):
            staff_text = mails[address].get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "/video/?m=" in staff_text and "/join#t=" not in staff_text, staff_text  # they sign in
        for address, mail in mails.items():
            calendar = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
            assert len(calendar) == 1, address
            event = Calendar.from_ical(calendar[0].get_content()).walk("VEVENT")[0]
            assert "möte" in str(event["SUMMARY"]), (address, event["SUMMARY"])
        for m in self.written:  # one language; the personal number never travels by e-mail or SMS
            words = re.sub(r"https?://\S+", "", f"{m.subject}\n{m.body}")  # the addresses aside
            assert not ENGLISH.search(words), m.body
            assert ELSA not in m.body and "19400312" not in m.body, m.body

    # ---- 6. the meeting ------------------------------------------------------------------------

    async def elsa_joins_and_anna_lets_her_in(self, anna: Page, meeting_id: str) -> None:
        room = await anna.context.new_page()
        self.checks.watch(room)
        await room.goto(f"{self.world.url}/video/?m={meeting_id}")
        await room.get_by_role("button", name="Gå in i mötet").click()
        await expect(room.get_by_role("heading", name="Ingen väntar på att komma in.")).to_be_visible()

        phone = await self.browser.new_context(
            locale="sv-SE", viewport=PHONE_390, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        elsa = await phone.new_page()
        self.checks.watch(elsa)
        await elsa.goto(self.elsa_link)
        await expect(elsa.get_by_role("heading", name="Välkommen, Elsa Andersson")).to_be_visible()
        await elsa.get_by_role("button", name="Gå med").tap()
        await expect(elsa.locator("#lobby-text")).to_have_text("Du väntar på att personalen släpper in dig.")
        await elsa.screenshot(path=ARTIFACTS / f"video-story-elsa-lobby-{self.world.backend}.png", full_page=True)
        await room.get_by_role("button", name="Släpp in Elsa Andersson").click()
        await expect(elsa.get_by_role("button", name="Lämna mötet")).to_be_visible()
        # the relay hears her: her attendance is established by the media, and the plan knows it
        await expect(blocker(anna, "PATIENT_ATTENDED")).to_have_count(0, timeout=WAIT_S * 2000)
        await elsa.screenshot(path=ARTIFACTS / f"video-story-elsa-room-{self.world.backend}.png")
        await room.screenshot(path=ARTIFACTS / f"video-story-anna-room-{self.world.backend}.png")
        await elsa.get_by_role("button", name="Lämna mötet").tap()
        await expect(elsa.get_by_role("heading", name="Du har lämnat mötet")).to_be_visible()
        await phone.close()
        await room.close()

    # ---- 7. Elsa approves, Anna finalizes ------------------------------------------------------

    async def elsa_writes_her_goal_and_approves(self, elsa: Page, anna: Page) -> None:
        await elsa.get_by_label("Mitt mål, med mina egna ord").fill(GOAL)
        await click(elsa.get_by_role("button", name="Lägg till mål"))
        await expect(elsa.locator("#goal-list")).to_contain_text(GOAL)
        await click(elsa.get_by_role("button", name="Jag godkänner planen"))
        await expect(elsa.locator("#approved")).to_contain_text("Du godkände den här versionen")
        await self.shot(elsa, "08-elsa-approved")
        await expect(anna.locator("#finalize-button")).not_to_have_attribute("aria-disabled", "true")

    async def anna_finalizes_and_prints(self, anna: Page, elsa: Page) -> None:
        await click(anna.locator("#finalize-button"))
        await expect(anna.locator(".lead .status")).to_have_text("Status: Fastställd")
        await expect(elsa.locator(".lead .status")).to_have_text("Status: Fastställd")
        await self.shot(anna, "09-anna-finalized")
        await anna.goto(f"{self.plan_url}/print")
        printed = anna.locator(".print-plan")
        await expect(printed).to_contain_text(GOAL)
        await expect(printed).to_contain_text("Hemtjänst morgon och kväll")
        # the patient's copy: her personal number, the version, when it was printed, what comes next,
        # whom to call, and her consent and approval said to her
        today = format_date(datetime.now(STOCKHOLM).date(), "d MMMM yyyy", locale="sv")
        follow_up = format_date(self.follow_up, "d MMMM yyyy", locale="sv")
        await expect(printed.locator("#print-version dd")).to_have_text("1")
        for said in ("19400312-2388", today, follow_up, "Anna Lind", "Du gav ditt samtycke digitalt"):
            await expect(printed).to_contain_text(said)
        assert PHONE_NUMBER.search(await printed.inner_text()), await printed.inner_text()
        await expect(printed).to_contain_text("Du godkände den här versionen")
        await anna.emulate_media(media="print")
        await anna.screenshot(path=ARTIFACTS / f"app-story-10-print-{self.world.backend}.png", full_page=True)
        await anna.emulate_media(media="screen")
        await self.shot(anna, "10-print-view")

    async def detail(self) -> dict[str, Any]:
        plan_id = self.plan_url.rsplit("/", 1)[1]
        plan: dict[str, Any] = (await self.gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
        return plan
