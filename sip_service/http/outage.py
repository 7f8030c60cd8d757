"""The database outage answered: 503 and Retry-After, GraphQL-shaped errors, or an OperationOutcome
under /fhir, for any request that met it before its answer began (kit.outage tells what an
outage is and logs it once). Redis unreachable, for a request that needs it, is answered the same."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sip_service.kit.outage import (
    CODE,
    MESSAGE,
    RETRY_AFTER_S,
    DatabaseUnavailable,
    Outages,
    is_broker_outage,
    is_outage,
)


def unavailable_response(path: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"}
    if path.startswith("/fhir"):
        body: dict[str, Any] = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "transient", "diagnostics": MESSAGE, "details": {"text": CODE}}],
        }
        return JSONResponse(body, status_code=503, headers=headers, media_type="application/fhir+json")
    return JSONResponse(
        {"errors": [{"message": MESSAGE, "extensions": {"code": CODE}}]}, status_code=503, headers=headers
    )


class OutageAnswer:
    """Answers 503 for a request that met the database outage before its answer began."""

    def __init__(self, app: ASGIApp, outages: Outages) -> None:
        self.app, self.outages = app, outages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            if is_broker_outage(exc):  # Redis, for an operation that needs it (logged by kit.pubsub)
                await unavailable_response(scope["path"])(scope, receive, send)
                return
            if not (isinstance(exc, DatabaseUnavailable) or is_outage(exc)):
                raise
            self.outages.failed(exc)
            await unavailable_response(scope["path"])(scope, receive, send)
