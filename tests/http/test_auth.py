"""Browser sign-in (code + PKCE against the development provider) and the session cookie, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sip_service.app import create_app
from sip_service.http.auth import safe_next
from sip_service.kit.db import Database
from sip_service.settings import Mode, Settings

from conftest import Service
from helpers import WAIT_S, within

ME = {"query": "{ me { name } }"}


async def start(app: httpx.AsyncClient, next_: str = "/") -> dict[str, str]:
    """GET /auth/login; the authorization request it redirects to, as a dict (plus its URL)."""
    login = await app.get("/auth/login", params={"next": next_})
    assert login.status_code == 302, login.text
    url = urlsplit(login.headers["location"])
    return {**dict(parse_qsl(url.query)), "_endpoint": f"{url.scheme}://{url.netloc}{url.path}"}


async def choose(provider: httpx.AsyncClient, request: dict[str, str], sub: str, **changes: str) -> str:
    """Pick a demo identity on the provider's page; the callback path+query it sends the browser to."""
    endpoint = request["_endpoint"]
    form = {k: v for k, v in request.items() if k != "_endpoint"} | changes | {"sub": sub}
    resp = await provider.post(endpoint, data=form)
    assert resp.status_code == 303, resp.text
    callback = urlsplit(resp.headers["location"])
    return f"{callback.path}?{callback.query}"


async def sign_in(
    app: httpx.AsyncClient, sub: str, next_: str = "/", provider: httpx.AsyncClient | None = None
) -> httpx.Response:
    callback = await choose(provider or app, await start(app, next_), sub)
    return await app.get(callback)


@pytest.fixture
async def http(world: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.url, timeout=WAIT_S) as client:
        yield client


async def csrf(http: httpx.AsyncClient) -> str:
    me = await http.get("/auth/me")
    assert me.status_code == 200, me.text
    token: str = me.json()["csrfToken"]
    return token


@pytest.mark.parametrize(
    ("sub", "name", "kind", "max_age"),
    [("staff-anna", "Anna Lind", "staff", 8 * 3600), ("citizen-elsa", "Elsa Andersson", "citizen", 3600)],
)
async def test_sign_in_then_graphql_with_cookie_and_csrf_header(
    http: httpx.AsyncClient, sub: str, name: str, kind: str, max_age: int
) -> None:
    before = time.time()  # the server's clock too: it runs in this process
    done = await sign_in(http, sub, next_="/auth/?from=test")
    took = time.time() - before
    assert done.status_code == 303 and done.headers["location"] == "/auth/?from=test"
    cookie = done.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in flags and flags["samesite"].lower() == "samesite=lax" and flags["path"] == "Path=/"
    assert "secure" not in flags  # development over plain http
    # The session lasts max_age from sign-in; the cookie says what is left of it when it is written
    # (whole seconds, rounded down): at most the time the sign-in took less.
    assert max_age - took - 1 <= int(flags["max-age"].split("=")[1]) <= max_age, (flags["max-age"], took)
    # encrypted, not just signed: nothing about the person can be read from the cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    readable = b"".join(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in value.split("."))
    for secret in (b"194003122388", b"SE2321000016", name.encode(), b"Lind", b"Andersson"):
        assert secret not in readable and secret.decode() not in value

    me = (await http.get("/auth/me")).json()
    assert (me["kind"], me["name"]) == (kind, name) and len(me["csrfToken"]) >= 32
    answer = await http.post(
        "/graphql", json=ME, headers={"X-CSRF-Token": me["csrfToken"], "Origin": str(http.base_url).rstrip("/")}
    )
    assert answer.status_code == 200 and answer.json() == {"data": {"me": {"name": name}}}
    page = await http.get("/auth/")
    assert f'<strong id="name">{name}</strong>' in page.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),
        ({"X-CSRF-Token": "wrong"}, 403),
        ({"X-CSRF-Token": "ü-not-ascii"}, 403),
        ({"X-CSRF-Token": "{csrf}", "Origin": "https://evil.example"}, 403),
        ({"X-CSRF-Token": "{csrf}", "Origin": "null"}, 403),
    ],
)
async def test_graphql_with_cookie_needs_csrf_header_and_own_origin(
    http: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    await sign_in(http, "staff-anna")
    token = await csrf(http)
    sent = {k: v.replace("{csrf}", token) for k, v in headers.items()}
    refused = await http.post("/graphql", json=ME, headers={k: v.encode() for k, v in sent.items()})
    assert refused.status_code == status
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["detail"]["code"] == "CSRF_REFUSED"
    assert "Traceback" not in refused.text and "File " not in refused.text


async def test_bearer_token_needs_no_csrf_even_beside_a_cookie(http: httpx.AsyncClient, world: Service) -> None:
    await sign_in(http, "citizen-elsa")
    answer = await http.post("/graphql", json=ME, headers={"Authorization": f"Bearer {world.token('staff-anna')}"})
    assert answer.json() == {"data": {"me": {"name": "Anna Lind"}}}  # the token decides, not the cookie


async def test_without_cookie_or_token_401(http: httpx.AsyncClient) -> None:
    answer = await http.post("/graphql", json=ME, headers={"X-CSRF-Token": "x"})
    assert answer.status_code == 401 and answer.json()["detail"]["code"] == "UNAUTHENTICATED"
    me = await http.get("/auth/me")
    assert me.status_code == 401 and me.json()["detail"]["code"] == "UNAUTHENTICATED"
    assert "Logga in" in (await http.get("/auth/")).text


async def test_logout_clears_the_session(http: httpx.AsyncClient) -> None:
    await sign_in(http, "staff-anna")
    token = await csrf(http)
    refused = await http.post("/auth/logout")  # no CSRF token: a cross-site logout is refused
    assert refused.status_code == 403 and (await http.get("/auth/me")).status_code == 200
    out = await http.post("/auth/logout", headers={"X-CSRF-Token": token})
    assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
    assert (await http.get("/auth/me")).status_code == 401
    after = await http.post("/graphql", json=ME, headers={"X-CSRF-Token": token})
    assert after.status_code == 401


async def test_logout_form_on_the_page(http: httpx.AsyncClient) -> None:
    await sign_in(http, "citizen-elsa")
    out = await http.post("/auth/logout", data={"csrf_token": await csrf(http)})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert (await http.get("/auth/me")).status_code == 401


async def test_state_mismatch_refused(http: httpx.AsyncClient) -> None:
    request = await start(http)
    callback = await choose(http, request, "staff-anna")
    forged = callback.replace(f"state={request['state']}", "state=someone-elses-state")
    refused = await http.get(forged)
    assert refused.status_code == 400 and "Inloggningen misslyckades" in refused.text
    assert (await http.get("/auth/me")).status_code == 401
    # a callback in a browser that never started this sign-in (login CSRF) is refused too
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=WAIT_S) as stranger:
        request = await start(http)
        assert (await stranger.get(await choose(http, request, "staff-anna"))).status_code == 400


async def test_nonce_mismatch_refused(http: httpx.AsyncClient) -> None:
    request = await start(http)
    callback = await choose(http, request, "staff-anna", nonce="not-the-nonce-we-sent")
    refused = await http.get(callback)
    assert refused.status_code == 400
    assert (await http.get("/auth/me")).status_code == 401


async def test_reused_code_refused(http: httpx.AsyncClient) -> None:
    callback = await choose(http, await start(http), "staff-anna")
    assert (await http.get(callback)).status_code == 303
    # the same callback again: its state is spent
    assert (await http.get(callback)).status_code == 400
    # the old code under a fresh sign-in's state: the provider refuses a spent code
    fresh = await start(http)
    code = dict(parse_qsl(urlsplit(callback).query))["code"]
    refused = await http.get("/auth/callback", params={"code": code, "state": fresh["state"]})
    assert refused.status_code == 400
    assert (await http.get("/auth/me")).status_code == 401


async def test_provider_error_refused(http: httpx.AsyncClient) -> None:
    request = await start(http)
    refused = await http.get("/auth/callback", params={"error": "access_denied", "state": request["state"]})
    assert refused.status_code == 400 and "Traceback" not in refused.text


async def test_tampered_cookie_is_no_session(http: httpx.AsyncClient) -> None:
    await sign_in(http, "staff-anna")
    [cookie] = list(http.cookies.jar)
    assert cookie.value is not None
    head, tail = cookie.value[:-3], cookie.value[-3:]
    http.cookies.set(cookie.name, head + ("AAA" if tail != "AAA" else "BBB"), domain=cookie.domain, path="/")
    assert (await http.get("/auth/me")).status_code == 401


async def test_unsafe_next_goes_home(http: httpx.AsyncClient) -> None:
    done = await sign_in(http, "staff-anna", next_="//evil.example/steal")
    assert done.headers["location"] == "/"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil",
        "",
        "/a\r\nSet-Cookie: x=1",
        "/\x00",
    ],
)
def test_safe_next_refuses(target: str) -> None:
    assert safe_next(target) == "/"


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/plans/1?tab=goals#x") == "/plans/1?tab=goals#x"


def settings_for(world: Service, public_url: str, **overrides: object) -> Settings:
    """A second service on the same database, trusting the running test provider over HTTP."""
    values: dict[str, object] = {
        "database_url": world.settings.database_url,
        "public_url": public_url,
        "oidc_issuer": world.settings.issuer,
        "oidc_jwks_url": f"{world.url}/dev-oidc/jwks",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def production(world: Service) -> AsyncIterator[httpx.AsyncClient]:
    # The provider accepts loopback redirect URIs; the ASGI transport needs no listening socket.
    settings = settings_for(
        world,
        "https://127.0.0.1:9",
        env=Mode.PRODUCTION,
        session_secret=SecretStr("s" * 40),
        meeting_token_secret=SecretStr("m" * 40),
    )
    db = Database(settings.database_url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, db)), base_url="https://127.0.0.1:9"
    ) as client:
        yield client
    await db.dispose()


async def test_production_cookie_is_secure_host_only(production: httpx.AsyncClient, http: httpx.AsyncClient) -> None:
    login = await production.get("/auth/login")
    assert login.headers["set-cookie"].startswith("__Host-sip_session=")
    done = await production.get(await choose(http, await start(production), "staff-anna"))
    assert done.status_code == 303, done.text
    flags = [f.strip().lower() for f in done.headers["set-cookie"].split(";")[1:]]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(flags)
    assert not any(f.startswith("domain") for f in flags)
    me = await production.get("/auth/me")
    assert me.json()["name"] == "Anna Lind"
    csrf_header = {"X-CSRF-Token": me.json()["csrfToken"]}
    # A page may send only the known operations (graphql/operations/), which it fetches by name.
    known = (await production.get("/graphql/operations.json")).json()
    answer = await production.post("/graphql", json={"query": known["Me"]}, headers=csrf_header)
    assert answer.json()["data"]["me"]["name"] == "Anna Lind"
    refused = await production.post("/graphql", json=ME, headers=csrf_header)
    assert refused.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"
    assert "data" not in refused.json() or refused.json()["data"] is None


async def test_production_answers_carry_hsts_development_none(
    production: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    hsts = "max-age=63072000; includeSubDomains"
    answers = [
        await production.get("/healthz"),
        await production.get("/auth/me"),  # 401
        await production.get("/app/"),  # a page
        await production.get("/no-such-page"),  # 404
        await production.post("/graphql", content=b"x" * 300_000),  # 413 from the body limit
    ]
    assert [a.status_code for a in answers] == [200, 401, 200, 404, 413]
    assert all(a.headers.get("strict-transport-security") == hsts for a in answers), [a.headers for a in answers]
    for path in ["/healthz", "/app/", "/auth/me"]:
        assert "strict-transport-security" not in (await http.get(path)).headers


async def test_an_id_token_is_no_bearer_token(http: httpx.AsyncClient, world: Service) -> None:
    # The service's client id and the API's audience are one name here: only the token's type
    # (at+jwt) and the ID token's nonce tell them apart.
    client_id = world.settings.oidc_client_id
    assert client_id == world.settings.oidc_audience
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = f"{world.url}/auth/callback"
    chosen = await http.post(
        "/dev-oidc/authorize",
        data={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile",
            "state": "state-1",
            "nonce": "nonce-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "sub": "staff-anna",
        },
    )
    assert chosen.status_code == 303, chosen.text
    code = dict(parse_qsl(urlsplit(chosen.headers["location"]).query))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    tokens = await http.post("/dev-oidc/token", data=form | {"client_id": client_id, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    access, id_token = tokens.json()["access_token"], tokens.json()["id_token"]
    answer = await http.post("/graphql", json=ME, headers={"Authorization": f"Bearer {access}"})
    assert answer.json() == {"data": {"me": {"name": "Anna Lind"}}}
    as_id = {"Authorization": f"Bearer {id_token}"}
    for refused in [
        await http.post("/graphql", json=ME, headers=as_id),
        await http.get("/fhir/CarePlan", headers=as_id),
    ]:
        assert refused.status_code == 401 and "TOKEN_INVALID" in refused.text, refused.text
    # nor an ID token without a nonce (typ JWT), nor an at+jwt token that carries one
    no_nonce = world.provider.issue_token("staff-anna", audience=client_id, typ="JWT")
    with_nonce = world.provider.issue_token("staff-anna", extra={"nonce": "n"})
    for token in [no_nonce, with_nonce]:
        refused = await http.post("/graphql", json=ME, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401, refused.text


def test_production_refuses_to_start_without_its_secrets(world: Service) -> None:
    with pytest.raises(ValueError, match="SIP_SESSION_SECRET"):
        settings_for(world, "https://sip.example.se", env=Mode.PRODUCTION)
    with pytest.raises(ValueError, match="SIP_MEETING_TOKEN_SECRET"):
        settings_for(world, "https://sip.example.se", env=Mode.PRODUCTION, session_secret=SecretStr("s" * 40))


async def test_unknown_person_gets_no_session(world: Service, http: httpx.AsyncClient) -> None:
    # The mapping looks for the HSA-id in a claim the development provider does not send.
    settings = settings_for(world, "http://127.0.0.1:9", oidc_claim_hsa_id="employeeHsaId")
    app = create_app(settings, Database(settings.database_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:9") as client:
        refused = await sign_in(client, "staff-anna", provider=http)
        assert refused.status_code == 403 and "finns inte" in refused.text
        assert (await client.get("/auth/me")).status_code == 401


async def test_identity_provider_down_is_a_plain_503(world: Service, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(world, "http://127.0.0.1:9", oidc_issuer="http://127.0.0.1:9/nothing-here")
    app = create_app(settings, Database(settings.database_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:9") as client:
        down = await client.get("/auth/login")
        assert down.status_code == 503 and "Traceback" not in down.text
    # the log names the address tried, so a wrong SIP_PUBLIC_URL or SIP_OIDC_ISSUER is found at once
    assert "http://127.0.0.1:9/nothing-here/.well-known/openid-configuration" in caplog.text


async def _websocket_init(world: Service, cookies: httpx.Cookies, origin: str, payload: dict[str, str]) -> int | str:
    """Open the GraphQL websocket as a page would (cookie, Origin); the ack, the close code, or the
    HTTP status that refused the upgrade."""
    url = world.url.replace("http://", "ws://") + "/graphql"
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    try:
        return await _init(url, cookie, origin, payload)
    except InvalidStatus as refused:
        return refused.response.status_code


async def _init(url: str, cookie: str, origin: str, payload: dict[str, str]) -> int | str:
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"Cookie": cookie},
        origin=origin,  # type: ignore[arg-type]
        open_timeout=WAIT_S,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            answer: str = json.loads(await within(ws.recv(), "the answer to connection_init"))["type"]
            return answer
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 0


async def test_a_page_signs_its_websocket_in_with_cookie_and_csrf(http: httpx.AsyncClient, world: Service) -> None:
    await sign_in(http, "staff-anna")
    token = await csrf(http)
    assert await _websocket_init(world, http.cookies, world.url, {"csrf": token}) == "connection_ack"
    # another site's page cannot ride on the cookie, nor can a page without the token
    assert await _websocket_init(world, http.cookies, "https://evil.example", {"csrf": token}) in (403, 4403)
    assert await _websocket_init(world, http.cookies, world.url, {"csrf": "guess"}) == 4403
    assert await _websocket_init(world, http.cookies, world.url, {}) == 4403
