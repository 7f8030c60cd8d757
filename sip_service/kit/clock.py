"""One source of time, so that tests and rules agree on "now" and "today"."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def now() -> datetime:
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds that only go forward, for intervals (the rate limits); a test may stop or move them."""
    return time.monotonic()


def today() -> date:
    """Today's date where the care happens (Europe/Stockholm)."""
    return now().astimezone(STOCKHOLM).date()
