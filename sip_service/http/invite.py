"""HTTP: exchange an invite link's token for a meeting token (POST /auth/invite).

Not GraphQL: the guest has no credential yet, and the answer must never be cached or leak a referrer.
"""

from __future__ import annotations

import json
import math

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.kit.ratelimit import SlidingWindowLimiter
from sip_service.meetings import invites
from sip_service.settings import Settings

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_BODY_BYTES = 4096


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
