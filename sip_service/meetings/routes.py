"""HTTP: exchange an invite link's token for a meeting token (POST /auth/invite).

Not GraphQL: the guest has no credential yet, and the answer must never be cached or leak a referrer.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.meetings import invites
from sip_service.settings import Settings

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_BODY_BYTES = 4096


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


def _refusal(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=_HEADERS | (headers or {}))


def invite_router(
    db: Database, settings: Settings, meeting_token_secret: bytes, *, limiter: SlidingWindowLimiter | None = None
) -> APIRouter:
    """Mount at the root: it serves POST /auth/invite."""
    limits = limiter or SlidingWindowLimiter(limit=settings.invite_attempts_per_minute, window_s=60.0)
    invites.signing_key(meeting_token_secret)  # a too short secret fails at start-up, not at the first guest
    router = APIRouter(tags=["auth"])

    @router.post("/auth/invite", response_model=None)
    async def exchange_invite(request: Request) -> JSONResponse:
        wait = limits.attempt(request.client.host if request.client else "unknown")
        if wait is not None:
            return _refusal(
                429,
                "RATE_LIMITED",
                "För många försök. Vänta en stund. / Too many attempts. Please wait a moment.",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        body = await request.body()
        try:
            token = json.loads(body)["token"] if len(body) <= MAX_BODY_BYTES else None
        except (ValueError, TypeError, KeyError, RecursionError):
            token = None
        if not isinstance(token, str):
            return _refusal(400, "BAD_REQUEST", 'Skicka {"token": "…"}. / Send {"token": "…"}.')
        now = clock.now()
        try:
            async with db.write() as session:  # marking the link used and the audit event: together
                admission = await invites.exchange(session, token, now)
        except invites.Refused as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return _refusal(exc.status, exc.code, exc.message, headers)
        meeting_token, expires_at = invites.meeting_token(admission, meeting_token_secret, now)
        guest = admission.guest
        return JSONResponse(
            {
                "meetingToken": meeting_token,
                "expiresAt": expires_at.isoformat(),
                "meetingId": str(guest.meeting_id),
                "participantId": str(guest.participant_id),
                "name": guest.name,
            },
            headers=_HEADERS,
        )

    return router
