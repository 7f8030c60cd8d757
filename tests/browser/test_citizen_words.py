"""Plain words for citizens: on the demo data, the patient (Elsa), her son (Per) and Gustav's god man
(Maria) read their plan list, their plan (every form opened, the access log shown) and its print view
at phone (390×844) and desktop (1280×800) size. What they see speaks to them ("du"): none of the
staff's checklist wording, no codes, no IDs, counts in their plural form ("1 gång", never "1 gånger"),
and every id in the document once. The plain sentences that say what is left, and the consent, are
there. Screenshots: test-artifacts/citizen-words-<role>-<page>-<size>.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from test_no_null import SIZES, Demo, app_route, demo, shown

from browsing import ARGS, ARTIFACTS, chromium

__all__ = ["chromium", "demo"]  # the fixtures (browsing.py, test_no_null.py)

# the staff's words and the service's codes: never shown to a patient or relative
STAFF_WORDS = [
    "Patienten har",
    "Patienten (eller",
    "patientens egna ord",
    "deltagande organisation",
    "Samtycke digitalt",
    "digitalt av patienten",
    "Klar att fastställas",
    "Bestäm vilken",
    "Insatsen saknar",
    "Sätt ett datum",
]
CODES = r"\b(PATIENT_[A-Z_]+|CONSENT|CROSS_ORGANISATION|OVERALL_RESPONSIBILITY|RELATIVES_[A-Z]+|FOLLOW_UP|ACTIONS)\b"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ONE_MANY = r"(?<![\d,.])1 (gånger|saker|times|things)\b"
DUPLICATE_IDS = """() => {
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
}"""

ROLES = {
    "citizen-elsa": ("Elsa Andersson", "elsa"),  # the patient
    "citizen-per": ("Per Andersson", "elsa"),  # Elsa's son, the relative she wants
    "citizen-maria": ("Maria Svensson", "gustav"),  # Gustav's god man
}
# sentences each must see somewhere on the way (the demo: Elsa's plan is active, her consent given
# orally to Anna Lind; Gustav's is being revised and waits for approval)
EXPECTED: dict[str, list[str]] = {
    "citizen-elsa": [
        "Du gav ditt samtycke muntligt till Anna Lind den ",
        "Då får de här verksamheterna dela information",
        "Läste planen ",
    ],
    "citizen-per": [
        "Elsa Andersson gav sitt samtycke muntligt till Anna Lind den ",
        "Du ser planen för att Elsa Andersson",
    ],
    "citizen-maria": ["Innan planen är klar", "Du har inte godkänt planen ännu.", "återstår innan planen är klar"],
}


def problems(text: str, where: str) -> list[str]:
    out = [f"{where}: staff wording {w!r}" for w in STAFF_WORDS if w in text]
    for pattern, what in ((CODES, "a code"), (UUID, "an id"), (ONE_MANY, "a wrong plural")):
        out += [f"{where}: {what} {m.group(0)!r}" for m in re.finditer(pattern, text)]
    return out


async def look(page: Page, role: str, size: str, name: str, texts: list[str], found: list[str]) -> None:
    where = f"{role} · {size} · {name}"
    await page.screenshot(path=ARTIFACTS / f"citizen-words-{role}-{name}-{size}.png", full_page=True)
    text = await page.evaluate("document.body.innerText")
    texts.append(text)
    found += problems(text, where)
    found += [f"{where}: id {d} is not unique" for d in await page.evaluate(DUPLICATE_IDS)]


async def walk(browser: Browser, demo: Demo, role: str, size: str) -> tuple[list[str], list[str]]:
    name, who = ROLES[role]
    phone = size == "phone"
    context = await browser.new_context(locale="sv-SE", viewport=SIZES[size], is_mobile=phone, has_touch=phone)
    texts: list[str] = []
    found: list[str] = []
    try:
        page = await context.new_page()
        url = demo.world.url
        await page.goto(f"{url}/auth/login?next=/app/")
        await page.get_by_role("button", name=re.compile(name)).click()
        await expect(page.locator("#signed-in-name")).to_have_text(name)
        await shown(page, "#/plans")
        await look(page, role, size, "queue", texts, found)
        plan_id = demo.plans[who.capitalize()]
        await app_route(page, url, f"#/plans/{plan_id}")
        await look(page, role, size, "plan", texts, found)
        # every folded section and every form opened: their labels, choices and hints too
        await page.locator('main button.fold[aria-expanded="false"]').evaluate_all("bs => bs.forEach(b => b.click())")
        await page.locator("main details:not([open]) > summary").evaluate_all("ss => ss.forEach(s => s.click())")
        log = page.locator("#show-log")
        if await log.count():
            await log.click()
            await expect(page.locator("#access-people")).to_be_visible()
        await look(page, role, size, "plan-opened", texts, found)
        await app_route(page, url, f"#/plans/{plan_id}/print")
        await look(page, role, size, "print", texts, found)
    finally:
        await context.close()
    return texts, found


@pytest.mark.parametrize("role", list(ROLES))
async def test_citizens_read_plain_words(demo: Demo, chromium: str, role: str) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            walks = [await walk(browser, demo, role, size) for size in SIZES]
        finally:
            await browser.close()
    found = [problem for _, problems_ in walks for problem in problems_]
    assert not found, "\n".join(found)
    for texts, _ in walks:
        seen = "\n".join(texts)
        missing = [sentence for sentence in EXPECTED[role] if sentence not in seen]
        assert not missing, f"{role}: not shown: {missing}\n{seen}"


def test_the_word_checks_catch_what_they_should() -> None:
    """The checks themselves: each catches its case, and leaves plain text alone."""
    assert problems("Patienten har inte gett samtycke", "x")
    assert problems("Läste 3 gånger, ändrade 1 gånger.", "x")
    assert problems("id 0f8fad5b-d9cb-469f-a165-70867728950e", "x")
    assert problems("PATIENT_APPROVED", "x")
    assert not problems("Läste planen 11 gånger. Ändrade i planen 1 gång. Fallit två gånger.", "x")
