"""Sign-in end to end in headless Chromium (Debian's /usr/bin/chromium) against the embedded provider.

Screenshots go to test-artifacts/. Without Chromium the test fails (.ci/run installs it): a skipped
browser test would prove nothing.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import async_playwright, expect

from browsing import ARGS, ARTIFACTS, chromium
from conftest import Service

__all__ = ["chromium"]  # the fixture (browsing.py)

GRAPHQL_ME = """async (token) => {
  const r = await fetch('/graphql', {method: 'POST', body: JSON.stringify({query: '{ me { name } }'}),
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token}});
  return {status: r.status, body: await r.json()};
}"""


async def test_staff_sign_in_in_chromium(world: Service, chromium: str) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = await browser.new_page(locale="sv-SE")
            await page.goto(f"{world.url}/auth/login?next=/")
            await expect(page.get_by_role("heading", name="Välj vem du vill logga in som")).to_be_visible()
            await page.screenshot(path=ARTIFACTS / f"sign-in-provider-{world.backend}.png", full_page=True)

            await page.get_by_role("button", name=re.compile("Anna Lind")).click()
            await page.wait_for_url(f"{world.url}/")  # back where sign-in started, signed in
            me: dict[str, Any] = await page.evaluate("fetch('/auth/me').then(r => r.json())")
            assert (me["kind"], me["name"]) == ("staff", "Anna Lind")
            # the page's own script reaches GraphQL with the cookie and the CSRF header
            answer = await page.evaluate(GRAPHQL_ME, me["csrfToken"])
            assert answer == {"status": 200, "body": {"data": {"me": {"name": "Anna Lind"}}}}
            without = await page.evaluate(GRAPHQL_ME, "")
            assert without["status"] == 403

            [cookie] = await page.context.cookies()
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
            assert "sip_session" not in await page.evaluate("document.cookie")  # HttpOnly: no script sees it

            await page.goto(f"{world.url}/auth/")
            await expect(page.locator("#name")).to_have_text("Anna Lind")
            await page.screenshot(path=ARTIFACTS / f"sign-in-done-{world.backend}.png", full_page=True)

            await page.get_by_role("button", name="Logga ut").click()
            await page.wait_for_url(f"{world.url}/")
            assert await page.evaluate("fetch('/auth/me').then(r => r.status)") == 401
        finally:
            await browser.close()
