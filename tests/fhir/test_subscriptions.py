"""Record systems' Subscriptions (FHIR R4 rest-hook): made over HTTP by a system client, told when
staff finalize a plan through GraphQL, signed, sent from the outbox to a real HTTP receiver, retried
while the receiver is down and delivered once; only to organisations that may read the plan; bad
resources refused with nothing written. The outbox runs when the test says (the service's worker
is off in tests) and at the times the test gives it, so nothing waits for a backoff to pass."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from test_fhir import valid

from sip_service.auth.principal import CitizenPrincipal
from sip_service.demo import _Cast, _ready_plan
from sip_service.http.fhir.subscriptions import PAYLOAD_CONTENT, SECRET, parse
from sip_service.kit import clock
from sip_service.kit.errors import Invalid
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.notify import Channel, MessageStatus, OutboxMessage
from sip_service.models.plans import Plan, PlanStatus
from sip_service.models.subscriptions import Subscription
from sip_service.notify import service as outbox
from sip_service.notify import webhooks
from sip_service.notify.senders import ConsoleSender, Outgoing, Senders, WebhookSender
from sip_service.plans import service as plans
from sip_service.usecases import run

from conftest import SHUTDOWN_S, GraphQLClient, Service, op, started
from helpers import WAIT_S, citizen_id, staff

VCN, HEM = "SE2321000016-VCN", "SE2120000142-HEM"  # Anna's health centre; home care, not in Elsa's plan
SCOPES = "system/Subscription.write system/Subscription.read system/CarePlan.read"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """A record system's endpoint: answers `status` and keeps every request."""

    status: int = 200
    got: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.got.append(Received(scope["path"], headers, body, self.status))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def delivered(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path and r.answered == 200]


def closed_port() -> int:
    """A loopback port nobody listens on (yet): connections to it are refused."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        port: int = s.getsockname()[1]
    return port


@asynccontextmanager
async def receiving(receiver: Receiver, port: int) -> AsyncIterator[None]:
    listener = socket.create_server(("127.0.0.1", port))
    config = uvicorn.Config(receiver, log_level="warning", lifespan="off", timeout_graceful_shutdown=SHUTDOWN_S)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await started(server, task, WAIT_S)
        yield
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture
async def http(world: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def resource(endpoint: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Journalen hålls i takt med SIP",
        "criteria": "CarePlan?status=active",
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer mottagarens-token"],
        },
    }
    return body | changes


async def subscribe(http: httpx.AsyncClient, token: str, endpoint: str) -> tuple[str, str]:
    """The new subscription's id and its signing secret (shown this once)."""
    response = await http.post("/fhir/Subscription", json=resource(endpoint), headers=bearer(token))
    assert response.status_code == 201, response.text
    body = valid(response.json())
    assert body["status"] == "active" and response.headers["location"].endswith(f"/Subscription/{body['id']}")
    assert body["channel"]["header"] == ["Authorization: ***"]  # named, never shown again
    [secret] = [e["valueString"] for e in body["extension"] if e["url"] == SECRET]
    return body["id"], secret


async def ready_active_plan(world: Service) -> uuid.UUID:
    """Elsa's plan, finalized once (revision 1), as the demo makes it."""
    async with world.db.read() as s:
        cast = _Cast(list(await s.scalars(select(StaffMember))), list(await s.scalars(select(Citizen))))
    return await _ready_plan(world.db, cast, "Elsa", goal="Gå till affären.", background="B.")


async def mutate(gql: GraphQLClient, name: str, plan_id: uuid.UUID, as_: str) -> dict[str, Any]:
    async with gql.service.db.read() as s:
        plan = await s.get(Plan, plan_id)
        assert plan is not None
        version = plan.version
    data = await gql(op(name), {"planId": str(plan_id), "expectedVersion": version}, as_=as_)
    result: dict[str, Any] = next(iter(data.values()))
    assert "code" not in result, result  # not an error
    return result


async def webhook_messages(world: Service) -> list[OutboxMessage]:
    async with world.db.read() as s:
        stmt = select(OutboxMessage).where(OutboxMessage.channel == Channel.WEBHOOK).order_by(OutboxMessage.created_at)
        return list(await s.scalars(stmt))


def senders() -> Senders:
    return Senders(ConsoleSender(), ConsoleSender(), WebhookSender(timeout_s=WAIT_S))


async def send_outbox(world: Service, at: datetime, max_attempts: int = 12) -> outbox.RunResult:
    """One round of the outbox as a worker would run it at `at` (its clock: backoffs are not waited out)."""
    return await outbox.run_once(world.db, senders(), max_attempts=3, webhook_max_attempts=max_attempts, now=at)


async def finalized_then_rolled_back(world: Service, plan_id: uuid.UUID) -> None:
    """A unit of work that finalizes the plan and then fails: rolled back whole."""
    anna = await staff(world, "Anna")
    elsa = await citizen_id(world, "Elsa")

    async def change(s: AsyncSession) -> Plan:
        plan = await s.get(Plan, plan_id)
        assert plan is not None
        patient_side = CitizenPrincipal(elsa, "Elsa")
        plan = await plans.approve_plan(s, patient_side, plan_id, plan.version)
        await s.flush()
        finalized = await plans.finalize_plan(s, anna, plan_id, plan.version)
        assert finalized.status is PlanStatus.ACTIVE
        raise Invalid("something after the finalization failed")

    with pytest.raises(Invalid, match="after the finalization"):
        await run(world.db, anna, "test", change, broker=None)
    async with world.db.read() as s:
        plan = await s.get(Plan, plan_id)
        assert plan is not None and plan.status is PlanStatus.REVISING


async def test_a_finalized_plan_is_told_signed_retried_and_delivered_once(
    http: httpx.AsyncClient, gql: GraphQLClient, world: Service
) -> None:
    plan_id = await ready_active_plan(world)
    vcn = world.provider.issue_client_token("journal-vcn", VCN, SCOPES)
    hem = world.provider.issue_client_token("journal-hem", HEM, SCOPES)
    port = closed_port()  # the record system is down at first
    sub_id, secret = await subscribe(http, vcn, f"http://127.0.0.1:{port}/vcn")
    await subscribe(http, hem, f"http://127.0.0.1:{port}/hem")  # may not read Elsa's plan: told nothing

    # staff revise the plan (nothing is told), the patient approves, the coordinator finalizes
    assert (await mutate(gql, "RevisePlan", plan_id, "staff-anna"))["status"] == "REVISING"
    assert await webhook_messages(world) == []
    await finalized_then_rolled_back(world, plan_id)
    assert await webhook_messages(world) == []  # nothing for work that was not committed
    await mutate(gql, "ApprovePlan", plan_id, "citizen-elsa")
    assert (await mutate(gql, "FinalizePlan", plan_id, "staff-anna"))["status"] == "ACTIVE"
    [queued] = await webhook_messages(world)
    assert queued.subscription_id == uuid.UUID(sub_id) and str(plan_id) in queued.body

    t0 = clock.now()
    receiver = Receiver(status=503)
    first = await send_outbox(world, t0)  # connection refused
    assert (first.sent, first.retrying) == (0, 1), first
    assert (await send_outbox(world, t0 + timedelta(seconds=29))).sent == 0  # not due before its backoff
    async with receiving(receiver, port):
        second = await send_outbox(world, t0 + outbox.webhook_backoff(1))  # up, but answering 503
        assert (second.sent, second.retrying) == (0, 1) and len(receiver.got) == 1, second
        receiver.status = 200
        later = t0 + outbox.webhook_backoff(1) + outbox.webhook_backoff(2)
        # two workers (processes) at the same moment: one sends it
        runs = await asyncio.gather(send_outbox(world, later), send_outbox(world, later))
        assert sum(r.sent for r in runs) == 1, runs
        assert (await send_outbox(world, later + timedelta(days=2))).sent == 0  # and never again
    [delivered] = receiver.delivered("/vcn")
    assert receiver.delivered("/hem") == [] and all(r.path == "/vcn" for r in receiver.got)
    assert delivered.headers["x-sip-delivery"] == receiver.got[0].headers["x-sip-delivery"] == str(queued.id)
    assert delivered.headers["authorization"] == "Bearer mottagarens-token"
    assert delivered.headers["content-type"].startswith("application/fhir+json")

    # the receiver checks the signature with the secret it was given; a changed body or another secret fails
    signed = delivered.headers[webhooks.SIGNATURE_HEADER.lower()]
    assert webhooks.verify(secret, signed, delivered.body)
    assert not webhooks.verify(secret, signed, delivered.body.replace(b"CarePlan", b"CarePlam"))
    assert not webhooks.verify("another secret", signed, delivered.body)
    stamp = int(signed.split(",")[0].removeprefix("t="))
    assert not webhooks.verify(secret, signed, delivered.body, now=stamp + webhooks.TOLERANCE_S + 1)  # a replay

    # id-only: the plan's address, no plan data; then the record system reads it with its own token
    bundle = valid(json.loads(delivered.body))
    assert bundle["type"] == "history"
    status, focus = bundle["entry"]
    params = {p["name"]: p for p in status["resource"]["parameter"]}
    assert params["subscription"]["valueReference"]["reference"].endswith(f"/Subscription/{sub_id}")
    assert params["events-since-subscription-start"]["valueString"] == "1"
    assert focus["fullUrl"] == f"{world.url}/fhir/CarePlan/{plan_id}" and "resource" not in focus
    assert "Elsa" not in delivered.body.decode() and "194003122388" not in delivered.body.decode()
    care_plan = await http.get(focus["fullUrl"], headers=bearer(vcn))
    assert care_plan.status_code == 200 and valid(care_plan.json())["status"] == "active"

    [message] = await webhook_messages(world)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 3)
    async with world.db.read() as s:
        told = list(
            await s.scalars(
                select(AuditEvent).where(AuditEvent.plan_id == plan_id, AuditEvent.action == "subscription.notify")
            )
        )
    assert [(e.access, e.actor_kind, e.actor_name, e.detail) for e in told] == [
        (AuditAccess.READ, "SYSTEM", "journal-vcn", f"Subscription/{sub_id}")
    ]


async def test_given_up_shows_as_error_and_a_later_delivery_makes_it_active(
    http: httpx.AsyncClient, gql: GraphQLClient, world: Service
) -> None:
    plan_id = await ready_active_plan(world)
    vcn = world.provider.issue_client_token("journal-vcn", VCN, SCOPES)
    receiver, port = Receiver(status=500), closed_port()
    sub_id, _ = await subscribe(http, vcn, f"http://127.0.0.1:{port}/vcn")
    await mutate(gql, "RevisePlan", plan_id, "staff-anna")
    await mutate(gql, "ApprovePlan", plan_id, "citizen-elsa")
    await mutate(gql, "FinalizePlan", plan_id, "staff-anna")
    t = clock.now()
    async with receiving(receiver, port):
        assert (await send_outbox(world, t, max_attempts=2)).retrying == 1
        assert (await send_outbox(world, t + timedelta(hours=1), max_attempts=2)).failed == 1
        shown = valid((await http.get(f"/fhir/Subscription/{sub_id}", headers=bearer(vcn))).json())
        assert shown["status"] == "error" and "500" in shown["error"]
        # the next finalization is told, and its delivery shows the subscription working again
        receiver.status = 200
        await mutate(gql, "RevisePlan", plan_id, "staff-anna")
        await mutate(gql, "ApprovePlan", plan_id, "citizen-elsa")
        await mutate(gql, "FinalizePlan", plan_id, "staff-anna")
        assert (await send_outbox(world, clock.now(), max_attempts=2)).sent == 1
    shown = valid((await http.get(f"/fhir/Subscription/{sub_id}", headers=bearer(vcn))).json())
    assert shown["status"] == "active" and "error" not in shown
    [delivered] = receiver.delivered("/vcn")
    params = {p["name"]: p for p in json.loads(delivered.body)["entry"][0]["resource"]["parameter"]}
    assert params["events-since-subscription-start"]["valueString"] == "2"


async def test_own_subscriptions_only_and_deleted_ones_send_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, world: Service
) -> None:
    plan_id = await ready_active_plan(world)
    vcn = world.provider.issue_client_token("journal-vcn", VCN, SCOPES)
    other_vcn_system = world.provider.issue_client_token("lab-vcn", VCN, SCOPES)
    hem = world.provider.issue_client_token("journal-hem", HEM, SCOPES)
    sub_id, _ = await subscribe(http, vcn, "https://journal.example/hook")
    hem_sub, _ = await subscribe(http, hem, "https://hem.example/hook")
    for path in [f"/fhir/Subscription/{sub_id}", f"/fhir/Subscription/{uuid.uuid4()}", "/fhir/Subscription/x"]:
        response = await http.get(path, headers=bearer(hem))
        assert response.status_code == 404 and valid(response.json())["issue"][0]["code"] == "not-found", path
    assert (await http.delete(f"/fhir/Subscription/{sub_id}", headers=bearer(hem))).status_code == 404
    listed = valid((await http.get("/fhir/Subscription", headers=bearer(hem))).json())
    assert [e["resource"]["id"] for e in listed["entry"]] == [hem_sub]
    # the organisation's: another system of the same organisation sees it
    assert (await http.get(f"/fhir/Subscription/{sub_id}", headers=bearer(other_vcn_system))).status_code == 200
    # a finalization queues a notification; deleting the subscription first means it is never sent
    await mutate(gql, "RevisePlan", plan_id, "staff-anna")
    await mutate(gql, "ApprovePlan", plan_id, "citizen-elsa")
    await mutate(gql, "FinalizePlan", plan_id, "staff-anna")
    assert len(await webhook_messages(world)) == 1
    assert (await http.delete(f"/fhir/Subscription/{sub_id}", headers=bearer(vcn))).status_code == 204
    assert (await http.get(f"/fhir/Subscription/{sub_id}", headers=bearer(vcn))).status_code == 404
    assert (await http.delete(f"/fhir/Subscription/{sub_id}", headers=bearer(vcn))).status_code == 404
    result = await send_outbox(world, clock.now() + timedelta(days=1))
    assert result.sent == 0
    [message] = await webhook_messages(world)
    assert message.status is MessageStatus.FAILED and message.attempts == 0
    async with world.db.read() as s:
        events = list(
            await s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.detail == f"Subscription/{sub_id}", AuditEvent.access == AuditAccess.WRITE)
                .order_by(AuditEvent.seq)  # without it PostgreSQL may answer in another order
            )
        )
    assert events == ["subscription.create", "subscription.delete"]


BAD: list[tuple[str, Any]] = [
    ("not a Subscription", {"resourceType": "Patient"}),
    ("an unknown element", resource("https://x.example/h", foo=1)),
    ("no reason", resource("https://x.example/h", reason=" ")),
    ("other criteria", resource("https://x.example/h", criteria="Patient?name=x")),
    ("status off", resource("https://x.example/h", status="off")),
    ("end past", resource("https://x.example/h", end="2020-01-01T00:00:00+00:00")),
    ("end without zone", resource("https://x.example/h", end="2099-01-01T00:00:00")),
    ("e-mail channel", resource("https://x.example/h", channel={"type": "email", "endpoint": "mailto:a@b.se"})),
    ("ftp", resource("ftp://x.example/h")),
    (
        "a list as _payload",
        resource(
            "https://x.example/h", channel={"type": "rest-hook", "endpoint": "https://x.example/h", "_payload": [1]}
        ),
    ),
    (
        "a number as header",
        resource("https://x.example/h", channel={"type": "rest-hook", "endpoint": "https://x.example/h", "header": 7}),
    ),
    ("credentials in the URL", resource("https://user:pw@x.example/h")),
    ("no host", resource("https:///h")),
    ("a fragment", resource("https://x.example/h#f")),
    ("a bad port", resource("https://x.example:99999999/h")),
    ("no endpoint", resource("https://x.example/h", channel={"type": "rest-hook"})),
    (
        "full resource",
        resource(
            "https://x.example/h",
            channel={
                "type": "rest-hook",
                "endpoint": "https://x.example/h",
                "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "full-resource"}]},
            },
        ),
    ),
    (
        "xml",
        resource(
            "https://x.example/h",
            channel={"type": "rest-hook", "endpoint": "https://x.example/h", "payload": "application/fhir+xml"},
        ),
    ),
    (
        "a reserved header",
        resource(
            "https://x.example/h",
            channel={"type": "rest-hook", "endpoint": "https://x.example/h", "header": ["X-SIP-Signature: x"]},
        ),
    ),
    (
        "a header without a colon",
        resource(
            "https://x.example/h",
            channel={"type": "rest-hook", "endpoint": "https://x.example/h", "header": ["Bearer x"]},
        ),
    ),
    (
        "a header with a line break",
        resource(
            "https://x.example/h",
            channel={"type": "rest-hook", "endpoint": "https://x.example/h", "header": ["A: b\r\nHost: evil"]},
        ),
    ),
]


SAYS = {  # what the English half of each refusal names
    "not a Subscription": "Subscription resource",
    "an unknown element": "'foo'",
    "no reason": "reason",
    "other criteria": "criteria",
    "status off": "status",
    "end past": "past",
    "end without zone": "time zone",
    "e-mail channel": "rest-hook",
    "ftp": "https URL",
    "a list as _payload": "_payload",
    "a number as header": "channel.header",
    "credentials in the URL": "https URL",
    "no host": "https URL",
    "a fragment": "https URL",
    "a bad port": "https URL",
    "no endpoint": "https URL",
    "full resource": "id-only",
    "xml": "payload",
    "a reserved header": "may not set X-SIP-Signature",
    "a header without a colon": "Name: value",
    "a header with a line break": "Name: value",
}


async def test_bad_subscriptions_get_an_operation_outcome_and_nothing_is_written(
    http: httpx.AsyncClient, world: Service
) -> None:
    vcn = world.provider.issue_client_token("journal-vcn", VCN, SCOPES)
    async with world.db.read() as s:
        audit_before = await s.scalar(select(func.count()).select_from(AuditEvent))
    for what, body in BAD:
        response = await http.post("/fhir/Subscription", json=body, headers=bearer(vcn))
        assert response.status_code == 400, (what, response.text)
        outcome = valid(response.json())
        text = outcome["issue"][0]["details"]["text"]
        assert outcome["resourceType"] == "OperationOutcome" and " / " in text, what
        assert SAYS[what] in text.split(" / ")[1], (what, text)  # refused for the reason the case is about
    response = await http.post("/fhir/Subscription", content=b"{not json", headers=bearer(vcn))
    assert response.status_code == 400 and valid(response.json())["resourceType"] == "OperationOutcome"
    # who may: a system client with the scopes; people, other scopes and no token are refused
    refusals = {
        "staff": (world.token("staff-anna"), 403),
        "read scopes only": (world.provider.issue_client_token("journal-vcn", VCN, "system/*.read"), 403),
        "no CarePlan read": (world.provider.issue_client_token("journal-vcn", VCN, "system/Subscription.write"), 403),
        "a bad token": ("nonsense", 401),
    }
    for what, (token, status) in refusals.items():
        response = await http.post("/fhir/Subscription", json=resource("https://x.example/h"), headers=bearer(token))
        assert response.status_code == status, (what, response.text)
        assert valid(response.json())["resourceType"] == "OperationOutcome", what
    assert (await http.post("/fhir/Subscription", json=resource("https://x.example/h"))).status_code == 401
    async with world.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Subscription)) == 0
        assert await s.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_production_wants_https() -> None:
    now = clock.now()
    assert parse(resource("http://journal.example/h"), production=False, now=now).endpoint == "http://journal.example/h"
    with pytest.raises(Exception, match="https"):
        parse(resource("http://journal.example/h"), production=True, now=now)
    assert parse(resource("https://journal.example/h"), production=True, now=now).headers == [
        "Authorization: Bearer mottagarens-token"
    ]


async def test_the_capability_statement_names_subscriptions(http: httpx.AsyncClient) -> None:
    statement = valid((await http.get("/fhir/metadata")).json())
    [entry] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription"]
    assert {i["code"] for i in entry["interaction"]} == {"create", "read", "delete", "search-type"}
    assert "X-SIP-Signature" in entry["documentation"]


async def test_a_receiver_that_never_answers_is_given_up_on_within_the_timeout() -> None:
    """A receiver that takes the connection and never answers holds a send no longer than the
    timeout: the outbox counts it as failed and retries later."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(timeout_s=0.5)
    message = Outgoing(Channel.WEBHOOK, f"http://127.0.0.1:{port}/h", "s", "{}", secret="x", delivery_id="1")
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        with pytest.raises(TimeoutError):
            await sender.send(message)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert loop.time() - start < WAIT_S  # bounded (0.5 s asked; a busy machine may add to it)
    assert held, "the receiver was reached"
