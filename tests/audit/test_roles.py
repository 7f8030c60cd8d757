"""Migrations as the owner, the service as a role that may only add to and read the audit trail.

On PostgreSQL each test makes its own database and its own roles (unique names) on the server of
SIP_TEST_DATABASE_URL, and drops them: the owner that `sip-service migrate` runs as, and the
service's role it grants rights to. What the service's role is refused is tried one by one; the
attacker who deletes the newest events has the owner's rights, and is found by `audit verify`
against the checkpoints the running service wrote. SQLite has no roles and works as before."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from test_checkpoints import ANNA, add_events, cli, head, lines

from sip_service.app import create_app
from sip_service.audit import checkpoints as cps
from sip_service.audit import service as audit
from sip_service.demo import _people
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.kit.roles import RoleRefused, grant_app_role
from sip_service.models.audit import AuditEvent
from sip_service.notify import service as outbox
from sip_service.notify.senders import senders_for
from sip_service.settings import Settings

from conftest import BACKENDS, SHUTDOWN_S, GraphQLClient, Service, StatementCounter, op, started
from helpers import citizen_id, until

POSTGRESQL = [b for b in BACKENDS if b == "postgresql"]

# Each tried on its own as the service's role; each must be refused by the role's rights (not by
# the append-only triggers, which the owner could switch off).
REFUSED = [
    "UPDATE audit_events SET actor_name = 'Någon annan'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "ALTER TABLE audit_events DISABLE TRIGGER USER",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_events_no_update_delete ON audit_events",
    "DROP TRIGGER audit_events_no_truncate ON audit_events",
    "DROP FUNCTION audit_events_append_only() CASCADE",
    "ALTER TABLE audit_events OWNER TO CURRENT_USER",
    "DROP TABLE audit_events",
    "SET session_replication_role = replica",  # would silence every trigger
]


@dataclass
class Roles:
    owner: str
    app: str
    owner_url: str
    app_url: str


@asynccontextmanager
async def own_roles() -> AsyncIterator[Roles]:
    """A database owned by a new owner role, and a new role for the service; both dropped afterwards."""
    server = make_url(os.environ["SIP_TEST_DATABASE_URL"]).set(drivername="postgresql+asyncpg")
    tag = uuid.uuid4().hex[:12]
    owner, app, database = f"sip_owner_{tag}", f"sip_app_{tag}", f"sip_test_{tag}"
    password = secrets.token_hex(16)
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as c:
            for role in (owner, app):
                await c.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))
            await c.execute(text(f'CREATE DATABASE "{database}" OWNER "{owner}"'))

        def url(user: str) -> str:
            return server.set(username=user, password=password, database=database).render_as_string(hide_password=False)

        yield Roles(owner, app, url(owner), url(app))
    finally:
        async with admin.connect() as c:
            await c.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            for role in (app, owner, f"{owner}_member"):
                await c.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        await admin.dispose()


@pytest.mark.parametrize("backend", POSTGRESQL)
async def test_the_service_role_may_only_add_to_and_read_the_audit_trail(backend: str) -> None:
    async with own_roles() as roles:
        # The service's role cannot make the schema: said so, with what to do.
        code, out, err = await cli("migrate", SIP_DATABASE_URL=roles.app_url)
        assert code == 1 and "permission denied" in err and "with SIP_MIGRATION_DATABASE_URL" in err, (out, err)
        # The one step on deploy: migrate as the owner, which grants the service's role its rights.
        code, out, err = await cli(
            "migrate", SIP_MIGRATION_DATABASE_URL=roles.owner_url, SIP_DATABASE_URL=roles.app_url
        )
        assert code == 0, (out, err)
        assert f"granted {roles.app} the service's rights" in out and "(audit_events: SELECT, INSERT)" in out, out
        db = Database(roles.app_url)
        try:
            await add_events(db, 2)  # INSERT, and SELECT of the chain's end
            async with db.read() as s:
                assert await s.scalar(select(func.count()).select_from(AuditEvent)) == 2
                assert (await audit.verify(s)).intact
            for sql in REFUSED:
                with pytest.raises(DBAPIError) as refused:
                    async with db.write() as s:
                        await s.execute(text(sql))
                message = str(refused.value.orig)
                assert "permission denied" in message or "must be owner" in message, (sql, message)
            async with db.read() as s:  # nothing of it happened
                assert await s.scalar(select(func.count()).select_from(AuditEvent)) == 2
                assert (await audit.verify(s)).intact
            # The service's own role may run an upgrade with nothing to do (as `serve` does on start): it only reads.
            code, out, err = await cli("migrate", SIP_DATABASE_URL=roles.app_url, SIP_DATABASE_APP_ROLE=roles.app)
            assert code == 0 and "database is up to date" in out, (out, err)
        finally:
            await db.dispose()


@asynccontextmanager
async def serving(settings: Settings, db: Database) -> AsyncIterator[Service]:
    """The service on a loopback port, with its lifespan (the checkpoint task) on."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, db)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=SHUTDOWN_S)
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await started(server, task)
        yield Service("postgresql", settings.public_url, settings, db, app.state.dev_provider, StatementCounter())
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.mark.parametrize("backend", POSTGRESQL)
async def test_the_service_works_as_its_role_and_verify_finds_what_the_owner_deleted(
    backend: str, tmp_path: Path
) -> None:
    private, public = cps.generate_key()
    path = tmp_path / "audit-checkpoints.jsonl"
    async with own_roles() as roles:
        await asyncio.to_thread(migrations.upgrade, roles.owner_url)
        await grant_app_role(roles.owner_url, roles.app)
        settings = Settings(
            database_url=roles.app_url,
            dev_oidc_key_file=tmp_path / "key.json",
            notify_interval_s=0,
            media_in_process=False,
            audit_checkpoint_file=path,
            audit_checkpoint_key=private,
            audit_checkpoint_interval_s=0.05,
        )
        db, owner_db = Database(roles.app_url), Database(roles.owner_url)
        try:
            async with serving(settings, db) as service:
                async with db.write() as s:  # the demo's organisations and people, as the service's role
                    await _people(s, settings)
                async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
                    gql = GraphQLClient(http, service)
                    elsa = str(await citizen_id(service, "Elsa"))
                    created = (await gql(op("CreatePlan"), {"input": {"patientId": elsa}}, as_="staff-anna"))[
                        "createPlan"
                    ]
                    plan = (await gql(op("PlanDetail"), {"id": created["id"]}, as_="staff-anna"))["plan"]
                    updated = await gql(
                        op("UpdatePlan"),
                        {"planId": plan["id"], "expectedVersion": plan["version"], "input": {"background": "Ny"}},
                        as_="staff-anna",
                    )
                    assert updated["updatePlan"]["version"] == plan["version"] + 1
                    listed = await gql(op("Plans"), as_="staff-anna")
                    assert [p["id"] for p in listed["plans"]["nodes"]] == [plan["id"]]
                await outbox.run_once(db, senders_for(settings), max_attempts=5)  # claims rows FOR UPDATE
                async with db.read() as s:
                    actions = list(
                        await s.scalars(
                            select(AuditEvent.action)
                            .where(AuditEvent.plan_id == uuid.UUID(plan["id"]))
                            .order_by(AuditEvent.seq)
                        )
                    )
                assert {"createPlan", "plan.read", "updatePlan"} <= set(actions), actions
                seq, hash_ = await head(db)

                async def covered() -> bool:
                    return any(line["seq"] == seq and line["hash"] == hash_ for line in lines(path))

                await until(covered, f"the running service's checkpoint of event {seq}")
                await add_events(db, 3, ANNA)
                newest = await head(db)
            assert lines(path)[-1]["seq"] == newest[0]  # the last checkpoint, as the service stopped

            env = {
                "SIP_DATABASE_URL": roles.app_url,
                "SIP_AUDIT_CHECKPOINT_FILE": str(path),
                "SIP_AUDIT_CHECKPOINT_PUBLIC_KEYS": json.dumps([public]),
            }
            code, out, err = await cli("audit", "verify", **env)
            assert code == 0 and f"(event {newest[0]};" in out, (out, err)

            # The attacker with more rights than the service: the owner switches the guard off,
            # deletes the newest events and switches it on again. The chain left is intact.
            async with owner_db.write() as s:
                await s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
                await s.execute(text("DELETE FROM audit_events WHERE seq > :seq"), {"seq": newest[0] - 2})
                await s.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            async with db.read() as s:
                assert (await audit.verify(s)).intact
            code, out, err = await cli("audit", "verify", **env)
            assert code == 1, (out, err)
            assert (
                "audit trail INCOMPLETE: the checkpoint of" in err
                and f"reached event {newest[0]}, but it ends at event {newest[0] - 2}: 2 events at the end are missing"
                in err
            ), err
        finally:
            await db.dispose()
            await owner_db.dispose()


@pytest.mark.parametrize("backend", POSTGRESQL)
async def test_a_role_with_the_owners_rights_is_not_made_the_services(backend: str) -> None:
    async with own_roles() as roles:
        member = f"{roles.owner}_member"  # dropped with the roles
        server = create_async_engine(
            make_url(os.environ["SIP_TEST_DATABASE_URL"]).set(drivername="postgresql+asyncpg"),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        try:
            async with server.connect() as c:
                await c.execute(text(f'CREATE ROLE "{member}" LOGIN IN ROLE "{roles.owner}"'))
                superuser = (await c.execute(text("SELECT rolname FROM pg_roles WHERE rolsuper LIMIT 1"))).scalar_one()
        finally:
            await server.dispose()
        for role, why in [
            (member, "inherits) the owner's role"),
            (roles.owner, "inherits) the owner's role"),
            (superuser, "is a superuser"),
            (f"sip_nobody_{uuid.uuid4().hex[:8]}", "create it once"),
        ]:
            with pytest.raises(RoleRefused, match=why.replace("(", r"\(").replace(")", r"\)")):
                await grant_app_role(roles.owner_url, role)


async def test_on_sqlite_migrate_works_as_before(tmp_path: Path) -> None:
    """SQLite has no roles: a role named in the settings is not looked for, and the file is migrated."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sip.sqlite3'}"
    code, out, err = await cli("migrate", SIP_DATABASE_URL=url, SIP_DATABASE_APP_ROLE="sip_app")
    assert code == 0 and "database is up to date" in out and "granted" not in out, (out, err)
    db = Database(url)
    try:
        await add_events(db, 1)
        async with db.read() as s:
            assert (await audit.verify(s)).intact
    finally:
        await db.dispose()
