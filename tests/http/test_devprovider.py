"""The embedded development OIDC provider, driven over real HTTP like a browser + RP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import socket
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from sip_service.auth.tokens import TokenValidator, http_jwks_source, static_jwks_source
from sip_service.http.devprovider import (
    DevProvider,
    _redirect_uri_allowed,
    dev_provider_router,
)
from sip_service.settings import Mode, Settings

from conftest import started
from helpers import WAIT_S

CLIENT_ID = "sip-web"


@dataclass
class Server:
    url: str
    settings: Settings
    provider: DevProvider
    http: httpx.AsyncClient

    @property
    def issuer(self) -> str:
        return f"{self.url}/dev-oidc"

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/auth/callback"


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # pre-bound: no race for a "free" port
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        env=Mode.DEVELOPMENT,
        dev_oidc_key_file=tmp_path / "oidc" / "key.json",
        public_url=url,
    )
    provider = DevProvider(settings)
    app = FastAPI()
    app.include_router(dev_provider_router(settings, provider), prefix="/dev-oidc")
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    try:
        await started(uv, task, WAIT_S)
        async with httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
            yield Server(url, settings, provider, http)
    finally:
        uv.should_exit = True
        await task
        sock.close()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    # computed independently of the provider's helper, straight from RFC 7636
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(srv: Server, challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": srv.redirect_uri,
        "scope": "openid profile",
        "state": "state-xyz",
        "nonce": "nonce-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return {**params, **overrides}


async def get_code(srv: Server, sub: str, challenge: str) -> str:
    resp = await srv.http.post("/dev-oidc/authorize", data={**authorize_params(srv, challenge), "sub": sub})
    assert resp.status_code == 303
    return parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]


async def exchange(srv: Server, code: str, verifier: str, /, **overrides: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": srv.redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        **overrides,
    }
    return await srv.http.post("/dev-oidc/token", data=data)


def validator(srv: Server, audience: str) -> TokenValidator:
    return TokenValidator(
        issuer=srv.settings.issuer,
        audience=audience,
        algorithms=srv.settings.oidc_algorithms,
        jwks=http_jwks_source(f"{srv.issuer}/jwks", srv.http, timeout_s=WAIT_S),
    )


async def test_discovery_and_jwks(server: Server) -> None:
    conf = (await server.http.get("/dev-oidc/.well-known/openid-configuration")).json()
    assert conf["issuer"] == server.issuer == server.settings.issuer
    assert conf["authorization_endpoint"] == f"{server.issuer}/authorize"
    assert conf["token_endpoint"] == f"{server.issuer}/token"
    assert conf["jwks_uri"] == f"{server.issuer}/jwks"
    assert conf["response_types_supported"] == ["code"]
    assert conf["code_challenge_methods_supported"] == ["S256"]
    assert conf["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = (await server.http.get("/dev-oidc/jwks")).json()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["kid"] == server.provider.signing_key.kid
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()  # public half only


async def test_full_code_flow_with_pkce(server: Server) -> None:
    verifier, challenge = pkce()
    params = authorize_params(server, challenge)

    page = await server.http.get("/dev-oidc/authorize", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'lang="sv"' in page.text
    assert "Välj vem du vill logga in som" in page.text
    assert "Choose who you want to sign in as" in page.text
    assert "Anna Lind" in page.text
    assert "Elsa Andersson" in page.text
    assert 'name="sub" value="staff-anna"' in page.text
    assert f'name="code_challenge" value="{challenge}"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    resp = await server.http.post("/dev-oidc/authorize", data={**params, "sub": "staff-anna"})
    assert resp.status_code == 303
    location = urlsplit(resp.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == server.redirect_uri
    query = parse_qs(location.query)
    assert query["state"] == ["state-xyz"]

    tokens = await exchange(server, query["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600

    id_claims = await validator(server, CLIENT_ID).validate(body["id_token"])
    assert id_claims["nonce"] == "nonce-123"
    assert id_claims["sub"] == "staff-anna"
    assert id_claims["aud"] == CLIENT_ID
    access = await validator(server, server.settings.oidc_audience).validate(body["access_token"])
    assert access["iss"] == server.issuer
    assert {k: access[k] for k in ("name", "hsa_id", "organisation_hsa_id", "title", "sip_kind")} == {
        "name": "Anna Lind",
        "hsa_id": "SE2321000016-A001",
        "organisation_hsa_id": "SE2321000016-VCN",
        "title": "Distriktssköterska",
        "sip_kind": "staff",
    }
    assert access["exp"] - access["iat"] == 3600
    assert access["nbf"] == access["iat"]


async def test_citizen_token(server: Server) -> None:
    verifier, challenge = pkce()
    body = (await exchange(server, await get_code(server, "citizen-elsa", challenge), verifier)).json()
    claims = await validator(server, "sip-service").validate(body["access_token"])
    assert claims["sip_kind"] == "citizen"
    assert claims["personal_number"] == "194003122388"
    assert claims["name"] == "Elsa Andersson"
    assert "hsa_id" not in claims


async def test_wrong_code_verifier_refused_and_code_spent(server: Server) -> None:
    verifier, challenge = pkce()
    code = await get_code(server, "staff-anna", challenge)
    wrong, _ = pkce()
    resp = await exchange(server, code, wrong)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    # a failed attempt burns the code, so guessing verifiers gets one try
    assert (await exchange(server, code, verifier)).json()["error"] == "invalid_grant"


async def test_code_is_single_use(server: Server) -> None:
    verifier, challenge = pkce()
    code = await get_code(server, "staff-anna", challenge)
    assert (await exchange(server, code, verifier)).status_code == 200
    again = await exchange(server, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "http://127.0.0.1:1/other"}, "invalid_grant"),
        ({"client_id": "someone-else"}, "invalid_grant"),
        ({"code_verifier": ""}, "invalid_request"),
        ({"code": "made-up"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
async def test_token_request_mismatch(server: Server, overrides: dict[str, str], error: str) -> None:
    verifier, challenge = pkce()
    code = await get_code(server, "staff-anna", challenge)
    resp = await exchange(server, code, verifier, **overrides)
    assert resp.status_code == 400
    assert resp.json()["error"] == error


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "javascript:alert(1)",
        "http://127.0.0.1@evil.example/",
    ],
)
async def test_foreign_redirect_uri_refused(server: Server, redirect_uri: str) -> None:
    _, challenge = pkce()
    params = authorize_params(server, challenge, redirect_uri=redirect_uri)
    page = await server.http.get("/dev-oidc/authorize", params=params)
    assert page.status_code == 400
    assert page.json()["error"] == "invalid_request"
    # the hidden form fields are re-checked: a forged POST does not redirect either
    resp = await server.http.post("/dev-oidc/authorize", data={**params, "sub": "staff-anna"})
    assert resp.status_code == 400
    assert "location" not in resp.headers


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"response_type": "token"},
        {"state": ""},
        {"client_id": ""},
    ],
)
async def test_authorize_requires_pkce_s256_and_state(server: Server, overrides: dict[str, str]) -> None:
    _, challenge = pkce()
    page = await server.http.get("/dev-oidc/authorize", params=authorize_params(server, challenge, **overrides))
    assert page.status_code == 400
    assert page.json()["error"] in (
        "invalid_request",
        "unsupported_response_type",
    )


async def test_unknown_identity_refused(server: Server) -> None:
    _, challenge = pkce()
    resp = await server.http.post(
        "/dev-oidc/authorize",
        data={**authorize_params(server, challenge), "sub": "root"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"
    with pytest.raises(LookupError):
        server.provider.issue_token("root")


def test_redirect_uri_rules() -> None:
    public = "https://sip.example.se"
    assert _redirect_uri_allowed("https://sip.example.se/auth/callback", public)
    assert _redirect_uri_allowed("https://sip.example.se:443/cb", public)
    assert _redirect_uri_allowed("http://localhost:5173/cb", public)
    assert _redirect_uri_allowed("http://[::1]:8080/cb", public)
    assert not _redirect_uri_allowed("http://sip.example.se/cb", public)  # scheme differs
    assert not _redirect_uri_allowed("https://sip.example.se:8443/cb", public)
    assert not _redirect_uri_allowed("https://sip.example.se/cb#frag", public)
    assert not _redirect_uri_allowed("https://sip.example.se.evil.example/cb", public)
    assert not _redirect_uri_allowed("https://127.0.0.1:99999/cb", public)


async def test_key_persists_across_restarts(tmp_path: Path) -> None:
    key_file = tmp_path / "nested" / "dir" / "key.json"
    settings = Settings(env=Mode.DEVELOPMENT, dev_oidc_key_file=key_file)
    first = DevProvider(settings)
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text())["kid"] == first.signing_key.kid
    second = DevProvider(settings)
    assert second.signing_key.kid == first.signing_key.kid
    # a token minted before the "restart" still validates afterwards
    restarted = TokenValidator(
        issuer=settings.issuer,
        audience="sip-service",
        algorithms=["RS256"],
        jwks=static_jwks_source(second.key_set()),
    )
    assert (await restarted.validate(first.issue_token("staff-anna")))["sub"] == "staff-anna"


def test_production_refuses_the_dev_provider(tmp_path: Path) -> None:
    settings = Settings(
        env=Mode.PRODUCTION,
        oidc_issuer="https://idp.example.se",
        oidc_jwks_url="https://idp.example.se/jwks",
        session_secret="s" * 40,
        meeting_token_secret="m" * 40,
        dev_oidc_key_file=tmp_path / "key.json",
    )
    with pytest.raises(RuntimeError):
        DevProvider(settings)
    assert not (tmp_path / "key.json").exists()
