"""What the browser tests share: Debian's Chromium with the flags every test uses, where the
screenshots go, and axe-core (from the npm registry, tests/browser/package-lock.json) with the call
that runs it in a page. Without Chromium or npm a test fails (.ci/run installs Chromium): a skipped
browser test would prove nothing."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import expect

from conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# The tests wait for states (a marker a page sets, a text it shows), never for a time. On a loaded
# machine a state may come later than Playwright's default 5 s; a longer limit costs nothing when it
# comes soon. (A test that asks for a state within a time of its own still passes its own timeout.)
EXPECT_TIMEOUT_MS = 20_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
BROWSER_DIR = REPO_ROOT / "tests" / "browser"


@pytest.fixture
def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    ARTIFACTS.mkdir(exist_ok=True)
    return str(CHROMIUM)


def npm_ci() -> Path:
    """Install axe-core exactly as locked, once per lock file (node_modules is a cache)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the accessibility checks need npm (Debian: apt-get install npm)")
    digest = hashlib.sha256((BROWSER_DIR / "package-lock.json").read_bytes()).hexdigest()
    stamp = BROWSER_DIR / "node_modules" / ".sip-lock-sha256"
    with (Path(tempfile.gettempdir()) / "sip-browser-npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == digest):
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True, timeout=600)
            stamp.write_text(digest)
    return BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def axe_source() -> str:
    return npm_ci().read_text(encoding="utf-8")


RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
}"""
