"""Test fixtures: a migrated database per backend, a real HTTP server, tokens, a GraphQL client.

Every database test runs on SQLite and, when SIP_TEST_DATABASE_URL is set (CI), on PostgreSQL.
On PostgreSQL the tests own their databases: each is created with a unique name
(`sip_test_<random>`) on the server of that URL and dropped afterwards; the database the URL names
is only connected to for that, never changed, so two runs on one server don't meet.
The schema is built by `alembic upgrade head`, never by create_all.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from hypothesis import settings as hypothesis_settings
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from sip_service.api import operations
from sip_service.app import create_app
from sip_service.demo import _people
from sip_service.http.devprovider import DevProvider
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models import Base
from sip_service.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent  # the source tree: tests/, test-artifacts/
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("SIP_TEST_DATABASE_URL") else [])
SHARED_REDIS = "redis://127.0.0.1:6379/0"
# uvicorn waits for open connections when told to exit, with no limit of its own: a connection a
# failed test left open must not hold the whole run.
SHUTDOWN_S = 30
# Hypothesis' default 200-ms deadline per example fails on a busy machine; the rules are pure.
hypothesis_settings.register_profile("sip", deadline=None)
hypothesis_settings.load_profile("sip")
_own_redis: subprocess.Popen[bytes] | None = None


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping())
    except redis.RedisError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    """Redis for the two-process tests (SIP_TEST_REDIS_URL): the one at 127.0.0.1:6379 if it
    answers, else a redis-server of this run's own on a free port, stopped at the end."""
    global _own_redis
    if os.environ.get("SIP_TEST_REDIS_URL") or redis_answers(SHARED_REDIS):
        os.environ.setdefault("SIP_TEST_REDIS_URL", SHARED_REDIS)
        return
    server = shutil.which("redis-server")
    if server is None:
        raise pytest.UsageError(
            "no Redis answers at 127.0.0.1:6379 and redis-server is not installed (tests/prerequisites.sh)"
        )
    port = free_port()
    _own_redis = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 60
    while not redis_answers(url):
        if _own_redis.poll() is not None or time.monotonic() > deadline:
            raise pytest.UsageError(f"the tests' own redis-server on port {port} did not start")
        time.sleep(0.05)
    os.environ["SIP_TEST_REDIS_URL"] = url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _own_redis is not None:
        _own_redis.terminate()
        _own_redis.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def own_database(backend: str, tmp: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database that only the caller uses; gone afterwards.

    SQLite: a file in `tmp`. PostgreSQL: a database with a unique name, created on the server of
    SIP_TEST_DATABASE_URL and dropped (WITH FORCE: a test that failed may leave connections)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / f'{uuid.uuid4().hex}.sqlite3'}"
        return
    server = make_url(os.environ["SIP_TEST_DATABASE_URL"]).set(drivername="postgresql+asyncpg")
    name = f"sip_test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.enabled = False

    def __call__(self, *_: Any) -> None:
        if self.enabled:
            self.count += 1

    @contextmanager
    def counting(self) -> Iterator[StatementCounter]:
        self.count, self.enabled = 0, True
        try:
            yield self
        finally:
            self.enabled = False


async def started(server: uvicorn.Server, task: asyncio.Task[None], within: float = 60.0) -> None:
    """Wait until uvicorn listens (it offers only a flag), or fail with why it did not."""
    deadline = asyncio.get_running_loop().time() + within
    while not server.started:
        if task.done():
            await task  # raises the startup's own error
            raise RuntimeError("uvicorn stopped before it started listening")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"uvicorn did not start listening within {within} s")
        await asyncio.sleep(0.02)


@dataclass
class Service:
    """A running service on a loopback port, with its database and identity provider."""

    backend: str
    url: str
    settings: Settings
    db: Database
    provider: DevProvider
    statements: StatementCounter

    def token(self, sub: str) -> str:
        return self.provider.issue_token(sub)


@pytest.fixture(scope="session", params=BACKENDS)
async def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp(request.param)
    async with own_database(request.param, tmp) as url:
        async for running in _serve(request.param, url, tmp):
            yield running


async def _serve(backend: str, url: str, tmp: Path) -> AsyncIterator[Service]:
    await asyncio.to_thread(migrations.upgrade, url)
    listener = socket.create_server(("127.0.0.1", 0))  # bound here: no race for a "free" port
    port = listener.getsockname()[1]
    settings = Settings(
        database_url=url,
        public_url=f"http://127.0.0.1:{port}",
        dev_oidc_key_file=tmp / "key.json",
        media_addresses=["127.0.0.1"],  # the media relay's ICE on loopback, where the test peers are
        notify_interval_s=0,  # tests run the outbox themselves, when they want to
        # every test's guests come from 127.0.0.1: the limit has tests of its own, on a test clock
        invite_attempts_per_minute=1_000_000,
        # the statistics tests change the history between answers; stats.Lattices has tests of its own
        statistics_cache_seconds=0,
    )
    db = Database(url)
    counter = StatementCounter()
    event.listen(db.engine.sync_engine, "before_cursor_execute", counter)
    app = create_app(settings, db)
    # A kept-alive connection is not closed under a client that is about to reuse it (the test
    # clients are shared; uvicorn's 5-s default raced them on a loaded machine).
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_keep_alive=600, timeout_graceful_shutdown=SHUTDOWN_S
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    await started(server, task)
    yield Service(backend, settings.public_url, settings, db, app.state.dev_provider, counter)
    server.should_exit = True
    await task
    listener.close()


@pytest.fixture
async def world(service: Service) -> Service:
    """Empty every table, then add the demo organisations and people (no plans).

    The audit trail is append-only (the database refuses DELETE), so it grows across tests;
    tests find their own events by the plans they made."""
    async with service.db.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "audit_events":
                await session.execute(table.delete())
        await _people(session, service.settings)
    return service


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, service: Service) -> None:
        self.http, self.service = http, service

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.service.token(as_)}"} if as_ else {}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, *, as_: str) -> dict[str, Any]:
        """Run an operation as a demo identity; fail the test on any GraphQL error."""
        response = await self.raw(query, variables, as_=as_)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
async def gql(world: Service) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        yield GraphQLClient(http, world)


def ids(*values: Any) -> list[str]:
    return [str(v) for v in values]


def new_uuid() -> str:
    return str(uuid.uuid4())


def op(name: str) -> str:
    """One operation from graphql/operations/, with the fragments it uses: what the browser sends."""
    return operations.documents()[name]


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with nothing in it (not even tables), apart from the shared one."""
    async with own_database(request.param, tmp_path) as url:
        yield url
