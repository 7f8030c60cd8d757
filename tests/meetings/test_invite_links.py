"""Invite links: staff issue them, guests exchange them for a meeting token, refusals are plain.

The exchange router runs in its own small app on a real uvicorn server, on the database of `world`,
until app.py mounts it; staff use the real service's GraphQL endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import select, text

from sip_service.app import believe_forwarded_headers
from sip_service.auth.principal import AuthMethod
from sip_service.cli import proxy_options
from sip_service.http.invite import invite_router
from sip_service.kit import clock
from sip_service.kit.ratelimit import SlidingWindowLimiter
from sip_service.meetings import invites
from sip_service.models.audit import AuditEvent

from conftest import GraphQLClient, Service, op, started
from helpers import citizen_id, issue, plan_with_meetings, token_of

SECRET = secrets.token_bytes(32)
LINKS = "query($id: UUID!) { plan(id: $id) { meetings { id inviteLinks { participantId lastUsedAt } } } }"


@dataclass
class Guests:
    """The exchange endpoint as a guest's browser sees it; `tick` moves the rate limiter's clock."""

    http: httpx.AsyncClient
    seconds: list[float]

    async def exchange(self, token: str) -> httpx.Response:
        return await self.http.post("/auth/invite", json={"token": token})

    def tick(self, seconds: float) -> None:
        self.seconds[0] += seconds


@pytest.fixture
async def guests(world: Service) -> AsyncIterator[Guests]:
    seconds = [1000.0]
    app = FastAPI()
    limiter = SlidingWindowLimiter(limit=10, window_s=60, clock=lambda: seconds[0])
    app.include_router(invite_router(world.db, world.settings, SECRET, limiter=limiter))
    listener = socket.create_server(("127.0.0.1", 0))  # bound here: no race for a "free" port
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    await started(server, task)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield Guests(http, seconds)
    server.should_exit = True
    await task
    listener.close()


def refused(response: httpx.Response, status: int, code: str) -> None:
    """A refusal is a plain JSON answer with a stable code and a Swedish and English message."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    assert " / " in body["message"]  # Swedish / English
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_issue_then_exchange_gives_a_meeting_token_for_that_meeting_only(
    gql: GraphQLClient, world: Service, guests: Guests
) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10), timedelta(days=1))
    issued = await issue(gql, setup, setup.patient)
    assert issued["url"].startswith(f"{world.settings.public_url}/join#t=")
    meeting = setup.meetings[0]
    assert datetime.fromisoformat(issued["expiresAt"]) == datetime.fromisoformat(meeting["startsAt"]) + timedelta(
        hours=2
    )
    assert meeting["inviteLinks"] == [
        {
            "participantId": setup.patient,
            "validFrom": issued["validFrom"],
            "expiresAt": issued["expiresAt"],
            "lastUsedAt": None,
        }
    ]

    before = datetime.now(UTC)
    response = await guests.exchange(token_of(issued["url"]))
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["referrer-policy"] == "no-referrer"
    body = response.json()
    assert (body["meetingId"], body["participantId"], body["name"]) == (meeting["id"], setup.patient, "Elsa Andersson")
    expires = datetime.fromisoformat(body["expiresAt"])
    assert before + timedelta(minutes=15) <= expires <= after + timedelta(minutes=15), (before, expires, after)

    guest = invites.guest_principal_from_meeting_token(body["meetingToken"], [SECRET])
    assert guest is not None
    assert (guest.citizen_id, guest.participant_id, guest.meeting_id, guest.plan_id, guest.name, guest.method) == (
        await citizen_id(world, "Elsa"),
        uuid.UUID(setup.patient),
        uuid.UUID(meeting["id"]),
        uuid.UUID(setup.plan_id),
        "Elsa Andersson",
        AuthMethod.INVITE_LINK,
    )
    # A token for meeting A never lets anyone into meeting B, even of the same plan.
    other = uuid.UUID(setup.meetings[1]["id"])
    async with world.db.read() as s:
        assert await invites.admitted(s, guest, guest.meeting_id, clock.now())
        assert not await invites.admitted(s, guest, other, clock.now())
        assert not await invites.admitted(s, replace(guest, meeting_id=other), other, clock.now())  # forged

    # Marked used and audited as the guest, in the same transaction.
    data = await gql(LINKS, {"id": setup.plan_id}, as_="staff-anna")
    links = next(m for m in data["plan"]["meetings"] if m["id"] == meeting["id"])["inviteLinks"]
    assert links[0]["lastUsedAt"] is not None
    async with world.db.read() as s:
        events = (await s.scalars(select(AuditEvent).where(AuditEvent.plan_id == uuid.UUID(setup.plan_id)))).all()
    exchanged = [e for e in events if e.action == "inviteLink.exchange"]
    assert [(e.actor_name, e.auth_method) for e in exchanged] == [("Elsa Andersson", "INVITE_LINK")]
    assert any(e.action == "issueInviteLink" for e in events)


async def test_meeting_tokens_are_checked_strictly(gql: GraphQLClient, world: Service, guests: Guests) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    good = (await guests.exchange(token_of((await issue(gql, setup, setup.relative))["url"]))).json()["meetingToken"]
    guest = invites.guest_principal_from_meeting_token(good, [SECRET])
    assert guest is not None and guest.name == "Närstående 0"
    claims = jwt.decode(good, OctKey.import_key(SECRET)).claims
    forged = [
        invites.guest_principal_from_meeting_token(good, [secrets.token_bytes(32)]),  # another secret
        invites.guest_principal_from_meeting_token(good[:-2] + "xx", [SECRET]),  # signature altered
        invites.guest_principal_from_meeting_token(
            jwt.encode({"alg": "HS256"}, {**claims, "aud": "sip-service"}, OctKey.import_key(SECRET)), [SECRET]
        ),
        invites.guest_principal_from_meeting_token(
            jwt.encode({"alg": "HS512"}, claims, OctKey.import_key(SECRET), algorithms=["HS512"]), [SECRET]
        ),
        invites.guest_principal_from_meeting_token(good.split(".")[0] + "." + good.split(".")[1] + ".", [SECRET]),
        invites.guest_principal_from_meeting_token("not a token", [SECRET]),
    ]
    assert forged == [None] * len(forged)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        invites.guest_principal_from_meeting_token(good, [b"short"])


async def test_only_the_hash_of_the_token_is_stored(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    token = token_of((await issue(gql, setup, setup.patient))["url"])
    assert len(token) >= 43  # 32 random bytes
    async with world.db.read() as s:
        # The invitation message already carried a link (sip_service/notify), which this one replaced.
        rows = (await s.execute(text("SELECT * FROM invite_links WHERE revoked_at IS NULL"))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str([dict(r) for r in rows])


async def test_reissuing_and_revoking_stop_the_old_link(gql: GraphQLClient, world: Service, guests: Guests) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    first = token_of((await issue(gql, setup, setup.patient))["url"])
    second = token_of((await issue(gql, setup, setup.patient))["url"])
    assert len(setup.meetings[0]["inviteLinks"]) == 1
    refused(await guests.exchange(first), 401, "INVITE_REVOKED")
    ok = await guests.exchange(second)
    assert ok.status_code == 200
    guest = invites.guest_principal_from_meeting_token(ok.json()["meetingToken"], [SECRET])
    assert guest is not None

    m = setup.meetings[0]
    variables = {"meetingId": m["id"], "expectedVersion": m["version"], "participantId": setup.patient}
    revoked = (await gql(op("RevokeInviteLink"), variables, as_="staff-anna"))["revokeInviteLink"]
    assert revoked["inviteLinks"] == []
    # Replaying the link after revocation is refused, and the meeting token it gave no longer admits.
    refused(await guests.exchange(second), 401, "INVITE_REVOKED")
    async with world.db.read() as s:
        assert not await invites.admitted(s, guest, guest.meeting_id, clock.now())
    variables["expectedVersion"] = revoked["version"]
    again = (await gql(op("RevokeInviteLink"), variables, as_="staff-anna"))["revokeInviteLink"]
    assert again["__typename"] == "ValidationError"


async def test_a_link_works_only_in_its_window(
    gql: GraphQLClient, world: Service, guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(days=2), timedelta(minutes=-30), timedelta(hours=-5))
    early = await issue(gql, setup, setup.patient, meeting=0)
    starts = datetime.fromisoformat(setup.meetings[0]["startsAt"])
    assert datetime.fromisoformat(early["validFrom"]) == starts - timedelta(hours=1)
    refused(await guests.exchange(token_of(early["url"])), 403, "INVITE_NOT_YET_VALID")

    now = await issue(gql, setup, setup.patient, meeting=1)
    assert datetime.fromisoformat(now["validFrom"]) <= datetime.now(UTC)  # from issue: the meeting is on
    ok = await guests.exchange(token_of(now["url"]))
    assert ok.status_code == 200
    # Three hours later the meeting is long over: the link and the meeting token both expired.
    later = clock.now() + timedelta(hours=3)
    monkeypatch.setattr(clock, "now", lambda: later)
    refused(await guests.exchange(token_of(now["url"])), 401, "INVITE_EXPIRED")
    assert invites.guest_principal_from_meeting_token(ok.json()["meetingToken"], [SECRET]) is None
    monkeypatch.undo()

    over = await issue(gql, setup, setup.patient, meeting=2)
    assert over["__typename"] == "ValidationError" and over["field"] == "meetingId"


async def test_a_cancelled_meeting_admits_nobody(gql: GraphQLClient, world: Service, guests: Guests) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    token = token_of((await issue(gql, setup, setup.patient))["url"])
    guest = invites.guest_principal_from_meeting_token((await guests.exchange(token)).json()["meetingToken"], [SECRET])
    assert guest is not None
    m = setup.meetings[0]
    await gql(op("CancelMeeting"), {"meetingId": m["id"], "expectedVersion": m["version"]}, as_="staff-anna")
    refused(await guests.exchange(token), 403, "MEETING_CANCELLED")
    async with world.db.read() as s:
        assert not await invites.admitted(s, guest, guest.meeting_id, clock.now())


async def test_who_may_issue_and_for_whom(gql: GraphQLClient, world: Service) -> None:
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10), invite_relative=False)
    # Another organisation's staff do not see the meeting at all.
    other_org = await issue(gql, setup, setup.patient, as_="staff-sara")
    assert other_org["__typename"] == "NotFoundError" and other_org["code"] == "NOT_FOUND"
    assert (await issue(gql, setup, setup.patient, as_="citizen-elsa"))["__typename"] == "ForbiddenError"
    staff = await issue(gql, setup, setup.staff)
    assert staff["__typename"] == "ValidationError" and staff["field"] == "participantId"
    not_invited = await issue(gql, setup, setup.relative)
    assert not_invited["__typename"] == "ValidationError" and "invite" in not_invited["message"]
    assert (await issue(gql, setup, str(uuid.uuid4())))["__typename"] == "NotFoundError"


async def test_refusals_are_plain_and_attempts_are_limited(guests: Guests) -> None:
    refused(await guests.http.post("/auth/invite", content=b"{nope"), 400, "BAD_REQUEST")
    refused(await guests.http.post("/auth/invite", json={"token": 7}), 400, "BAD_REQUEST")
    refused(await guests.http.post("/auth/invite", json=["token"]), 400, "BAD_REQUEST")
    unknown = await guests.exchange(secrets.token_urlsafe(32))
    refused(unknown, 401, "INVITE_UNKNOWN")
    assert unknown.headers["www-authenticate"] == "Bearer"
    refused(await guests.exchange("x" * 10_000), 400, "BAD_REQUEST")  # far too big to be a token
    for _ in range(5):
        refused(await guests.exchange(secrets.token_urlsafe(32)), 401, "INVITE_UNKNOWN")
    limited = await guests.exchange(secrets.token_urlsafe(32))  # the eleventh attempt this minute
    refused(limited, 429, "RATE_LIMITED")
    assert limited.headers["retry-after"] == "60"
    guests.tick(61)
    refused(await guests.exchange(secrets.token_urlsafe(32)), 401, "INVITE_UNKNOWN")


async def _attempts_from(world: Service, trusted_proxies: list[str], forwarded_for: list[str]) -> list[int]:
    """Invite exchanges (limit 3 a minute) from this machine, through uvicorn and the app configured as
    `serve` and `create_app` configure them, each with the next X-Forwarded-For: their statuses."""
    settings = world.settings.model_copy(update={"trusted_proxies": trusted_proxies})
    app = FastAPI()
    app.include_router(invite_router(world.db, settings, SECRET, limiter=SlidingWindowLimiter(limit=3, window_s=60)))
    believe_forwarded_headers(app, settings)  # as create_app does
    listener = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", **proxy_options(settings))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    await started(server, task)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=30) as http:
            return [
                (
                    await http.post("/auth/invite", json={"token": "x" * 43}, headers={"X-Forwarded-For": address})
                ).status_code
                for address in forwarded_for
            ]
    finally:
        server.should_exit = True
        await task
        listener.close()


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(world: Service) -> None:
    rotating = [f"203.0.113.{n}" for n in range(6)]
    # No proxy trusted (the default): the header is ignored, all six come from 127.0.0.1.
    assert await _attempts_from(world, [], rotating) == [401, 401, 401, 429, 429, 429]
    # From a trusted proxy the forwarded address is the client's: six clients, one attempt each …
    assert await _attempts_from(world, ["127.0.0.1"], rotating) == [401] * 6
    # … and one client behind it is limited as itself.
    assert await _attempts_from(world, ["127.0.0.0/8"], ["198.51.100.7"] * 4) == [401, 401, 401, 429]


def test_the_sliding_window() -> None:
    t = [0.0]
    limiter = SlidingWindowLimiter(limit=2, window_s=60, clock=lambda: t[0], max_keys=2)
    assert limiter.attempt("a") is None
    t[0] = 30
    assert limiter.attempt("a") is None
    t[0] = 40
    assert limiter.attempt("a") == 20  # the first attempt leaves the window at 60
    assert limiter.attempt("b") is None  # per address
    t[0] = 61
    assert limiter.attempt("a") is None and limiter.attempt("a") == 29
    t[0] = 200
    assert limiter.attempt("c") is None  # idle addresses are forgotten, so memory stays bounded
    assert set(limiter._hits) == {"c"}


def test_the_window_of_a_link() -> None:
    start = datetime(2030, 1, 1, 10, tzinfo=UTC)
    end = start + timedelta(hours=1)
    assert invites.link_window(start, end, start - timedelta(days=1)) == (
        start - timedelta(hours=1),
        end + timedelta(hours=1),
    )
    assert invites.link_window(start, end, start) == (start, end + timedelta(hours=1))


async def test_the_real_service_exchanges_a_link_and_knows_the_guest(gql: GraphQLClient, world: Service) -> None:
    """Through the service as deployed: the link's token becomes a meeting token that the GraphQL
    API accepts as a guest, who sees no plan data."""
    setup = await plan_with_meetings(gql, world, timedelta(minutes=10))
    issued = await issue(gql, setup, setup.patient)
    exchanged = await gql.http.post("/auth/invite", json={"token": token_of(issued["url"])})
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.headers["referrer-policy"] == "no-referrer"
    bearer = {"Authorization": f"Bearer {exchanged.json()['meetingToken']}"}
    me = await gql.http.post("/graphql", json={"query": "{ me { kind name } }"}, headers=bearer)
    assert me.json() == {"data": {"me": {"kind": "GUEST", "name": "Elsa Andersson"}}}
    plan = await gql.http.post(
        "/graphql", json={"query": op("PlanDetail"), "variables": {"id": setup.plan_id}}, headers=bearer
    )
    assert plan.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
