"""Observability (issue 16): /metrics scraped from the running service after real requests, its
protection, the outbox worker's counts, and the Grafana dashboard asking only for what is exported.
(The JSON log lines with request ids, from `sip-service serve` itself: tests/test_serve_logs.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from sip_service import cli
from sip_service.app import create_app
from sip_service.kit import pubsub
from sip_service.kit.db import Database
from sip_service.kit.pubsub import InProcessBroker
from sip_service.models.identity import Organisation, StaffMember
from sip_service.models.notify import Channel, MessageKind
from sip_service.notify import service as outbox
from sip_service.notify.senders import Outgoing, Senders
from sip_service.settings import Mode, Settings
from sip_service.video.channel import MEDIA_CHANNEL

from conftest import REPO_ROOT, SHUTDOWN_S, GraphQLClient, Service, free_port, op, started
from helpers import WAIT_S, until

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "sip-service.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Samples, dict[str, set[str]]]:
    """The samples (name and labels → value), and each sample name's label names."""
    samples: Samples = {}
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
            labels.setdefault(s.name, set()).update(s.labels)
    return samples, labels


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)[0]


async def test_metrics_after_real_requests(gql: GraphQLClient, world: Service) -> None:
    http = gql.http
    before = await scrape(http)
    anna = {"Authorization": f"Bearer {world.token('staff-anna')}"}

    # A known operation, as the pages send it (its name given), twice.
    for _ in range(2):
        me = await http.post("/graphql", json={"query": op("Me"), "operationName": "Me"}, headers=anna)
        assert me.status_code == 200 and "errors" not in me.json(), me.text
    # A known operation without operationName (its name is in the document), and an ad-hoc one.
    orgs = await http.post("/graphql", json={"query": op("Organisations")}, headers=anna)
    assert orgs.status_code == 200 and "errors" not in orgs.json(), orgs.text
    mine = await http.post("/graphql", json={"query": "query MyOwnName { me { name } }"}, headers=anna)
    assert mine.status_code == 200 and "errors" not in mine.json(), mine.text
    # An error: a query deeper than the limit.
    deep = "query Deep { me { staffMember { organisation " + "{ parent " * 10 + "{ id }" + " }" * 10 + " } } }"
    refused = await http.post("/graphql", json={"query": deep}, headers=anna)
    codes = [e.get("extensions", {}).get("code", "NONE") for e in refused.json()["errors"]]
    assert codes, refused.text
    # Not signed in: 401 before any operation ran.
    unsigned = await http.post("/graphql", json={"query": op("Me"), "operationName": "Me"})
    assert unsigned.status_code == 401
    # A FHIR read.
    async with world.db.read() as s:
        org_id = (await s.scalars(select(Organisation.id).limit(1))).one()
    fhir = await http.get(f"/fhir/Organization/{org_id}", headers=anna)
    assert fhir.status_code == 200, fhir.text
    # Every answer carries its request id; an X-Request-ID from a peer that is no trusted proxy is not taken.
    ids = {r.headers["x-request-id"] for r in (me, orgs, mine, refused, unsigned, fhir)}
    assert len(ids) == 6 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    spoofed = await http.get("/healthz", headers={"X-Request-ID": "from-anyone-123"})
    assert spoofed.headers["x-request-id"] != "from-anyone-123"
    # A page, and a path nobody serves: their routes are the mount and "unmatched", never the path.
    assert (await http.get("/app/")).status_code == 200
    assert (await http.get("/no/such/path/4711")).status_code == 404

    # A message waiting in the outbox, due now.
    async with world.db.write() as s:
        staff = (await s.scalars(select(StaffMember).limit(1))).one()
        outbox.enqueue(
            s,
            participant_id=None,
            meeting_id=None,
            staff_member_id=staff.id,
            kind=MessageKind.DIGEST,
            channel=Channel.EMAIL,
            address="anna@example.org",
            subject="s",
            body="b",
        )

    after = await scrape(http)

    def grew(name: str, by: float, **labels: str) -> None:
        got = value(after, name, **labels) - value(before, name, **labels)
        assert got == by, (name, labels, got)

    duration = "sip_http_request_duration_seconds_count"
    grew(duration, 2, route="/graphql", operation="Me")
    grew(duration, 1, route="/graphql", operation="Organisations")
    grew(duration, 3, route="/graphql", operation="other")  # MyOwnName, Deep and the unsigned one
    grew(duration, 1, route="/fhir/Organization/{id_}", operation="-")
    grew("sip_http_responses_total", 1, route="/fhir/Organization/{id_}", status="2xx")
    grew("sip_http_responses_total", 1, route="/graphql", status="4xx")
    grew(duration, 1, route="/app", operation="-")
    grew("sip_http_responses_total", 1, route="unmatched", status="4xx")
    assert not any("4711" in str(labels) for _, labels in after)
    for code in set(codes):
        grew("sip_graphql_errors_total", codes.count(code), operation="other", code=code)
    assert value(after, "sip_http_request_duration_seconds_bucket", route="/graphql", operation="Me", le="+Inf") >= 2
    # The outbox's queue, the meetings (none now), the database's pool, the process's CPU.
    assert value(after, "sip_outbox_messages", status="PENDING") == 1
    assert value(after, "sip_outbox_due_messages") == 1
    assert value(after, "sip_outbox_retrying_messages") == 0
    assert ("sip_outbox_messages", frozenset({("status", "FAILED")})) in after
    assert value(after, "sip_meetings_in_progress") == 0
    assert ("sip_meeting_participants", frozenset({("presence", "IN_ROOM")})) in after
    assert value(after, "sip_metrics_database_up") == 1
    assert value(after, "sip_db_pool_checked_out") >= 0 and ("sip_db_pool_size", frozenset()) in after
    assert value(after, "process_cpu_seconds_total") > 0
    assert value(after, "sip_media_rooms") == 0  # the relay runs in this process, with no meeting now


@asynccontextmanager
async def serving(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """Another instance of the service with these settings, on a port of its own."""
    app = create_app(settings, db)
    listener = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=SHUTDOWN_S)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    await started(server, task)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=WAIT_S) as http:
            yield http
    finally:
        server.should_exit = True
        await task
        listener.close()


def production(world: Service, **more: Any) -> Settings:
    return world.settings.model_copy(
        update={
            "env": Mode.PRODUCTION,
            "oidc_issuer": "https://idp.example.org",
            "oidc_jwks_url": "https://idp.example.org/jwks",
            "media_in_process": False,
            **more,
        }
    )


async def test_metrics_are_not_open_in_production_unless_allowed(world: Service, tmp_path: Path) -> None:
    # Production, nothing said: no /metrics at all.
    async with serving(production(world), Database(world.settings.database_url)) as http:
        assert (await http.get("/metrics")).status_code == 404
    # Production with a token: only with it.
    from pydantic import SecretStr

    token = "scrape-" + "x" * 24
    async with serving(
        production(world, metrics_token=SecretStr(token)), Database(world.settings.database_url)
    ) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert value(await scrape(http, Authorization=f"Bearer {token}"), "sip_metrics_database_up") == 1
    # Production on a private port the operator vouches for (SIP_METRICS_ENABLED=true): open there.
    async with serving(production(world, metrics_enabled=True), Database(world.settings.database_url)) as http:
        assert (await http.get("/metrics")).status_code == 200
    # Turned off: not even in development.
    dev_off = world.settings.model_copy(update={"metrics_enabled": False, "media_in_process": False})
    async with serving(dev_off, Database(world.settings.database_url)) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_x_request_id_is_taken_from_a_trusted_proxy_when_valid(world: Service) -> None:
    trusted = world.settings.model_copy(update={"trusted_proxies": ["127.0.0.1"], "media_in_process": False})
    async with serving(trusted, Database(world.settings.database_url)) as http:
        given = await http.get("/healthz", headers={"X-Request-ID": "4bf92f3577b34da6a3ce929d0e0e4736"})
        assert given.headers["x-request-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        for bad in ("with space", "x" * 129, 'quote"d', ""):
            answer = await http.get("/healthz", headers={"X-Request-ID": bad})
            assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), (bad, answer.headers)
        # The forwarded client is still believed from the proxy (the invite limit counts it).
        assert (await http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})).status_code == 200


async def test_the_media_worker_serves_its_own_metrics(world: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sip-service media --metrics-port`: the worker's CPU and its rooms, where the relay runs. (Its
    broker is one in this process: a relay on the shared Redis would hear other runs' meetings.)"""
    port = free_port()
    broker = InProcessBroker()
    monkeypatch.setattr(pubsub, "broker_for", lambda _url: broker)
    worker = asyncio.create_task(cli._media(world.settings, ("127.0.0.1", port)))
    samples: Samples = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT_S) as http:

            async def answers() -> bool:
                nonlocal samples
                assert not worker.done(), worker
                try:
                    samples = parse((await http.get("/metrics")).text)[0]
                except httpx.TransportError:
                    return False
                return True

            await until(answers, "the media worker's /metrics")
            # Stopped once it listens (a relay stopped while it subscribes leaves its listener behind).
            await until(lambda: _listens(broker), "the media worker listening")
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert value(samples, "process_cpu_seconds_total") > 0
    assert value(samples, "sip_media_rooms") == 0 and ("sip_media_participants", frozenset()) in samples


async def _listens(broker: InProcessBroker) -> bool:
    return await broker.subscribers(MEDIA_CHANNEL) > 0


async def test_a_scrape_without_the_database_still_answers(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens where the database should be: the scrape says so (sip_metrics_database_up 0)
    and still gives the other figures; the log says it once, not at every scrape."""
    from sip_service.http.observe import Metrics

    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere", pool_size=3)
    try:
        metrics = Metrics(db, known_operations=[])
        with caplog.at_level("WARNING", logger="sip_service.http.observe"):
            for _ in range(3):
                await metrics.refresh()
        samples = parse(metrics.render().decode())[0]
    finally:
        await db.dispose()
    assert value(samples, "sip_metrics_database_up") == 0
    assert value(samples, "sip_db_pool_size") == 3 and value(samples, "process_cpu_seconds_total") > 0
    assert len([r for r in caplog.records if "could not read" in r.getMessage()]) == 1, caplog.records


class Failing:
    async def send(self, message: Outgoing) -> None:
        raise ConnectionRefusedError("the SMTP server is away")


async def test_the_outbox_worker_counts_its_rounds(world: Service) -> None:
    """The worker (notify.service.run_forever) tells the metrics each round: a failed attempt, then
    (at the last attempt) a message given up; the database's figures say the same."""
    from sip_service.http.observe import Metrics

    metrics = Metrics(world.db, known_operations=[])
    async with world.db.write() as s:
        staff = (await s.scalars(select(StaffMember).limit(1))).one()
        outbox.enqueue(
            s,
            participant_id=None,
            meeting_id=None,
            staff_member_id=staff.id,
            kind=MessageKind.DIGEST,
            channel=Channel.EMAIL,
            address="anna@example.org",
            subject="s",
            body="b",
        )
    stop = asyncio.Event()
    rounds: list[outbox.RunResult] = []

    def after(result: outbox.RunResult) -> None:
        metrics.outbox_round(result)
        rounds.append(result)
        stop.set()

    senders = Senders(email=Failing(), sms=Failing())
    await asyncio.wait_for(
        outbox.run_forever(world.db, senders, interval_s=0.01, max_attempts=1, stop=stop, after=after), WAIT_S
    )
    await metrics.refresh()
    samples = parse(metrics.render().decode())[0]
    assert rounds[0].failed == 1
    assert value(samples, "sip_outbox_send_errors_total") == 1
    assert value(samples, "sip_outbox_failed_total") == 1
    assert value(samples, "sip_outbox_sent_total") == 0
    assert value(samples, "sip_outbox_messages", status="FAILED") == 1
    assert value(samples, "sip_outbox_messages", status="PENDING") == 0


# The names PromQL and Grafana use that are no series.
PROMQL_WORDS = {
    "sum", "rate", "irate", "increase", "by", "without", "histogram_quantile", "le", "on", "ignoring", "max",
    "min", "avg", "count", "topk", "clamp_min", "or", "and", "unless", "group_left", "group_right", "offset",
    "vector", "scalar", "abs", "delta", "deriv", "time", "bool",
}  # fmt: skip


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = []
    for panel in dashboard["panels"]:
        for sub in [panel, *panel.get("panels", [])]:
            found.extend(t["expr"] for t in sub.get("targets", []) if "expr" in t)
    return found


async def test_the_dashboard_asks_only_for_exported_series(gql: GraphQLClient, world: Service) -> None:
    anna = {"Authorization": f"Bearer {world.token('staff-anna')}"}
    await gql.http.post("/graphql", json={"query": "{ me { name } }"}, headers=anna)
    await gql.http.post("/graphql", json={"query": "{ nope }"}, headers=anna)  # an error
    response = await gql.http.get("/metrics")
    families = list(text_string_to_metric_families(response.text))
    _, labels = parse(response.text)
    exported: dict[str, set[str]] = {}
    for family in families:  # a family with no sample yet (no websocket open) is still exported
        for suffix in ("", "_total", "_count", "_sum", "_bucket", "_created"):
            exported.setdefault(family.name + suffix, set())
    for name, names in labels.items():
        exported.setdefault(name, set()).update(names)
    exported["sip_websocket_connections"] = {"route"}  # a labelled gauge shows its labels once a socket is open

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = queries(dashboard)
    assert len(exprs) >= 10, exprs
    every_label = set().union(*exported.values()) | {"job", "instance", "le"}
    for expr in exprs:
        rest = re.sub(r'"[^"]*"', '""', expr)  # label values
        rest = re.sub(r"\[[^\]]*\]", "", rest)  # ranges
        for name, body in re.findall(r"\b([a-z_][a-z0-9_]*)\s*\{([^}]*)\}", rest):
            assert name in exported, f"{name} (in {expr}) is not exported"
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", body):
                assert label in exported[name] | {"job", "instance"}, f"{name} has no label {label} (in {expr})"
        rest = re.sub(r"\{[^}]*\}", "", rest)
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", rest):
            for label in filter(None, (g.strip() for g in group.split(","))):
                assert label in every_label, f"no series has the label {label} (in {expr})"
        rest = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", rest)
        for word in re.findall(r"\b[a-z_][a-z0-9_]*\b", rest):
            assert word in PROMQL_WORDS or word in exported, f"{word} (in {expr}) is not exported"
    # The job variable's query names a series too.
    for variable in dashboard["templating"]["list"]:
        for name in re.findall(r"label_values\((\w+)", str(variable.get("query", ""))):
            assert name in exported, variable
