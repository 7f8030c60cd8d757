"""The FastAPI application: GraphQL at /graphql, FHIR at /fhir, the development identity provider, limits."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import strawberry
from cross_web import AsyncHTTPRequestAdapter
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.ides import get_graphql_ide_html
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from sip_service.api import operations
from sip_service.api.compiled import Registry
from sip_service.api.context import Context
from sip_service.api.plan_live import KnownPlanChanges, LiveUpdatesHandler
from sip_service.api.schema import build_schema
from sip_service.audit import checkpoints as audit_checkpoints
from sip_service.auth.cache import PrincipalCache
from sip_service.auth.claims import normalize_claims, principal_from_claims, system_principal_from_claims
from sip_service.auth.principal import Principal, SystemPrincipal
from sip_service.auth.tokens import TokenError, TokenValidator, http_jwks_source, static_jwks_source
from sip_service.http import auth as web
from sip_service.http.devprovider import DevProvider, dev_provider_router
from sip_service.http.fhir import tasks as fhir_tasks
from sip_service.http.fhir.router import fhir_router
from sip_service.http.invite import invite_router
from sip_service.http.observe import Metrics, Observe, metrics_endpoint
from sip_service.http.outage import OutageAnswer
from sip_service.inbox import digest
from sip_service.kit import jsonenc
from sip_service.kit.db import Database
from sip_service.kit.outage import RETRY_AFTER_S, BrokerUnavailable, DatabaseUnavailable, Outages, is_broker_outage
from sip_service.kit.pubsub import broker_for
from sip_service.meetings import invites
from sip_service.meetings.room import Live
from sip_service.notify import service as outbox
from sip_service.notify.senders import senders_for
from sip_service.settings import ASSETS_DIR, Settings
from sip_service.stats import report as stats_report
from sip_service.stats.service import Lattices
from sip_service.video.backend import readiness as media_readiness


class BodySizeLimit:
    """Refuse request bodies over the limit, whether or not the client declared their length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {
                "errors": [
                    {
                        "message": f"The request body is larger than {self.max_bytes} bytes.",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            },
            status_code=413,
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class StrictTransport:
    """Production: every HTTP answer tells browsers to use only HTTPS here (and on subdomains) for
    two years, so that a later plain-HTTP link or a stripped redirect cannot carry the session."""

    HEADER = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.HEADER]
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    db = db or Database(settings.database_url, pool_size=settings.db_pool_size)
    http = httpx.AsyncClient()
    dev = None if settings.is_production else DevProvider(settings)
    if settings.oidc_jwks_url:
        jwks = http_jwks_source(settings.oidc_jwks_url, http)
    else:
        assert dev is not None  # production settings always name a JWKS URL
        jwks = static_jwks_source(dev.key_set())

    def validator_for(audience: str, access_token_types: list[str] | None) -> TokenValidator:
        return TokenValidator(
            issuer=settings.issuer,
            audience=audience,
            algorithms=settings.oidc_algorithms,
            jwks=jwks,
            leeway_s=settings.oidc_leeway_seconds,
            access_token_types=access_token_types,
        )

    # Access tokens: for the API's audience, of an access token's type, without a nonce. ID tokens are
    # for our client id (which may be the same name): told apart by their type and nonce.
    validator = validator_for(settings.oidc_audience, settings.oidc_access_token_types)
    principals = PrincipalCache(settings.principal_cache_seconds)  # tokens and sessions → who they are
    lattices = Lattices(settings.statistics_cache_seconds)  # counted statistics, for the next filter

    live = Live(broker_for(settings.redis_url))  # lobby and signaling events, shared over Redis if set
    # The first signs guests' meeting tokens; every one verifies them (rotation: SIP_MEETING_TOKEN_SECRETS).
    meeting_secrets = [key.encode() for key in settings.meeting_token_keys] or [secrets.token_bytes(32)]
    media: list[Any] = []  # this process's media server, once the lifespan started it (for /metrics)
    metrics = Metrics(db, known_operations=operations.documents(), media=lambda: media[0] if media else None)

    async def principal_of(authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("Sign in: send a bearer token.")
        key = principals.key("token", token.strip())
        if (known := principals.get(key)) is not None:  # the provider's, validated and looked up a moment ago
            return known
        # A guest's meeting token (from an invite link) is ours; anything else is the provider's.
        if (guest := invites.guest_principal_from_meeting_token(token.strip(), meeting_secrets)) is not None:
            return guest
        try:
            claims = await validator.validate(token.strip())
        except TokenError as exc:
            raise _unauthenticated(f"The token was refused ({exc.code}).") from None
        async with db.read() as session:
            principal: Principal | None = await principal_from_claims(session, normalize_claims(claims, settings))
            if principal is None:  # a record system's client-credentials token (for /fhir only)
                principal = await system_principal_from_claims(session, claims, settings)
        if principal is None:
            raise _unauthenticated("The signed-in person is not known to this service.")
        exp = claims.get("exp")
        principals.put(key, principal, float(exp) if isinstance(exp, int | float) else None)
        return principal

    async def person_of(authorization: str | None) -> Principal:
        """GraphQL's callers: people only. A record system's token is for /fhir."""
        principal = await principal_of(authorization)
        if isinstance(principal, SystemPrincipal):
            raise HTTPException(
                403,
                detail={"code": "FORBIDDEN", "message": "A system client's token is for /fhir, not GraphQL."},
            )
        return principal

    async def sign_in_websocket(context: Context, params: dict[str, object], connection: HTTPConnection) -> None:
        """A websocket signs in in `connection_init`: a bearer token, or (a page of this site) the
        session cookie it was opened with and the CSRF token that /auth/me gives."""
        authorization, csrf = params.get("authorization") or params.get("Authorization"), params.get("csrf")
        if authorization is None and isinstance(csrf, str) and browser is not None and browser.has_session(connection):
            context.sign_in(await browser.principal(connection, csrf), from_browser=True)
        else:
            context.sign_in(await person_of(authorization if isinstance(authorization, str) else None))

    async def context(connection: HTTPConnection, authorization: Annotated[str | None, Header()] = None) -> Context:
        if connection.scope["type"] == "websocket":
            return Context(settings, db, None, live, lattices=lattices)  # signed in by its connection_init
        request = Request(connection.scope)
        # A bearer token wins; otherwise the browser's session cookie, which needs the CSRF header.
        if authorization is None and browser is not None and browser.has_session(request):
            return Context(settings, db, await browser.principal(request), live, from_browser=True, lattices=lattices)
        return Context(settings, db, await person_of(authorization), live, lattices=lattices)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker = None
        stop_worker = asyncio.Event()
        if settings.notify_interval_s > 0:  # sends the outbox: invitations, new times, cancellations
            # and, before each round, the staff's daily digests that are due (counts only) and the
            # managers' monthly statistics reports (aggregates only)
            jobs = [
                lambda: digest.run_once(db, public_url=settings.public_url, at=settings.digest_at),
                lambda: stats_report.run_once(db, public_url=settings.public_url, at=settings.digest_at),
            ]
            worker = asyncio.create_task(
                outbox.run_forever(
                    db,
                    senders_for(settings),
                    interval_s=settings.notify_interval_s,
                    max_attempts=settings.notify_max_attempts,
                    webhook_max_attempts=settings.webhook_max_attempts,
                    before=jobs if settings.digest_enabled else [],
                    stop=stop_worker,
                    after=metrics.outbox_round,
                ),
                name="outbox-worker",
            )
        stop_checkpoints = audit_checkpoints.start(settings, db)  # signed audit chain heads, if configured
        relay = None
        if settings.media_in_process:  # the media relay (SFU) or Janus; or a `sip-service media` worker runs it
            from sip_service.video.backend import media_server

            relay = media_server(settings, db, live.broker)
            await relay.start()
            media.append(relay)
        yield
        if relay is not None:
            await relay.stop()
        if worker is not None:
            stop_worker.set()  # ends it between rounds even if a busy library swallows the cancel
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if stop_checkpoints is not None:
            await stop_checkpoints()  # after a last checkpoint
        await http.aclose()
        await live.broker.close()
        await db.dispose()

    app = FastAPI(
        title="SIP-tjänsten",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
        openapi_url=None if settings.is_production else "/openapi.json",
    )
    app.state.settings, app.state.db, app.state.dev_provider, app.state.live = settings, db, dev, live
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    outages = Outages()  # the database unreachable: 503 with Retry-After, one log line per outage
    outages.watch(db.engine)
    app.add_middleware(OutageAnswer, outages=outages)
    app.state.outages = outages
    browser = web.install(app, settings, db, validator_for(settings.oidc_client_id, None), principals)
    app.include_router(invite_router(db, settings, meeting_secrets[0]))
    fhir_extensions = (fhir_tasks.routes(live.broker),)  # discharge notices in
    app.include_router(fhir_router(settings, db, principal_of, fhir_extensions), prefix="/fhir")  # bearer tokens
    if not settings.is_production:
        # The IDE page itself needs no sign-in (its requests do: add the bearer token under Headers).
        @app.get("/graphql", response_class=HTMLResponse, include_in_schema=False)
        async def graphiql() -> str:
            return get_graphql_ide_html("graphiql")

    @app.get("/graphql/operations.json", include_in_schema=False)
    async def browser_operations() -> JSONResponse:
        """The operations the pages send, by name (graphql/operations/): their only copy."""
        return JSONResponse(operations.documents(), headers={"Cache-Control": "no-cache"})

    schema = build_schema(settings)
    known_plan_changes = KnownPlanChanges(schema._schema) if settings.compiled_operations else None
    app.state.known_plan_changes = known_plan_changes  # how many pages it serves: tests ask
    app.include_router(
        GraphQLRouterWithSignIn(
            sign_in_websocket,
            schema,
            Registry(schema._schema, settings) if settings.compiled_operations else None,
            known_plan_changes,
            outages,
            metrics,
            context_getter=context,
            graphql_ide=None,
            allow_queries_via_get=False,  # GET would let another site read plans through a link
        ),
        prefix="/graphql",
    )
    if dev is not None:
        app.include_router(dev_provider_router(settings, dev), prefix="/dev-oidc")
    if settings.is_production:  # outermost: the limits' and outages' own answers get it too
        app.add_middleware(StrictTransport)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """The process answers (liveness); /readyz says whether it can serve."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Whether requests can be served: the database (and Redis, if configured) answer within
        a short time, and the media backend (video.backend.readiness: the relay in process, or at
        least one Janus instance; each instance is named). 200 or 503, with each check's answer."""
        checks = {"database": await _answers(db.ping)}
        if settings.redis_url:
            checks["redis"] = await _answers(live.broker.ping)
        checks |= await media_readiness(settings, http)
        ready = all(checks[name] == "ok" for name in ("database", "redis", "media") if name in checks)
        headers = {"Cache-Control": "no-store"} | ({} if ready else {"Retry-After": str(RETRY_AFTER_S)})
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers=headers,
        )

    @app.get("/join", include_in_schema=False)
    @app.get("/video/join", include_in_schema=False)
    async def join_page() -> FileResponse:
        # Invite links (invites.join_url) open the video page; the token stays in the fragment.
        return FileResponse(ASSETS_DIR / "video" / "index.html", headers=PAGE_HEADERS)

    app.mount("/video", Pages(directory=ASSETS_DIR / "video", html=True, check_dir=False), name="video")
    app.mount("/app", Pages(directory=ASSETS_DIR / "web", html=True, check_dir=False), name="app")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> str:
        return _HOME

    # Observability (http/observe.py): /metrics where the settings allow it, and outermost, each
    # request's id (log lines, X-Request-ID) and measurements. Forwarded headers are applied inside
    # it, so that it still sees the connection's own peer (is it a trusted proxy?); `serve` leaves
    # them to the app (cli.proxy_options).
    app.state.metrics = metrics
    if settings.metrics_served:
        app.add_api_route("/metrics", metrics_endpoint(settings, metrics), methods=["GET"], include_in_schema=False)
    believe_forwarded_headers(app, settings)
    app.add_middleware(
        Observe,
        metrics=metrics,
        trusted_proxies=settings.trusted_proxies,
        prefixes=("/graphql", "/fhir", "/auth", "/dev-oidc"),
    )
    return app


def believe_forwarded_headers(app: FastAPI, settings: Settings) -> None:
    """X-Forwarded-For and -Proto, believed only from SIP_TRUSTED_PROXIES: uvicorn's middleware, in
    the app rather than around it (`serve` turns uvicorn's off: cli.proxy_options)."""
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)


# The browser pages load only their own files and talk only to this service (its websocket too).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # Nothing leaves for other sites (invite tokens live in the fragment anyway); same-origin keeps the
    # Origin header on the pages' own form posts (sign-out), which no-referrer would turn into "null".
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
    "Cache-Control": "no-cache",
}


class Pages(StaticFiles):
    """The browser apps' static files (video/, web/), with the headers every page gets."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


class GraphQLRouterWithSignIn(GraphQLRouter[Context, None]):
    """Websockets (graphql-transport-ws) say who they are in `connection_init`:
    `{"authorization": "Bearer <token>"}`, or from a signed-in page `{"csrf": "<token>"}`; without a
    valid one the connection is closed (4403). The known operations take their compiled paths
    (queries: `api.compiled`; the pages' PlanChanges: `plan_live.KnownPlanChanges`)."""

    graphql_transport_ws_handler_class = LiveUpdatesHandler

    def __init__(
        self,
        sign_in: Callable[[Context, dict[str, object], HTTPConnection], Awaitable[None]],
        schema: strawberry.Schema,
        compiled: Registry | None,
        known_plan_changes: KnownPlanChanges | None,
        outages: Outages,
        metrics: Metrics,
        **kwargs: Any,
    ) -> None:
        kwargs["subscription_protocols"] = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)  # the current protocol only
        super().__init__(schema, **kwargs)
        self._sign_in = sign_in
        self._compiled = compiled
        self.known_plan_changes = known_plan_changes
        self.outages = outages  # the handler (plan_live.LiveUpdatesHandler) closes sockets 1013 in an outage
        self.metrics = metrics  # told each request's operation and error codes (http.observe)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A known query operation with a compiled form runs as one statement (`api.compiled`);
        everything else, and anything unusual about the request, as strawberry runs it."""
        self.metrics.note_operation(request_data.query, request_data.operation_name)
        result = await self._execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        self.metrics.note_errors(result.errors)
        return result

    async def _execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if self._compiled is not None and request_adapter.method == "POST" and request_data.query:
            result = await self._compiled.execute(
                context, request_data.query, request_data.operation_name, request_data.variables
            )
            if result is not None:
                return result
        result = await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        if context.outage is not None:  # the database went away under a resolver: 503 (http.outage)
            if is_broker_outage(context.outage):  # Redis, for an operation that needs it: 503 as well
                raise BrokerUnavailable from context.outage
            raise DatabaseUnavailable from context.outage
        return result

    def encode_json(self, data: object) -> str:
        return jsonenc.dumps(data).decode()  # text: websocket frames of graphql-transport-ws are text

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        """As strawberry's, with the answer encoded by orjson straight to bytes."""
        response = Response(
            jsonenc.dumps(response_data), media_type="application/json", status_code=sub_response.status_code or 200
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        assert context.request is not None
        try:
            await self._sign_in(context, context.connection_params or {}, context.request)
        except HTTPException:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"}) from None
        accepted: UnsetType = UNSET
        return accepted


async def _answers(ping: Callable[[], Awaitable[object]], within_s: float = 2.0) -> str:
    try:
        await asyncio.wait_for(ping(), within_s)
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(
        401, detail={"code": "UNAUTHENTICATED", "message": message}, headers={"WWW-Authenticate": "Bearer"}
    )


_HOME = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>SIP-tjänsten</title>
<style>body{font:1.25rem/1.6 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
a{color:#0b4f9c}h1{font-size:2rem}</style></head>
<body><main>
<h1>SIP-tjänsten</h1>
<p>Här gör vårdcentral, kommun, patient och närstående en samordnad individuell plan tillsammans.</p>
<p lang="en">Coordinated individual plans, made together with the patient and relatives.</p>
<p><a href="/auth/login?next=/app/">Logga in och öppna planerna</a> <span lang="en">(sign in)</span></p>
<p>Har du fått en länk till ett videomöte? Öppna länken i sms:et eller e-postmeddelandet.</p>
<ul>
<li><a href="/graphql">GraphQL-API (GraphiQL i utvecklingsläge)</a></li>
<li><a href="/dev-oidc/.well-known/openid-configuration">Inloggning för utveckling (OIDC)</a></li>
</ul>
</main></body></html>
"""
