"""TokenValidator against the dev provider's JWKS, served over real HTTP by uvicorn."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Request, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from sip_service.auth.tokens import (
    JwksSource,
    TokenError,
    TokenValidator,
    http_jwks_source,
    static_jwks_source,
)
from sip_service.http.devprovider import DevProvider, dev_provider_router
from sip_service.kit import clock
from sip_service.settings import Mode, Settings

from conftest import started
from helpers import WAIT_S


@dataclass
class Server:
    url: str
    settings: Settings
    provider: DevProvider
    jwks_hits: list[float] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/dev-oidc/jwks"


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # pre-bound: no race for a "free" port
    port = sock.getsockname()[1]
    settings = Settings(
        env=Mode.DEVELOPMENT,
        dev_oidc_key_file=tmp_path / "key.json",
        public_url=f"http://127.0.0.1:{port}",
    )
    srv = Server(f"http://127.0.0.1:{port}", settings, DevProvider(settings))
    app = FastAPI()
    app.include_router(dev_provider_router(settings, srv.provider), prefix="/dev-oidc")

    @app.middleware("http")
    async def count_jwks(request: Request, call_next: Any) -> Response:
        if request.url.path == "/dev-oidc/jwks":
            srv.jwks_hits.append(time.monotonic())
        response: Response = await call_next(request)
        return response

    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    try:
        await started(uv, task, WAIT_S)
        yield srv
    finally:
        uv.should_exit = True
        await task
        sock.close()


class Ticking:
    """The validator's monotonic clock, moved only by the test: the refetch limit and the key
    cache's age are then what the test says, however long each step takes on a busy machine."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ticking(monkeypatch: pytest.MonkeyPatch) -> Ticking:
    ticking = Ticking()
    monkeypatch.setattr(clock, "monotonic", ticking.monotonic)  # the project's one clock (kit/clock.py)
    return ticking


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=WAIT_S) as c:
        yield c


def jwks_of(srv: Server, client: httpx.AsyncClient) -> JwksSource:
    """The provider's JWKS over HTTP, with time to answer on a busy machine (the default is 5 s)."""
    return http_jwks_source(srv.jwks_url, client, timeout_s=WAIT_S)


def make_validator(srv: Server, jwks: JwksSource, **kw: Any) -> TokenValidator:
    s = srv.settings
    return TokenValidator(
        issuer=s.issuer,
        audience=s.oidc_audience,
        algorithms=s.oidc_algorithms,
        jwks=jwks,
        leeway_s=s.oidc_leeway_seconds,
        **kw,
    )


def claims_for(srv: Server, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": srv.settings.issuer,
        "sub": "staff-anna",
        "aud": "sip-service",
        "iat": now,
        "nbf": now,
    }
    return {**base, "exp": now + 600, **overrides}


def sign(key: RSAKey, claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj).encode())


async def refused(validator: TokenValidator, token: str) -> str:
    with pytest.raises(TokenError) as info:
        await validator.validate(token)
    return info.value.code


async def test_valid_token(server: Server, client: httpx.AsyncClient, ticking: Ticking) -> None:
    v = make_validator(server, jwks_of(server, client))
    claims = await v.validate(server.provider.issue_token("staff-anna"))
    assert claims["sub"] == "staff-anna"
    assert claims["iss"] == f"{server.url}/dev-oidc"
    assert claims["hsa_id"] == "SE2321000016-A001"
    assert claims["sip_kind"] == "staff"
    # keys are cached: a second token costs no extra fetch
    await v.validate(server.provider.issue_token("citizen-elsa"))
    assert len(server.jwks_hits) == 1


async def test_audience_list_and_leeway(server: Server, client: httpx.AsyncClient) -> None:
    v = make_validator(server, jwks_of(server, client))
    key = server.provider.signing_key
    await v.validate(sign(key, claims_for(server, aud=["other-api", "sip-service"])))
    # 10 s past exp is within the 30 s leeway for clock skew
    await v.validate(sign(key, claims_for(server, exp=int(time.time()) - 10)))


async def test_expired(server: Server, client: httpx.AsyncClient) -> None:
    v = make_validator(server, jwks_of(server, client))
    token = sign(server.provider.signing_key, claims_for(server, exp=int(time.time()) - 120))
    assert await refused(v, token) == "TOKEN_EXPIRED"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_not_yet_valid(server: Server, client: httpx.AsyncClient, claim: str) -> None:
    v = make_validator(server, jwks_of(server, client))
    token = sign(
        server.provider.signing_key,
        claims_for(server, **{claim: int(time.time()) + 300}),
    )
    assert await refused(v, token) == "TOKEN_NOT_YET_VALID"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example/dev-oidc"},
        {"aud": "another-service"},
        {"aud": ["another-service", "yet-another"]},
        {"exp": None},  # exp is required
        {"sub": None},
        {"exp": "tomorrow"},
    ],
    ids=["wrong-iss", "wrong-aud", "wrong-aud-list", "no-exp", "no-sub", "bad-exp"],
)
async def test_wrong_claims(server: Server, client: httpx.AsyncClient, overrides: dict[str, Any]) -> None:
    v = make_validator(server, jwks_of(server, client))
    claims = {k: x for k, x in claims_for(server, **overrides).items() if x is not None}
    assert await refused(v, sign(server.provider.signing_key, claims)) == "TOKEN_INVALID"


@pytest.mark.parametrize(
    ("typ", "claims", "valid"),
    [
        ("at+jwt", {}, True),
        ("application/AT+JWT", {}, True),
        ("JWT", {}, False),  # an ID token's type
        ("", {}, False),
        ("at+jwt", {"nonce": "n"}, False),  # an ID token's claim
    ],
)
async def test_access_tokens_by_type_and_without_nonce(
    server: Server, client: httpx.AsyncClient, typ: str, claims: dict[str, Any], valid: bool
) -> None:
    v = make_validator(server, jwks_of(server, client), access_token_types=["at+jwt"])
    header = {"alg": "RS256", "kid": server.provider.signing_key.kid, "typ": typ}
    token = jwt.encode(header, claims_for(server, **claims), server.provider.signing_key)
    if valid:
        assert (await v.validate(token))["sub"] == "staff-anna"
    else:
        assert await refused(v, token) == "TOKEN_INVALID"


async def test_alg_none(server: Server, client: httpx.AsyncClient) -> None:
    v = make_validator(server, jwks_of(server, client))
    header = {"alg": "none", "typ": "JWT", "kid": server.provider.signing_key.kid}
    for sig in ("", "AAAA"):
        token = f"{b64json(header)}.{b64json(claims_for(server))}.{sig}"
        assert await refused(v, token) == "TOKEN_INVALID"


async def test_hs256_signed_with_public_key(server: Server, client: httpx.AsyncClient) -> None:
    # The classic key-confusion attack: HMAC keyed with the (public) RSA key.
    v = make_validator(server, jwks_of(server, client))
    public_pem = server.provider.signing_key.as_pem(private=False)
    jwks_json = json.dumps(server.provider.key_set().as_dict()).encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": server.provider.signing_key.kid}
    signing_input = f"{b64json(header)}.{b64json(claims_for(server))}"
    for secret in (public_pem, jwks_json):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert await refused(v, f"{signing_input}.{b64(mac)}") == "TOKEN_INVALID"


@pytest.mark.parametrize("algs", [["RS256", "HS256"], ["none"], ["RS256", "None"], []])
def test_validator_refuses_unsafe_allow_list(algs: list[str]) -> None:
    with pytest.raises(ValueError, match="refusing token algorithms"):
        TokenValidator(
            issuer="i",
            audience="a",
            algorithms=algs,
            jwks=static_jwks_source(KeySet([])),
        )


async def test_tampered_payload(server: Server, client: httpx.AsyncClient) -> None:
    v = make_validator(server, jwks_of(server, client))
    header, _, sig = server.provider.issue_token("citizen-elsa").split(".")
    forged = claims_for(server, sub="staff-anna", sip_kind="staff", hsa_id="SE2321000016-A001")
    assert await refused(v, f"{header}.{b64json(forged)}.{sig}") == "TOKEN_INVALID"
    assert await refused(v, "not.a.jwt") == "TOKEN_INVALID"
    assert await refused(v, "") == "TOKEN_INVALID"


async def test_unknown_kid_refetches_once_then_refuses(
    server: Server, client: httpx.AsyncClient, ticking: Ticking
) -> None:
    v = make_validator(server, jwks_of(server, client), min_refresh_interval_s=10)
    rogue = RSAKey.generate_key(2048, {"kid": "rogue-1"})
    assert await refused(v, sign(rogue, claims_for(server))) == "TOKEN_INVALID"
    assert len(server.jwks_hits) == 2  # the initial fetch + exactly one refetch
    # More garbage kids within the rate-limit window cause no further fetches.
    ticking.advance(9)
    rogue2 = RSAKey.generate_key(2048, {"kid": "rogue-2"})
    for key in (rogue, rogue2, rogue):
        assert await refused(v, sign(key, claims_for(server))) == "TOKEN_INVALID"
    assert len(server.jwks_hits) == 2
    # The genuine key is still served from the cache.
    await v.validate(server.provider.issue_token("staff-anna"))
    assert len(server.jwks_hits) == 2
    # Once the window has passed, an unknown kid may cause one refetch again.
    ticking.advance(1)
    for key in (rogue, rogue2):
        assert await refused(v, sign(key, claims_for(server))) == "TOKEN_INVALID"
    assert len(server.jwks_hits) == 3


async def test_key_rotation_is_picked_up_by_refetch(server: Server, client: httpx.AsyncClient) -> None:
    v = make_validator(server, jwks_of(server, client))
    await v.validate(server.provider.issue_token("staff-anna"))
    server.provider.signing_key = RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, auto_kid=True)
    claims = await v.validate(server.provider.issue_token("staff-omar"))
    assert claims["sub"] == "staff-omar"
    assert len(server.jwks_hits) == 2


async def test_jwks_endpoint_down_fails_closed(client: httpx.AsyncClient, tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here any more: connection refused
    settings = Settings(
        env=Mode.DEVELOPMENT,
        dev_oidc_key_file=tmp_path / "k.json",
        public_url=f"http://127.0.0.1:{port}",
    )
    provider = DevProvider(settings)
    srv = Server(f"http://127.0.0.1:{port}", settings, provider)
    v = make_validator(srv, http_jwks_source(srv.jwks_url, client))
    assert await refused(v, provider.issue_token("staff-anna")) == "JWKS_UNAVAILABLE"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(503),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"keys": []}),
    ],
    ids=["503", "not-json", "no-keys"],
)
async def test_broken_jwks_fails_closed(server: Server, response: httpx.Response) -> None:
    transport = httpx.MockTransport(lambda request: response)
    async with httpx.AsyncClient(transport=transport) as broken:
        v = make_validator(server, http_jwks_source(server.jwks_url, broken))
        assert await refused(v, server.provider.issue_token("staff-anna")) == "JWKS_UNAVAILABLE"


async def test_server_going_down_after_cache_expiry_fails_closed(
    tmp_path: Path,
) -> None:
    # An expired cache is not reused when the provider is unreachable.
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(200, json=dict(provider.key_set().as_dict()))
        raise httpx.ConnectError("down", request=request)

    settings = Settings(env=Mode.DEVELOPMENT, dev_oidc_key_file=tmp_path / "k.json")
    provider = DevProvider(settings)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as c:
        srv = Server(settings.public_url, settings, provider)
        v = make_validator(srv, http_jwks_source("http://idp.invalid/jwks", c, max_age_s=0))
        await v.validate(provider.issue_token("staff-anna"))
        assert await refused(v, provider.issue_token("staff-anna")) == "JWKS_UNAVAILABLE"


async def test_static_source(tmp_path: Path) -> None:
    settings = Settings(env=Mode.DEVELOPMENT, dev_oidc_key_file=tmp_path / "k.json")
    provider = DevProvider(settings)
    srv = Server(settings.public_url, settings, provider)
    claims = await make_validator(srv, static_jwks_source(provider.key_set())).validate(
        provider.issue_token("citizen-per")
    )
    assert claims["personal_number"] == "196805141234"
