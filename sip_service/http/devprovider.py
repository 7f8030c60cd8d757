"""Embedded OIDC provider for DEVELOPMENT only.

Pick a fictional demo identity, get real signed tokens. It speaks just enough OIDC
(authorization code + PKCE S256, discovery, JWKS) that the service's real relying-party
and token-validation code paths run unchanged in development and tests.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from html import escape
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
)
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from sip_service.settings import Settings

ALGORITHM = "RS256"
CODE_LIFETIME_S = 60
MAX_FORM_BYTES = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    sub: str
    kind: str  # "staff" | "citizen"
    name: str
    description: str  # shown on the sign-in button
    claims: dict[str, Any]  # identity claims placed in tokens


@dataclass(frozen=True, slots=True)
class CodeGrant:
    sub: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    expires_at: float


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=400, headers=_NO_STORE)


def load_demo_identities(path: Path) -> dict[str, DemoIdentity]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, DemoIdentity] = {}
    for s in data.get("staff", []):
        claims = {k: s[k] for k in ("hsa_id", "organisation_hsa_id", "title")}
        claims["sip_kind"] = "staff"
        if s.get("roles"):
            claims["sip_roles"] = list(s["roles"])
        out[s["sub"]] = DemoIdentity(s["sub"], "staff", s["name"], s["title"], claims)
    for c in data.get("citizens", []):
        claims = {"personal_number": c["personal_number"], "sip_kind": "citizen"}
        out[c["sub"]] = DemoIdentity(c["sub"], "citizen", c["name"], "Invånare", claims)
    return out


class DevProvider:
    """Signing key, demo identities and one-time codes of the development provider."""

    def __init__(self, settings: Settings) -> None:
        if settings.is_production:
            raise RuntimeError("the embedded development OIDC provider must never run in production")
        self.settings = settings
        self.issuer = settings.issuer
        self.signing_key = _load_or_create_key(settings.dev_oidc_key_file)
        self.identities = load_demo_identities(settings.demo_identities_file)
        self._codes: dict[str, CodeGrant] = {}

    def key_set(self) -> KeySet:
        """The public half only, as published at /jwks."""
        public = RSAKey.import_key(self.signing_key.as_dict(private=False))
        return KeySet([public])

    def issue_token(
        self,
        sub: str,
        *,
        audience: str | None = None,
        lifetime_s: int = 3600,
        extra: dict[str, Any] | None = None,
        typ: str = "at+jwt",
    ) -> str:
        """Mint a signed JWT for demo identity `sub`; `extra` is merged last (nonce). An access token
        (RFC 9068's typ at+jwt) unless told otherwise: the ID token is typ JWT."""
        identity = self.identities.get(sub)
        if identity is None:
            raise LookupError(f"unknown demo identity {sub!r}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": audience or self.settings.oidc_audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_s,
            "jti": uuid.uuid4().hex,
            "name": identity.name,
            **identity.claims,
            **(extra or {}),
        }
        header = {"alg": ALGORITHM, "kid": self.signing_key.kid, "typ": typ}
        return jwt.encode(header, claims, self.signing_key, algorithms=[ALGORITHM])

    def issue_client_token(self, client_id: str, organisation_hsa_id: str, scope: str, *, lifetime_s: int = 300) -> str:
        """Mint an access token as an issuer's OAuth2 client-credentials grant gives a record system
        (RFC 9068's claims: `sub` and `client_id` the client, `scope`; and the organisation it is
        bound to, under the organisation claim). For tests and local trials of /fhir."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": self.settings.oidc_audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_s,
            "jti": uuid.uuid4().hex,
            "scope": scope,
            "organisation_hsa_id": organisation_hsa_id,
        }
        header = {"alg": ALGORITHM, "kid": self.signing_key.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.signing_key, algorithms=[ALGORITHM])

    # --- authorization codes (in memory: a restart just means signing in again) ---

    def create_code(self, grant: CodeGrant) -> str:
        now = time.monotonic()
        self._codes = {c: g for c, g in self._codes.items() if g.expires_at > now}
        code = secrets.token_urlsafe(32)
        self._codes[code] = grant
        return code

    def redeem_code(self, code: str) -> CodeGrant | None:
        # pop first: a code is spent by any attempt, successful or not
        grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= time.monotonic():
            return None
        return grant


def _load_or_create_key(path: Path) -> RSAKey:
    # Persisted so tokens (and sessions) survive a restart of the development server.
    if path.exists():
        key = RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))
        key.ensure_kid()
        return key
    key = RSAKey.generate_key(2048, {"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    # A private key: readable by the owner only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(key.as_dict(private=True), f)
    os.replace(tmp, path)
    return key


def _redirect_uri_allowed(uri: str, public_url: str) -> bool:
    """Same origin as the service, or a loopback host (native/dev clients)."""
    try:
        u, pub = urlsplit(uri), urlsplit(public_url)
        port, pub_port = u.port, pub.port
    except ValueError:
        return False
    if u.scheme not in ("http", "https") or not u.hostname or u.fragment or u.username or u.password:
        return False
    defaults = {"http": 80, "https": 443}
    same_origin = (u.scheme, u.hostname, port or defaults[u.scheme]) == (
        pub.scheme,
        pub.hostname,
        pub_port or defaults.get(pub.scheme),
    )
    return same_origin or _is_loopback(u.hostname)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


async def _form(request: Request) -> dict[str, str]:
    # Parsed by hand (url-encoded only), so python-multipart is not needed.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "expected application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "request too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if any(len(v) > 1 for v in parsed.values()):
        raise OAuthError("invalid_request", "repeated parameter")
    return {k: v[0] for k, v in parsed.items()}


AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def _check_authorize(params: dict[str, str], settings: Settings) -> None:
    # Checked on GET and again on POST: hidden form fields come back from the browser.
    if not params.get("client_id"):
        raise OAuthError("invalid_request", "client_id is required")
    if not _redirect_uri_allowed(params.get("redirect_uri", ""), settings.public_url):
        raise OAuthError(
            "invalid_request",
            "redirect_uri must be on the service's origin or a loopback host",
        )
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    if not params.get("state"):
        raise OAuthError("invalid_request", "state is required")
    if params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")
    if not CODE_CHALLENGE_PATTERN.match(params.get("code_challenge", "")):
        raise OAuthError("invalid_request", "invalid code_challenge")


def _login_page(provider: DevProvider, params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(params[k])}">' for k in AUTHORIZE_PARAMS if k in params
    )

    def buttons(kind: str) -> str:
        return "".join(
            f'<li><button type="submit" name="sub" value="{escape(i.sub)}">'
            f'<span class="name">{escape(i.name)}</span> '
            f'<span class="desc">{escape(i.description)}</span>'
            "</button></li>"
            for i in provider.identities.values()
            if i.kind == kind
        )

    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Logga in (utvecklingsläge)</title>
<style>
body{{font-family:system-ui,sans-serif;font-size:1.125rem;line-height:1.5;
max-width:40rem;margin:0 auto;padding:1rem;color:#111;background:#fff}}
ul{{list-style:none;padding:0}} li{{margin:.5rem 0}}
button{{width:100%;min-height:3.5rem;font-size:1.25rem;text-align:left;
padding:.75rem 1rem;border:2px solid #1a4d8f;border-radius:.5rem;
background:#eef4fb;color:#111;cursor:pointer}}
button:hover{{background:#dbe8f7}}
button:focus-visible{{outline:4px solid #f5a623;outline-offset:2px}}
.name{{font-weight:700;display:block}} .desc{{color:#333}}
.note{{background:#fff4d6;border-left:4px solid #b07d00;padding:.5rem 1rem}}
</style></head><body><main>
<h1>Välj vem du vill logga in som</h1>
<p lang="en">Choose who you want to sign in as</p>
<p class="note">Utvecklingsläge: påhittade personer, inga riktiga uppgifter.
<span lang="en">Development mode: fictional people only.</span></p>
<form method="post" action="authorize">{hidden}
<h2>Personal</h2><ul>{buttons("staff")}</ul>
<h2>Invånare (patienter och närstående)</h2><ul>{buttons("citizen")}</ul>
</form></main></body></html>"""


def dev_provider_router(settings: Settings, provider: DevProvider) -> APIRouter:
    """The provider's routes; mount at prefix /dev-oidc (the issuer's path)."""
    router = APIRouter(tags=["dev-oidc"])
    issuer = settings.issuer

    @router.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "iat",
                "nbf",
                "exp",
                "nonce",
                "name",
                "hsa_id",
                "organisation_hsa_id",
                "title",
                "personal_number",
                "sip_kind",
            ],
        }

    @router.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return dict(provider.key_set().as_dict())

    @router.get("/authorize", response_model=None)
    async def authorize_page(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            _check_authorize(params, settings)
        except OAuthError as exc:
            return exc.response()
        headers = {
            **_NO_STORE,
            "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        }
        return HTMLResponse(_login_page(provider, params), headers=headers)

    @router.post("/authorize", response_model=None)
    async def authorize_submit(request: Request) -> Response:
        try:
            form = await _form(request)
            _check_authorize(form, settings)
            if form.get("sub", "") not in provider.identities:
                raise OAuthError("invalid_request", "unknown identity")
        except OAuthError as exc:
            return exc.response()
        grant = CodeGrant(
            sub=form["sub"],
            client_id=form["client_id"],
            redirect_uri=form["redirect_uri"],
            code_challenge=form["code_challenge"],
            nonce=form.get("nonce") or None,
            expires_at=time.monotonic() + CODE_LIFETIME_S,
        )
        code = provider.create_code(grant)
        target = _with_query(grant.redirect_uri, {"code": code, "state": form["state"]})
        return RedirectResponse(target, status_code=303, headers=_NO_STORE)

    @router.post("/token", response_model=None)
    async def token(request: Request) -> Response:
        try:
            form = await _form(request)
            if form.get("grant_type") != "authorization_code":
                raise OAuthError("unsupported_grant_type", "only authorization_code is supported")
            verifier = form.get("code_verifier", "")
            if not CODE_VERIFIER_PATTERN.match(verifier):
                raise OAuthError("invalid_request", "code_verifier missing or malformed")
            grant = provider.redeem_code(form.get("code", ""))
            if grant is None:
                raise OAuthError("invalid_grant", "code unknown, expired or already used")
            if form.get("client_id") != grant.client_id or form.get("redirect_uri") != grant.redirect_uri:
                raise OAuthError(
                    "invalid_grant",
                    "client_id or redirect_uri does not match the authorization",
                )
            challenge: str = create_s256_code_challenge(verifier)
            if not hmac.compare_digest(challenge, grant.code_challenge):
                raise OAuthError("invalid_grant", "PKCE verification failed")
        except OAuthError as exc:
            return exc.response()
        lifetime = 3600
        access_token = provider.issue_token(grant.sub, lifetime_s=lifetime)
        nonce = {"nonce": grant.nonce} if grant.nonce else {}
        id_token = provider.issue_token(
            grant.sub,
            audience=grant.client_id,
            lifetime_s=lifetime,
            extra={"azp": grant.client_id, **nonce},
            typ="JWT",
        )
        body = {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
        return JSONResponse(body, headers=_NO_STORE)

    return router
