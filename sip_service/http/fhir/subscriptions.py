"""HTTP: record systems' FHIR R4 Subscriptions at /fhir/Subscription (rest-hook; the domain is
`notify.subscriptions`, the sending the outbox's).

Only a system client (a `SystemPrincipal`, bound to an organisation) subscribes: `POST` with the
scope `system/Subscription.write` (and `system/CarePlan.read`, since it hears of plans), `GET` one or
all of its organisation's with `system/Subscription.read`, `DELETE` with `.write`. Another
organisation's subscription answers 404, the same as none. A bad resource answers 400 with an
OperationOutcome saying what is wrong, and nothing is written. The 201 answer carries the signing
secret once (the extension `SECRET`); it is never shown again. Creation and deletion are audited
(`subscription.create`, `subscription.delete`) in their own transaction; a subscription is not plan
data, so reading one is not.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response

from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import Principal, SystemPrincipal
from sip_service.http.fhir import resources as fhir
from sip_service.kit import clock, jsonenc
from sip_service.kit.db import Database
from sip_service.kit.outage import is_outage
from sip_service.models.audit import AuditAccess
from sip_service.models.subscriptions import Subscription, SubscriptionStatus
from sip_service.notify import subscriptions, webhooks
from sip_service.settings import Settings

logger = logging.getLogger(__name__)
Authorization = Annotated[str | None, Header()]

SECRET = f"{fhir.CANONICAL}:StructureDefinition:signing-secret"  # in the 201 answer only
PAYLOAD_CONTENT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content"
STATUS = {SubscriptionStatus.ACTIVE: "active", SubscriptionStatus.ERROR: "error", SubscriptionStatus.OFF: "off"}
FIELDS = {"resourceType", "id", "meta", "text", "status", "contact", "end", "reason", "criteria", "channel"}
CHANNEL_FIELDS = {"type", "endpoint", "payload", "_payload", "header"}
MAX_HEADERS = 10
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header's name (RFC 9110 token)
_HEADERS = {"Cache-Control": "no-store"}


class Refusal(Exception):
    def __init__(self, status: int, code: str, sv: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.text = status, code, f"{sv} / {en}"


def invalid(sv: str, en: str, code: str = "invalid") -> Refusal:
    return Refusal(400, code, sv, en)


def not_found(id_: str) -> Refusal:
    return Refusal(404, "not-found", f"Subscription/{id_} finns inte.", f"Subscription/{id_} was not found.")


def respond(body: object | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        jsonenc.dumps(body) if body is not None else None,
        status_code=status,
        media_type=f"{fhir.MEDIA_TYPE}; charset=utf-8" if body is not None else None,
        headers=_HEADERS | (headers or {}),
    )


def refused(exc: Refusal, headers: dict[str, str] | None = None) -> Response:
    return respond(fhir.operation_outcome(exc.code, exc.text), exc.status, headers)


def resource(sub: Subscription, secret: str | None = None) -> dict[str, Any]:
    """The Subscription as FHIR R4. The channel's own headers are named, their values not shown
    (they often carry the receiver's credentials)."""
    channel: dict[str, Any] = {
        "type": "rest-hook",
        "endpoint": sub.endpoint,
        "payload": fhir.MEDIA_TYPE,
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
    }
    if sub.headers:
        channel["header"] = [f"{h.partition(':')[0].strip()}: ***" for h in sub.headers]
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": str(sub.id),
        "status": "off" if sub.end_at is not None and sub.end_at <= clock.now() else STATUS[sub.status],
        "reason": sub.reason,
        "criteria": sub.criteria,
        "channel": channel,
    }
    if sub.end_at is not None:
        body["end"] = sub.end_at.isoformat()
    if sub.error:
        body["error"] = sub.error
    if secret is not None:
        body["extension"] = [{"url": SECRET, "valueString": secret}]
    return body


def parse(body: Any, *, production: bool, now: datetime) -> subscriptions.NewSubscription:
    """A Subscription as posted, checked, or a 400 naming what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Subscription":
        raise invalid("Skicka en Subscription-resurs (JSON).", "Send a Subscription resource (JSON).", "structure")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise invalid(f"Elementet {unknown[0]!r} stöds inte.", f"The element {unknown[0]!r} is not supported.")
    if body.get("status") not in ("requested", "active"):
        raise invalid("status ska vara 'requested'.", "status must be 'requested'.", "required")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise invalid("reason krävs (högst 500 tecken).", "reason is required (at most 500 characters).", "required")
    if body.get("criteria") != subscriptions.CRITERIA:
        raise invalid(
            f"criteria ska vara {subscriptions.CRITERIA!r}: en plan som fastställs (första gång eller ny version).",
            f"criteria must be {subscriptions.CRITERIA!r}: a plan finalized (the first time or a new revision).",
            "not-supported",
        )
    end_at = _end(body.get("end"), now)
    channel = body.get("channel")
    if not isinstance(channel, dict):
        raise invalid("channel krävs.", "channel is required.", "required")
    unknown = sorted(set(channel) - CHANNEL_FIELDS)
    if unknown:
        raise invalid(f"channel.{unknown[0]} stöds inte.", f"channel.{unknown[0]} is not supported.")
    if channel.get("type") != "rest-hook":
        raise invalid("channel.type ska vara 'rest-hook'.", "channel.type must be 'rest-hook'.", "not-supported")
    if channel.get("payload", fhir.MEDIA_TYPE) != fhir.MEDIA_TYPE:
        raise invalid(
            f"channel.payload ska vara {fhir.MEDIA_TYPE}.",
            f"channel.payload must be {fhir.MEDIA_TYPE}.",
            "not-supported",
        )
    payload = channel.get("_payload") or {}
    extensions = payload.get("extension") if isinstance(payload, dict) else None
    if not isinstance(extensions, list | None) or not isinstance(payload, dict):
        raise invalid("channel._payload ska ha en lista extension.", "channel._payload must have a list extension.")
    contents = [e.get("valueCode") for e in extensions or [] if isinstance(e, dict) and e.get("url") == PAYLOAD_CONTENT]
    if any(c != "id-only" for c in contents):
        raise invalid(
            "Bara id-only: mottagaren läser planen med sin egen token.",
            "Only id-only: the receiver reads the plan with its own token.",
            "not-supported",
        )
    endpoint = _endpoint(channel.get("endpoint"), production)
    return subscriptions.NewSubscription(subscriptions.CRITERIA, reason.strip(), endpoint, _headers(channel), end_at)


def _end(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        end = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        end = None
    if end is None or end.tzinfo is None:
        raise invalid("end ska vara en tidpunkt med tidszon.", "end must be an instant with its time zone.")
    if end <= now:
        raise invalid("end har redan passerat.", "end is already past.")
    return end


def _endpoint(value: Any, production: bool) -> str:
    wrong = invalid(
        "channel.endpoint ska vara en https-adress"
        + (" (http bara utanför produktion)." if not production else ".")
        + " utan användarnamn och fragment.",
        "channel.endpoint must be an https URL"
        + (" (http only outside production)" if not production else "")
        + " with no user name and no fragment.",
    )
    if not isinstance(value, str) or len(value) > 2000:
        raise wrong
    try:
        url = urlsplit(value)
        port = url.port  # a port that is no number raises
    except ValueError:
        raise wrong from None
    schemes = {"https"} if production else {"https", "http"}
    if url.scheme not in schemes or not url.hostname or url.username or url.password or url.fragment:
        raise wrong
    del port
    if any(c.isspace() or ord(c) < 0x20 for c in value):
        raise wrong
    return value


def _headers(channel: dict[str, Any]) -> list[str]:
    given = channel.get("header", [])
    if not isinstance(given, list) or len(given) > MAX_HEADERS:
        raise invalid(f"channel.header: högst {MAX_HEADERS} rader.", f"channel.header: at most {MAX_HEADERS} lines.")
    out = []
    for line in given:
        name, colon, value = line.partition(":") if isinstance(line, str) else ("", "", "")
        name, value = name.strip(), value.strip()
        if not colon or not _TOKEN.match(name) or len(line) > 1000 or any(c in value for c in "\r\n\0"):
            raise invalid("channel.header ska vara rader 'Namn: värde'.", "channel.header must be lines 'Name: value'.")
        if name.lower() in webhooks.RESERVED_HEADERS:
            raise invalid(
                f"channel.header får inte sätta {name}.", f"channel.header may not set {name}.", "not-supported"
            )
        out.append(f"{name}: {value}")
    return out


def add_routes(
    router: APIRouter,
    base: str,
    settings: Settings,
    db: Database,
    principal_of: Callable[[str | None], Awaitable[Principal]],
) -> None:
    """Register the Subscription routes on the FHIR router (before its catch-all)."""

    async def client_of(authorization: str | None, access: str) -> SystemPrincipal:
        try:
            principal = await principal_of(authorization)
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            raise Refusal(
                401, "login", "Logga in: skicka en giltig bearer-token.", "Sign in: send a bearer token."
            ) from None
        if not isinstance(principal, SystemPrincipal):
            raise Refusal(
                403,
                "forbidden",
                "Bara journalsystem (systemklienter) prenumererar.",
                "Only record systems (system clients) subscribe.",
            )
        if not principal.may("Subscription", access) or (access == "write" and not principal.may("CarePlan")):
            needs = (
                "system/Subscription.write och system/CarePlan.read"
                if access == "write"
                else "system/Subscription.read"
            )
            raise Refusal(
                403,
                "forbidden",
                f"Systemklientens token saknar scope ({needs}).",
                f"The system client's token lacks a scope ({needs.replace(' och ', ' and ')}).",
            )
        return principal

    async def guarded(run: Callable[[], Awaitable[Response]]) -> Response:
        try:
            return await run()
        except Refusal as exc:
            return refused(exc, {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)
        except Exception as exc:
            if is_outage(exc):
                raise  # the database is unreachable: 503 (http.outage)
            logger.exception("FHIR Subscription request failed")
            return refused(
                Refusal(500, "exception", "Något gick fel i tjänsten.", "Something went wrong in the service.")
            )

    def parse_id(id_: str) -> uuid.UUID:
        try:
            return uuid.UUID(id_)
        except ValueError:
            raise not_found(id_) from None

    def audited(action: str, sub_id: uuid.UUID) -> Access:
        return Access(AuditAccess.WRITE, action, None, None, f"Subscription/{sub_id}")

    @router.post("/Subscription")
    async def create_subscription(request: Request, authorization: Authorization = None) -> Response:
        async def run() -> Response:
            client = await client_of(authorization, "write")
            try:
                posted = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                raise invalid("Ogiltig JSON.", "Invalid JSON.", "structure") from None
            now = clock.now()
            new = parse(posted, production=settings.is_production, now=now)
            async with db.write() as session:  # the subscription and its audit event, or neither
                sub, secret = subscriptions.create(session, client, new, base, now)
                await audit.append(session, client, [audited("subscription.create", sub.id)])
            return respond(resource(sub, secret), 201, {"Location": f"{base}/Subscription/{sub.id}"})

        return await guarded(run)

    @router.get("/Subscription")
    async def search_subscriptions(request: Request, authorization: Authorization = None) -> Response:
        async def run() -> Response:
            client = await client_of(authorization, "read")
            for name, value in request.query_params.multi_items():
                if name != "_format" or value not in ("json", fhir.MEDIA_TYPE, "application/json"):
                    raise invalid(
                        f"Sökparametern {name!r} stöds inte.", f"The search parameter {name!r} is not supported."
                    )
            async with db.read() as session:
                found = await subscriptions.all_own(session, client)
            body = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "link": [{"relation": "self", "url": f"{base}/Subscription"}],
                "entry": [
                    {"fullUrl": f"{base}/Subscription/{s.id}", "resource": resource(s), "search": {"mode": "match"}}
                    for s in found
                ],
            }
            return respond(body)

        return await guarded(run)

    @router.get("/Subscription/{id_}")
    async def read_subscription(id_: str, authorization: Authorization = None) -> Response:
        async def run() -> Response:
            client = await client_of(authorization, "read")
            async with db.read() as session:
                sub = await subscriptions.own(session, client, parse_id(id_))
            if sub is None:
                raise not_found(id_)
            return respond(resource(sub))

        return await guarded(run)

    @router.delete("/Subscription/{id_}")
    async def delete_subscription(id_: str, authorization: Authorization = None) -> Response:
        async def run() -> Response:
            client = await client_of(authorization, "write")
            sub_id = parse_id(id_)
            async with db.write() as session:
                if not await subscriptions.delete(session, client, sub_id, clock.now()):
                    raise not_found(id_)
                await audit.append(session, client, [audited("subscription.delete", sub_id)])
            return respond(None, 204)

        return await guarded(run)
