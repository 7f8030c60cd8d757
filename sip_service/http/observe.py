"""What operators watch: Prometheus metrics at /metrics, and a request id on every log line.

`Observe` is the outermost ASGI middleware. For each HTTP request and websocket connection it takes
the request id (a valid `X-Request-ID` when the connection's peer is one of SIP_TRUSTED_PROXIES, else
a new one), keeps it in `kit.logs.request_id` while the request runs (so every log line carries it),
returns it as the `X-Request-ID` response header (on a websocket, in its handshake answer), and, for
HTTP, measures the time to the end of the answer by route (the route's template: `/fhir/CarePlan/
{id_}`, `/graphql`, a mount such as `/app`; "unmatched" for no route) and, on /graphql, by operation
(its name when it is one of graphql/operations/, else "other"; "-" elsewhere), so that no label can
take more values than the service has routes and operations.

The GraphQL router notes the operation and its errors' codes on the request's `Observation`
(`observation()`), since only it knows them. Figures read at scrape time: the database pool, this
process's media rooms, and from the database (within a short timeout, so a scrape never hangs on it)
the outbox's queue and failures and the meetings' admissions. Each process keeps its own figures:
with two API processes, Prometheus scrapes each (no multiprocess mode).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sip_service.kit import logs
from sip_service.kit.db import Database
from sip_service.meetings import room as meeting_room
from sip_service.notify import service as outbox
from sip_service.settings import Settings

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
OTHER = "other"  # a GraphQL operation that is not one of graphql/operations/
NOT_GRAPHQL = "-"
# Request times from a cached read (a few ms) to the slowest statistics (seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SCRAPE_DB_TIMEOUT_S = 2.0
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_OPERATION = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


@dataclass
class Observation:
    """One request, as the middleware measures it and the GraphQL router describes it."""

    request_id: str
    operation: str = NOT_GRAPHQL
    error_codes: list[str] = field(default_factory=list)


_current: ContextVar[Observation | None] = ContextVar("sip_observation", default=None)


def observation() -> Observation | None:
    """The request under way in this task (None outside one)."""
    return _current.get()


def operation_name(query: str | None, given: str | None) -> str | None:
    """The operation a GraphQL request names: its operationName, else the first named operation."""
    if given:
        return given
    found = _OPERATION.search(query or "")
    return found.group(1) if found else None


def error_code(extensions: dict[str, Any] | None) -> str:
    """An error's `extensions.code` as a label: one of the service's codes, "NONE" without one."""
    code = (extensions or {}).get("code")
    if not isinstance(code, str):
        return "NONE"
    return code if _CODE.fullmatch(code) else OTHER


class MediaRooms(Protocol):
    """This process's media server (video.rooms.RoomServer), as the metrics see it."""

    @property
    def room_sizes(self) -> Sequence[int]: ...
    @property
    def traffic(self) -> Any: ...  # video.media.Traffic (received, sent: bytes by kind), or None


class _AtScrape(Collector):
    """The figures that are read when Prometheus asks: the pool, this process's media rooms."""

    def __init__(self, db: Database, media: Callable[[], MediaRooms | None]) -> None:
        self.db, self.media = db, media

    def collect(self) -> Iterator[Metric]:
        pool = self.db.engine.pool
        if isinstance(pool, QueuePool):
            figures = {
                "size": ("Connections the pool keeps (SIP_DB_POOL_SIZE).", pool.size()),
                "checked_out": ("Connections in use by requests now.", pool.checkedout()),
                "idle": ("Open connections waiting in the pool.", pool.checkedin()),
                "overflow": ("Connections open beyond the pool's size (for a burst).", max(pool.overflow(), 0)),
            }
            for name, (documentation, value) in figures.items():
                yield GaugeMetricFamily(f"sip_db_pool_{name}", documentation, value=value)
        server = self.media()
        if server is not None:
            sizes = list(server.room_sizes)
            yield GaugeMetricFamily(
                "sip_media_rooms", "Meetings with a room on this process's media server.", len(sizes)
            )
            yield GaugeMetricFamily(
                "sip_media_participants", "Participants connected to this process's media rooms.", sum(sizes)
            )
            traffic = server.traffic
            if traffic is not None:  # the embedded relay: bytes of media, whose rate is the bitrate
                for direction, documentation in (
                    ("received", "Bytes of encoded media this process's relay received, by kind."),
                    ("sent", "Bytes of encoded media this process's relay sent on, by kind."),
                ):
                    family = CounterMetricFamily(f"sip_media_{direction}_bytes", documentation, labels=["kind"])
                    for kind, count in getattr(traffic, direction).items():
                        family.add_metric([kind], count)
                    yield family


def media_worker_registry(db: Database, server: MediaRooms) -> CollectorRegistry:
    """A `sip-service media` worker's metrics: its process (CPU above all: the relay decodes nothing,
    but packets cost), its rooms and participants, its database pool."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(_AtScrape(db, lambda: server))
    return registry


class Metrics:
    """This process's metrics, in a registry of its own (each app its own: tests run several)."""

    def __init__(
        self, db: Database, *, known_operations: Iterable[str], media: Callable[[], MediaRooms | None] = lambda: None
    ) -> None:
        self.db = db
        self.known_operations = frozenset(known_operations)
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory, open files
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(_AtScrape(db, media))
        r = self.registry
        self.duration = Histogram(
            "sip_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and GraphQL operation.",
            ["route", "operation"],
            buckets=BUCKETS,
            registry=r,
        )
        self.responses = Counter(
            "sip_http_responses", "HTTP answers by route and status class (2xx … 5xx).", ["route", "status"], registry=r
        )
        self.graphql_errors = Counter(
            "sip_graphql_errors", "GraphQL errors by operation and extensions.code.", ["operation", "code"], registry=r
        )
        self.websockets = Gauge("sip_websocket_connections", "Websocket connections open now.", ["route"], registry=r)
        self.outbox_sent = Counter("sip_outbox_sent", "Messages this process's outbox worker sent.", registry=r)
        self.outbox_errors = Counter(
            "sip_outbox_send_errors", "Attempts of this process's outbox worker that failed.", registry=r
        )
        self.outbox_failed = Counter(
            "sip_outbox_failed", "Messages this process's outbox worker gave up on (FAILED).", registry=r
        )
        self.outbox_messages = Gauge(
            "sip_outbox_messages", "Outbox messages not sent, by status (PENDING, FAILED).", ["status"], registry=r
        )
        self.outbox_due = Gauge("sip_outbox_due_messages", "Pending messages due now (the queue).", registry=r)
        self.outbox_retrying = Gauge(
            "sip_outbox_retrying_messages", "Pending messages that failed at least once.", registry=r
        )
        self.outbox_oldest = Gauge(
            "sip_outbox_oldest_due_seconds", "How long the oldest due message has waited (0: none).", registry=r
        )
        self.admissions = Gauge(
            "sip_meeting_participants",
            "Participants of video meetings, by presence (WAITING in a lobby, IN_ROOM).",
            ["presence"],
            registry=r,
        )
        self.meetings_live = Gauge(
            "sip_meetings_in_progress", "Video meetings with someone in their room or lobby.", registry=r
        )
        self._database_answered = True
        self.database_up = Gauge(
            "sip_metrics_database_up",
            "Whether the scrape read the database's figures (1) or not (0).",
            registry=r,
        )

    def outbox_round(self, result: outbox.RunResult) -> None:
        """The outbox worker's round (notify.service.run_forever's `after`)."""
        self.outbox_sent.inc(result.sent)
        self.outbox_errors.inc(result.retrying + result.failed)
        self.outbox_failed.inc(result.failed)

    def observe(self, route: str, seen: Observation, status: int, seconds: float) -> None:
        operation = seen.operation
        if route == "/graphql" and operation == NOT_GRAPHQL:
            operation = OTHER  # refused before its operation was known (a 401, a bad body)
        self.duration.labels(route, operation).observe(seconds)
        self.responses.labels(route, f"{status // 100}xx").inc()
        for code in seen.error_codes:
            self.graphql_errors.labels(operation, code).inc()

    def note_operation(self, query: str | None, given_name: str | None) -> None:
        """The router's word on the request under way: which operation it runs."""
        if (seen := observation()) is not None:
            name = operation_name(query, given_name)
            seen.operation = name if name in self.known_operations else OTHER

    def note_errors(self, errors: Iterable[Any] | None) -> None:
        """… and the codes of the errors it answered with."""
        if (seen := observation()) is not None:
            seen.error_codes.extend(error_code(getattr(e, "extensions", None)) for e in errors or ())

    async def refresh(self) -> None:
        """The figures only the database knows, read for this scrape (they are the cluster's, the same
        from every process)."""
        try:
            async with asyncio.timeout(SCRAPE_DB_TIMEOUT_S), self.db.read() as session:
                queue = await outbox.queue_state(session)
                presence = await meeting_room.presence_counts(session)
        except Exception as exc:  # the database away: the other figures still go out
            if self._database_answered:  # said once when it stops answering, not at every scrape
                log.warning("metrics: could not read the database's figures (%s)", type(exc).__name__)
            self._database_answered = False
            self.database_up.set(0)
            return
        self._database_answered = True
        self.database_up.set(1)
        for status, count in queue.by_status.items():
            self.outbox_messages.labels(status).set(count)
        self.outbox_due.set(queue.due)
        self.outbox_retrying.set(queue.retrying)
        self.outbox_oldest.set(queue.oldest_due_s)
        for state, count in presence.participants.items():
            self.admissions.labels(state).set(count)
        self.meetings_live.set(presence.meetings)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_endpoint(settings: Settings, metrics: Metrics) -> Callable[[Request], Any]:
    """GET /metrics: the text format, behind the bearer token when one is set."""
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None

    async def serve_metrics(request: Request) -> Response:
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
                return Response("metrics: bearer token required\n", 401, headers={"WWW-Authenticate": "Bearer"})
        await metrics.refresh()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return serve_metrics


class Observe:
    """The outermost middleware: the request id (log lines, response header) and the measurements."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, trusted_proxies: Sequence[str] = (), prefixes: Sequence[str] = ()
    ) -> None:
        self.app, self.metrics, self.prefixes = app, metrics, prefixes
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not self.trusted or not client:
            return False
        try:
            peer = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)

    def _request_id(self, scope: Scope) -> str:
        if self._from_trusted_proxy(scope):
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    given: str = value.decode("latin-1").strip()
                    if logs.valid_request_id(given):
                        return given
                    break
        return logs.new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        seen = Observation(self._request_id(scope))
        header = (HEADER.lower().encode(), seen.request_id.encode())
        id_token, seen_token = logs.request_id.set(seen.request_id), _current.set(seen)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send, header)
            else:
                await self._http(scope, receive, send, header, seen)
        finally:
            logs.request_id.reset(id_token)
            _current.reset(seen_token)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, header: tuple[bytes, bytes], seen: Observation
    ) -> None:
        started, status, root_path = time.perf_counter(), 500, scope.get("root_path", "")

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_of(scope, self.prefixes, root_path)
            self.metrics.observe(route, seen, status, time.perf_counter() - started)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, header: tuple[bytes, bytes]) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "websocket.accept":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        route = "/graphql" if scope["path"].rstrip("/") == "/graphql" else "other"
        gauge = self.metrics.websockets.labels(route)
        gauge.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            gauge.dec()


def route_of(scope: Scope, prefixes: Sequence[str], root_path: str = "") -> str:
    """The route that answered, as its template (bounded); "unmatched" when none did. A route of an
    included router knows its path without the router's prefix: the prefix the path starts with is
    put back."""
    route = scope.get("route")
    if route is None:  # a mount (/app, /video) says where it is mounted in the root path
        mounted = scope.get("root_path", "")[len(root_path) :]
        return mounted if mounted.startswith("/") else "unmatched"
    template: object = getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    path = scope.get("path", "")
    for prefix in prefixes:
        if (path == prefix or path.startswith(prefix + "/")) and not template.startswith(prefix):
            return prefix + template
    return template or "unmatched"
