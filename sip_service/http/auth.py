"""Browser sign-in: OIDC authorization code + PKCE through Authlib, then a session cookie.

Mounted at /auth: `GET /login?next=/path`, `GET /callback`, `POST /logout`, `GET /me` (JSON) and
`GET /` (a small page). GraphQL takes the cookie only together with the `X-CSRF-Token` header that
/auth/me hands out, and from the service's own origin; bearer-token clients need neither.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2  # Authlib's HTTP client (plain httpx there is deprecated)
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sip_service.auth.cache import PrincipalCache
from sip_service.auth.claims import normalize_claims, principal_from_claims
from sip_service.auth.principal import Principal, StaffPrincipal
from sip_service.auth.tokens import TokenError, TokenValidator
from sip_service.kit.db import Database
from sip_service.settings import Settings

CSRF_HEADER = "X-CSRF-Token"
SIGN_IN_MAX_AGE_S = 600  # a sign-in under way (state, nonce, PKCE verifier) lasts ten minutes
_NO_STORE = {"Cache-Control": "no-store"}
_FORM = "application/x-www-form-urlencoded"
_JWE = {"alg": "dir", "enc": "A256GCM"}
log = logging.getLogger(__name__)


class SessionCookie:
    """`request.session` as Starlette's SessionMiddleware offers it (Authlib keeps its state
    there), stored in a cookie that is encrypted and authenticated (A256GCM) rather than only
    signed: it carries a personal identity number, which must not be readable from the cookie.
    It expires at the session's own `exp` (absolute, not sliding).

    Secrets rotate (SIP_SESSION_SECRETS): the first encrypts, every one decrypts, and a cookie made
    under an older one is sealed again under the first with its next answer (same `exp`)."""

    def __init__(self, app: ASGIApp, *, secrets: list[str], secure: bool) -> None:
        assert secrets, "at least one session secret"
        self.app, self.secure = app, secure
        self.keys = [OctKey.import_key(hashlib.sha256(b"sip-session-cookie\0" + s.encode()).digest()) for s in secrets]
        self.key = self.keys[0]
        # __Host-: the browser keeps it only if Secure, Path=/ and without Domain (no subdomain can plant one).
        self.name = "__Host-sip_session" if secure else "sip_session"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope["session"], older_key = self._load(HTTPConnection(scope).cookies.get(self.name))
        before = json.dumps(scope["session"], sort_keys=True)

        async def send_with_cookie(message: Message) -> None:
            changed = older_key or json.dumps(scope["session"], sort_keys=True) != before
            if message["type"] == "http.response.start" and changed:
                MutableHeaders(scope=message).append("set-cookie", self._cookie(scope["session"]))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, value: str | None) -> tuple[dict[str, Any], bool]:
        """The session, and whether it was sealed under an older secret than the first."""
        if not value:
            return {}, False
        for i, key in enumerate(self.keys):
            try:
                plaintext = jwe.decrypt_compact(value, key, algorithms=list(_JWE.values())).plaintext
                session = json.loads(plaintext or b"")
            except (JoseError, ValueError):  # forged, from a secret not (or no longer) listed, or damaged
                continue
            expired = not isinstance(session, dict) or not isinstance(session.get("exp"), int | float)
            return ({}, False) if expired or session["exp"] < time.time() else (session, i > 0)
        return {}, False

    def _cookie(self, session: dict[str, Any]) -> str:
        max_age = int(session.get("exp", 0) - time.time())
        value = jwe.encrypt_compact(_JWE, json.dumps(session), self.key) if session and max_age > 0 else ""
        flags = ["Path=/", f"Max-Age={max_age if value else 0}", "HttpOnly", "SameSite=Lax"]
        return "; ".join([f"{self.name}={value}", *flags, *(["Secure"] if self.secure else [])])


class BrowserSignIn:
    """The relying party for browsers, and the cookie path to a principal."""

    def __init__(
        self, settings: Settings, db: Database, id_tokens: TokenValidator, principals: PrincipalCache | None = None
    ) -> None:
        self.settings, self.db, self.id_tokens = settings, db, id_tokens
        self.principals = principals or PrincipalCache(settings.principal_cache_seconds)
        public = urlsplit(settings.public_url)
        self.origin = f"{public.scheme}://{public.netloc}".lower()
        self.redirect_uri = f"{settings.public_url.rstrip('/')}/auth/callback"
        secret = settings.oidc_client_secret
        self.metadata_url = f"{settings.issuer}/.well-known/openid-configuration"
        self.client = OAuth().register(
            "sip",
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=self.metadata_url,
            client_kwargs={
                "scope": settings.oidc_scopes,
                "code_challenge_method": "S256",
                # a public client (no secret) proves itself by PKCE alone
                "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
                "timeout": 10.0,
            },
        )

    def has_session(self, request: HTTPConnection) -> bool:
        return bool(request.scope.get("session", {}).get("user"))

    async def principal(self, request: HTTPConnection, csrf: str | None = None) -> Principal:
        """The signed-in person of a cookie-authenticated API request (CSRF-checked): the token comes
        in the header, or for a websocket in its `connection_init` payload (`{"csrf": "…"}`)."""
        self._check_csrf(request, csrf if csrf is not None else request.headers.get(CSRF_HEADER))
        principal = await self._resolve(request.session.get("user"))
        if principal is None:
            raise _error(401, "UNAUTHENTICATED", "Sign in again: the signed-in person is not known to this service.")
        return principal

    def _check_csrf(self, request: HTTPConnection, token: str | None) -> None:
        # Browsers send Origin on every cross-site POST; a page elsewhere cannot set our header
        # either (no CORS here), so together they stop a cross-site request riding on the cookie.
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() != self.origin:
            raise _error(403, "CSRF_REFUSED", "Requests with the sign-in cookie must come from this site.")
        expected = str(request.session.get("csrf", ""))
        if not token or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise _error(403, "CSRF_REFUSED", f"Send the {CSRF_HEADER} header that /auth/me gives.")

    async def _resolve(self, user: Mapping[str, Any] | None) -> Principal | None:
        if not user:
            return None
        key = self.principals.key("session", json.dumps(user, sort_keys=True, default=str))
        if (known := self.principals.get(key)) is not None:
            return known
        async with self.db.read() as session:
            principal = await principal_from_claims(session, user)
        if principal is not None:
            self.principals.put(key, principal)
        return principal

    def router(self) -> APIRouter:
        router = APIRouter(tags=["auth"])

        @router.get("/login", response_model=None)
        async def login(request: Request, next_: str = Query("/", alias="next")) -> Response:
            # Starting a sign-in ends any earlier one: one person per browser session.
            request.session.clear()
            request.session.update(next=safe_next(next_), exp=time.time() + SIGN_IN_MAX_AGE_S)
            try:
                response: Response = await self.client.authorize_redirect(request, self.redirect_uri)
            except (AuthlibBaseError, httpx2.HTTPError, ValueError, KeyError, RuntimeError) as exc:
                # name the address: a wrong SIP_PUBLIC_URL or SIP_OIDC_ISSUER is the usual cause
                log.warning("identity provider unavailable at %s: %r", self.metadata_url, exc)
                return _page(503, "Inloggningen går inte att nå just nu.", "Sign-in is unavailable right now.")
            response.headers.update(_NO_STORE)
            return response

        @router.get("/callback", response_model=None)
        async def callback(request: Request) -> Response:
            target = safe_next(str(request.session.get("next", "/")))
            try:
                # Authlib checks state against the session, sends the PKCE verifier and checks the
                # ID token's signature, issuer, audience and nonce; our validator then applies the
                # service's algorithm allow-list and fail-closed JWKS rules to the same token.
                token = await self.client.authorize_access_token(request)
                claims = await self.id_tokens.validate(token["id_token"])
            except (AuthlibBaseError, JoseError, TokenError, httpx2.HTTPError, ValueError, KeyError) as exc:
                log.warning("sign-in refused: %r", exc)
                request.session.clear()
                return _page(400, "Inloggningen misslyckades. Försök igen.", "Sign-in failed. Please try again.")
            user = normalize_claims(claims, self.settings)
            principal = await self._resolve(user)
            request.session.clear()
            if principal is None:
                return _page(403, "Du finns inte i tjänsten.", "You are not known to this service.")
            staff = isinstance(principal, StaffPrincipal)
            max_age = self.settings.session_staff_max_age_s if staff else self.settings.session_citizen_max_age_s
            request.session.update(user=user, csrf=secrets.token_urlsafe(32), exp=time.time() + max_age)
            return RedirectResponse(target, status_code=303, headers=_NO_STORE)

        @router.post("/logout", response_model=None)
        async def logout(request: Request) -> Response:
            # The header from scripts, or a hidden field from the sign-in page's plain form.
            token, form = request.headers.get(CSRF_HEADER), False
            if token is None and request.headers.get("content-type", "").startswith(_FORM):
                fields = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
                token, form = next(iter(fields.get("csrf_token", [])), None), True
            if self.has_session(request):
                self._check_csrf(request, token)
            request.session.clear()
            return RedirectResponse("/", status_code=303) if form else Response(status_code=204)

        @router.get("/me", response_model=None)
        async def me(request: Request) -> Response:
            principal = await self._resolve(request.session.get("user"))
            if principal is None:
                raise _error(401, "UNAUTHENTICATED", "Not signed in.")
            body = {
                "kind": "staff" if isinstance(principal, StaffPrincipal) else "citizen",
                "name": principal.name,
                "csrfToken": request.session["csrf"],
                "expiresAt": datetime.fromtimestamp(request.session["exp"], UTC).isoformat(),
            }
            return JSONResponse(body, headers=_NO_STORE)

        @router.get("/", response_class=HTMLResponse)
        async def page(request: Request) -> HTMLResponse:
            principal = await self._resolve(request.session.get("user"))
            if principal is None:
                body = (
                    '<p>Du är inte inloggad <span lang="en">(not signed in)</span>. '
                    '<a href="/auth/login?next=/auth/">Logga in</a></p>'
                )
            else:
                body = (
                    f'<p>Inloggad som <strong id="name">{escape(principal.name)}</strong> '
                    '<span lang="en">(signed in)</span>.</p>'
                    '<form method="post" action="/auth/logout">'
                    f'<input type="hidden" name="csrf_token" value="{escape(request.session["csrf"])}">'
                    "<button>Logga ut</button></form>"
                )
            return HTMLResponse(_html("Inloggning", body), headers=_NO_STORE)

        return router


def install(
    app: FastAPI, settings: Settings, db: Database, id_tokens: TokenValidator, principals: PrincipalCache | None = None
) -> BrowserSignIn | None:
    """Mount browser sign-in and its session cookie; None (bearer tokens only) in production
    without SIP_SESSION_SECRET: the cookie key must outlive a process and be shared by replicas."""
    if not settings.session_keys and settings.is_production:
        log.warning("SIP_SESSION_SECRET is not set: browser sign-in is off")
        return None
    keys = settings.session_keys or [secrets.token_urlsafe(32)]
    web = BrowserSignIn(settings, db, id_tokens, principals)
    app.add_middleware(SessionCookie, secrets=keys, secure=settings.is_production)
    app.include_router(web.router(), prefix="/auth")
    return web


def safe_next(target: str) -> str:
    """Where to go after sign-in: a path on this site only (never //host, /\\host or a scheme)."""
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or len(target) > 2000
        or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target)
        or parts.scheme
        or parts.netloc
    ):
        return "/"
    return target


def _error(status: int, code: str, message: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail={"code": code, "message": message}, headers=headers)


def _page(status: int, swedish: str, english: str) -> HTMLResponse:
    body = f'<p>{escape(swedish)}</p><p lang="en">{escape(english)}</p><p><a href="/auth/login">Logga in</a></p>'
    return HTMLResponse(_html("Inloggning", body), status_code=status, headers=_NO_STORE)


def _html(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} – SIP-tjänsten</title>"
        "<style>body{font:1.25rem/1.6 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
        "button{font-size:1.125rem;min-height:3rem;padding:.5rem 1.25rem}</style>"
        f"</head><body><main><h1>SIP-tjänsten</h1>{body}</main></body></html>"
    )
