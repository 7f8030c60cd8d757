"""A sliding-window rate limiter, in memory: the invite exchange and the live mutations use it."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sip_service.kit import clock


def _monotonic() -> float:
    return clock.monotonic()  # looked up on every call, so that a test can stop the service's clock


class SlidingWindowLimiter:
    """At most `limit` attempts per key within the last `window_s` seconds, in this process's memory
    (enough for one replica; behind several, each counts its own). `clock`: seconds that only go
    forward; by default the project's (kit/clock.py)."""

    def __init__(
        self,
        limit: int = 10,
        window_s: float = 60.0,
        clock: Callable[[], float] = _monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit, self.window_s, self._clock, self._max_keys = limit, window_s, clock, max_keys
        self._hits: dict[str, deque[float]] = {}

    def attempt(self, key: str) -> float | None:
        """Count an attempt: None if allowed, else the seconds until the next one is."""
        now = self._clock()
        if len(self._hits) >= self._max_keys:
            self._forget_idle(now)  # many addresses: drop those that are quiet, so memory stays bounded
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window_s - now
        hits.append(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window_s]:
            del self._hits[key]
