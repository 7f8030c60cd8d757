"""Rotating the session and meeting-token secrets without signing everyone out (issue 16, part 5).

Three services on one database, as the same processes would be after each step of a rotation
(README, "Key rotation"): under the old secrets; with the new secret first and the old one second;
with the old one dropped. A browser session and a guest's meeting token made under the old secret
keep working while it is listed, and are refused cleanly (401) once it is not; invite links are
stored as hashes and do not depend on either secret."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from test_auth import settings_for, sign_in

from sip_service.app import create_app
from sip_service.kit.db import Database
from sip_service.meetings import invites
from sip_service.settings import Settings

from conftest import GraphQLClient, Service
from helpers import WAIT_S, issue, plan_with_meetings, token_of

OLD_SESSION, NEW_SESSION = "old session secret " + "o" * 20, "new session secret " + "n" * 20
OLD_MEETING, NEW_MEETING = "old meeting secret " + "o" * 20, "new meeting secret " + "n" * 20
COOKIE = "sip_session"  # development's name (production: __Host-sip_session)
ME = {"query": "{ me { kind name } }"}


@asynccontextmanager
async def serving(world: Service, **secrets_: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(world, "http://127.0.0.1:9", **secrets_)
    db = Database(settings.database_url)
    app = create_app(settings, db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:9") as client:
            yield client
    finally:
        await app.state.live.broker.close()
        await db.dispose()


async def me_with(client: httpx.AsyncClient, cookie: str) -> httpx.Response:
    """/auth/me with only this session cookie (the client's own jar emptied)."""
    client.cookies.clear()
    return await client.get("/auth/me", headers={"Cookie": f"{COOKIE}={cookie}"})


def cookie_set_by(response: httpx.Response) -> str:
    name, _, value = response.headers["set-cookie"].split(";")[0].partition("=")
    assert name == COOKIE and value, response.headers
    return value


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_old_sessions_and_meeting_tokens_work_while_listed_and_are_refused_once_dropped(
    gql: GraphQLClient, world: Service
) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    link = token_of((await issue(gql, setup, setup.patient))["url"])  # issued before the rotation
    async with httpx.AsyncClient(base_url=world.url, timeout=WAIT_S) as provider:
        # 1. Before: the old secrets (the single settings, as before rotation existed).
        async with serving(
            world, session_secret=SecretStr(OLD_SESSION), meeting_token_secret=SecretStr(OLD_MEETING)
        ) as before:
            done = await sign_in(before, "staff-anna", provider=provider)
            assert done.status_code == 303, done.text
            old_cookie = cookie_set_by(done)
            exchanged = await before.post("/auth/invite", json={"token": link})
            assert exchanged.status_code == 200, exchanged.text
            old_token = exchanged.json()["meetingToken"]
            assert invites.guest_principal_from_meeting_token(old_token, [OLD_MEETING.encode()]) is not None

        # 2. Rotated: the new secret signs, the old one is listed second and still accepted.
        async with serving(
            world,
            session_secret=SecretStr(NEW_SESSION),
            session_secrets=[SecretStr(OLD_SESSION)],
            meeting_token_secret=SecretStr(NEW_MEETING),
            meeting_token_secrets=[SecretStr(OLD_MEETING)],
        ) as rotated:
            me = await me_with(rotated, old_cookie)
            assert me.status_code == 200 and me.json()["name"] == "Anna Lind", me.text
            # and the answer sealed the session again under the new secret, with the same end
            resealed = cookie_set_by(me)
            assert resealed != old_cookie and "max-age=" in me.headers["set-cookie"].lower(), me.headers
            rotated.cookies.clear()
            page = {"Cookie": f"{COOKIE}={old_cookie}", "X-CSRF-Token": me.json()["csrfToken"]}
            answer = await rotated.post("/graphql", json=ME, headers=page | {"Origin": "http://127.0.0.1:9"})
            assert answer.json() == {"data": {"me": {"kind": "STAFF", "name": "Anna Lind"}}}, answer.text
            guest = await rotated.post("/graphql", json=ME, headers=bearer(old_token))
            assert guest.json() == {"data": {"me": {"kind": "GUEST", "name": "Elsa Andersson"}}}, guest.text
            # the link made before the rotation gives a token under the new secret
            exchanged = await rotated.post("/auth/invite", json={"token": link})
            assert exchanged.status_code == 200, exchanged.text
            new_token = exchanged.json()["meetingToken"]
            assert invites.guest_principal_from_meeting_token(new_token, [NEW_MEETING.encode()]) is not None
            assert invites.guest_principal_from_meeting_token(new_token, [OLD_MEETING.encode()]) is None

        # 3. The old secret dropped: what was made under it is refused cleanly, the rest works.
        async with serving(
            world,
            session_secrets=[SecretStr(NEW_SESSION)],  # the list alone is enough
            meeting_token_secrets=[SecretStr(NEW_MEETING)],
        ) as after:
            gone = await me_with(after, old_cookie)
            assert gone.status_code == 401, gone.text
            assert "set-cookie" not in gone.headers, "an unreadable cookie is ignored, not answered"
            assert (await me_with(after, resealed)).json()["name"] == "Anna Lind"
            after.cookies.clear()
            refused = await after.post("/graphql", json=ME, headers=bearer(old_token))
            assert refused.status_code == 401, refused.text
            assert refused.json()["detail"]["code"] == "UNAUTHENTICATED", refused.text  # as any refused token
            assert "Traceback" not in refused.text
            guest = await after.post("/graphql", json=ME, headers=bearer(new_token))
            assert guest.json() == {"data": {"me": {"kind": "GUEST", "name": "Elsa Andersson"}}}, guest.text


def test_secret_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    monkeypatch.setenv("SIP_SESSION_SECRETS", f" {first} , {second},")
    monkeypatch.setenv("SIP_MEETING_TOKEN_SECRET", second)
    monkeypatch.setenv("SIP_MEETING_TOKEN_SECRETS", f"{first},{second}")
    settings = Settings()
    assert settings.session_keys == [first, second]
    assert settings.meeting_token_keys == [second, first]  # the single setting first; each once
    monkeypatch.setenv("SIP_SESSION_SECRETS", f"{first},too-short")
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings()
    monkeypatch.delenv("SIP_SESSION_SECRETS")
    monkeypatch.delenv("SIP_MEETING_TOKEN_SECRET")
    monkeypatch.delenv("SIP_MEETING_TOKEN_SECRETS")
    assert (Settings().session_keys, Settings().meeting_token_keys) == ([], [])
