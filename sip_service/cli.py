"""The `sip-service` command: serve, migrate, seed-demo, notify, digest, stats-report, media, audit, export-schema."""

from __future__ import annotations

import asyncio
import logging
import logging.config
from pathlib import Path
from typing import Any

import typer
import uvicorn
import uvicorn.config
from sqlalchemy.exc import DBAPIError

from sip_service.kit import logs, migrations
from sip_service.settings import ASSETS_DIR, Settings

app = typer.Typer(help="SIP-tjänsten: samordnad individuell plan.", no_args_is_help=True)

SCHEMA_FILE = ASSETS_DIR / "graphql" / "schema.graphql"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve_log_config(settings: Settings | None = None) -> dict[str, Any]:
    """uvicorn's own logging, and the service's (sip_service.*) at INFO beside it: uvicorn configures
    only its own loggers, so without this the outbox worker's lines (in development, every message it
    sends: notify.senders.ConsoleSender) went nowhere. JSON lines or text (SIP_LOG_FORMAT; JSON by
    default in production), each with its request's id (kit.logs)."""
    settings = settings or Settings()
    return logs.logging_config(uvicorn.config.LOGGING_CONFIG, json=settings.logs_as_json)


def configure_logging(settings: Settings) -> None:
    """The commands that are no server (media, notify): the same lines as `serve` writes."""
    if settings.logs_as_json:
        logging.config.dictConfig(logs.logging_config(uvicorn.config.LOGGING_CONFIG, json=True))
    else:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


async def _seed(settings: Settings) -> bool:
    from sip_service.demo import seed
    from sip_service.kit.db import Database

    db = Database(settings.database_url)
    try:
        return await seed(db, settings)
    finally:
        await db.dispose()


def _migrate(settings: Settings) -> None:
    """Upgrade as the owner (SIP_MIGRATION_DATABASE_URL, else SIP_DATABASE_URL); then, on PostgreSQL
    with a separate role for the service, grant that role its rights (kit/roles.py): after every
    upgrade, so that new tables are covered."""
    try:
        migrations.upgrade(settings.owner_database_url)
    except DBAPIError as exc:
        why = (str(exc.orig).splitlines() or [""])[0]
        hint = "permission denied" in why or "must be owner" in why
        typer.echo(
            f"migrating failed ({type(exc.orig).__name__}): {why}"
            + ("\nrun `sip-service migrate` with SIP_MIGRATION_DATABASE_URL, the schema owner's URL" if hint else ""),
            err=True,
        )
        raise typer.Exit(1) from None
    role = settings.app_role
    if role and not settings.owner_database_url.startswith("sqlite"):
        from sip_service.kit.roles import RoleRefused, grant_app_role

        try:
            granted = asyncio.run(grant_app_role(settings.owner_database_url, role))
        except RoleRefused as exc:
            typer.echo(f"not granted: {exc}", err=True)
            raise typer.Exit(1) from None
        append_only = ", ".join(sorted(t for t, rights in granted.tables.items() if rights == "SELECT, INSERT"))
        typer.echo(
            f"granted {role} the service's rights on {len(granted.tables)} tables ({append_only}: SELECT, INSERT)"
        )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (as the owner, SIP_MIGRATION_DATABASE_URL) and grant the
    service's role (SIP_DATABASE_APP_ROLE) its rights."""
    _migrate(Settings())
    typer.echo("database is up to date")


@app.command("seed-demo")
def seed_demo() -> None:
    """Fill an empty database with the demo organisations, people and plans."""
    settings = Settings()
    _migrate(settings)
    typer.echo("demo data added" if asyncio.run(_seed(settings)) else "database already has data; left as it was")


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded headers: off. The app believes them, only from SIP_TRUSTED_PROXIES (by
    default from nobody; uvicorn's own default believes any process on this machine), inside the
    middleware that must still see the connection's own peer to trust its X-Request-ID
    (app.create_app, http.observe)."""
    return {"proxy_headers": False}


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: bool = typer.Option(False, "--demo", help="Add the demo data if the database is empty."),
) -> None:
    """Migrate, then serve the API (and, in development, the sign-in provider)."""
    settings = Settings()
    if "public_url" not in settings.model_fields_set and not settings.is_production:
        # In development the address people use is the one served here, so that sign-in (whose
        # redirects and embedded provider are built on it) works on any port without more settings.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (comparing, not binding)
        settings = settings.model_copy(update={"public_url": f"http://{shown}:{port}"})
    _migrate(settings)
    if demo:
        asyncio.run(_seed(settings))
    from sip_service.app import create_app

    typer.echo(f"SIP-tjänsten: {settings.public_url}/  ({settings.env.value})")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        **proxy_options(settings),
        log_level="info",
        log_config=serve_log_config(settings),
        ws_max_size=settings.max_body_bytes,  # a websocket message is no larger than a request may be
    )


audit_app = typer.Typer(help="The audit trail.")
app.add_typer(audit_app, name="audit")


async def _verify(settings: Settings, checkpoints: Path | None, keys: list[str]) -> list[str]:
    from sip_service.audit import checkpoints as cps
    from sip_service.kit.db import Database

    found = cps.read(checkpoints, keys) if checkpoints is not None else None
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            findings = await cps.check(session, found)
    finally:
        await db.dispose()
    v = findings.verdict
    if findings.problems:
        return findings.problems
    if found is None:
        typer.echo(f"audit trail intact: {v.checked} events (no checkpoints: SIP_AUDIT_CHECKPOINT_FILE is not set)")
    elif (latest := found.latest) is None:
        typer.echo(f"audit trail intact: {v.checked} events; no checkpoint yet in {checkpoints}")
    else:
        typer.echo(
            f"audit trail intact: {v.checked} events, complete up to the checkpoint of "
            f"{latest.checkpoint.at.isoformat()} (event {latest.checkpoint.seq}; {len(found.valid)} checkpoints hold)"
        )
    return []


@audit_app.command("verify")
def audit_verify(
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="A checkpoint file (default: SIP_AUDIT_CHECKPOINT_FILE), e.g. a copy shipped elsewhere.",
    ),
) -> None:
    """Check the audit trail's hash chain, and that it reaches every signed checkpoint with the same
    hash (so deleted newest events are found); exit 1 with what is wrong."""
    settings = Settings()
    path = checkpoints or settings.audit_checkpoint_file
    keys = list(settings.audit_checkpoint_public_keys)
    if settings.audit_checkpoint_key is not None:
        from sip_service.audit.checkpoints import public_key_of

        keys.append(public_key_of(settings.audit_checkpoint_key.get_secret_value()))
    if path is not None and not keys:
        typer.echo("set SIP_AUDIT_CHECKPOINT_PUBLIC_KEYS to check the checkpoints' signatures", err=True)
        raise typer.Exit(2)
    problems = asyncio.run(_verify(settings, path, keys))
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)


@audit_app.command("keygen")
def audit_keygen() -> None:
    """Make a key pair for signing the audit checkpoints (Ed25519): the private key for the service
    only, the public key for whoever verifies."""
    from sip_service.audit.checkpoints import generate_key

    private, public = generate_key()
    typer.echo(f"SIP_AUDIT_CHECKPOINT_KEY={private}")
    typer.echo(f'SIP_AUDIT_CHECKPOINT_PUBLIC_KEYS=["{public}"]')


async def _checkpoint(settings: Settings) -> str:
    from sip_service.audit import checkpoints as cps
    from sip_service.kit.db import Database

    assert settings.audit_checkpoint_file is not None and settings.audit_checkpoint_key is not None
    db = Database(settings.database_url)
    try:
        signer = cps.Signer(settings.audit_checkpoint_key.get_secret_value())
        cp = await cps.write_checkpoint(db, signer, cps.FileSink(settings.audit_checkpoint_file))
    finally:
        await db.dispose()
    return f"checkpoint written: event {cp.seq} at {cp.at.isoformat()}" if cp else "no events yet: no checkpoint"


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Write one signed checkpoint of the chain's head now (the server does this every
    SIP_AUDIT_CHECKPOINT_INTERVAL_S)."""
    settings = Settings()
    if settings.audit_checkpoint_file is None:
        typer.echo("set SIP_AUDIT_CHECKPOINT_FILE and SIP_AUDIT_CHECKPOINT_KEY", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(_checkpoint(settings)))


async def _notify(settings: Settings) -> tuple[int, int, int]:
    from sip_service.kit.db import Database
    from sip_service.notify import service as outbox
    from sip_service.notify.senders import senders_for

    db = Database(settings.database_url)
    try:
        r = await outbox.run_once(
            db,
            senders_for(settings),
            max_attempts=settings.notify_max_attempts,
            webhook_max_attempts=settings.webhook_max_attempts,
        )
    finally:
        await db.dispose()
    return r.sent, r.retrying, r.failed


@app.command()
def notify() -> None:
    """Send the due messages of the outbox once (the server does this every SIP_NOTIFY_INTERVAL_S)."""
    settings = Settings()
    configure_logging(settings)  # in development the messages are written here
    sent, retrying, failed = asyncio.run(_notify(settings))
    typer.echo(f"sent {sent}, to retry {retrying}, failed {failed}")


async def _digest(settings: Settings, any_time: bool) -> tuple[int, int]:
    from datetime import time

    from sip_service.inbox import digest
    from sip_service.kit.db import Database

    db = Database(settings.database_url)
    try:
        at = time(0, 0) if any_time else settings.digest_at
        r = await digest.run_once(db, public_url=settings.public_url, at=at)
    finally:
        await db.dispose()
    return r.looked_at, r.queued


@app.command("digest")
def digest_command(
    any_time: bool = typer.Option(False, "--any-time", help="Do not wait for SIP_DIGEST_AT (the time of day)."),
) -> None:
    """Queue today's e-mail digests to staff with something new in "Att göra" (the server does this
    before each outbox round from SIP_DIGEST_AT); `sip-service notify` then sends them."""
    looked_at, queued = asyncio.run(_digest(Settings(), any_time))
    typer.echo(f"looked at {looked_at} staff members, queued {queued} digests")


async def _stats_report(settings: Settings) -> tuple[int, int]:
    from sip_service.kit.db import Database
    from sip_service.stats import report

    db = Database(settings.database_url)
    try:
        r = await report.run_once(db, public_url=settings.public_url, at=settings.digest_at)
    finally:
        await db.dispose()
    return r.looked_at, r.queued


@app.command("stats-report")
def stats_report_command() -> None:
    """Queue last month's statistics e-mail to the managers who asked for it (the server does this
    before each outbox round); `sip-service notify` then sends them."""
    looked_at, queued = asyncio.run(_stats_report(Settings()))
    typer.echo(f"looked at {looked_at} managers, queued {queued} reports")


async def _media(settings: Settings, metrics_at: tuple[str, int] | None = None) -> None:
    from prometheus_client import start_http_server

    from sip_service.http.observe import media_worker_registry
    from sip_service.kit.db import Database
    from sip_service.kit.pubsub import broker_for
    from sip_service.video.backend import media_server

    db, broker = Database(settings.database_url), broker_for(settings.redis_url)
    server = media_server(settings, db, broker)
    exporter = None
    if metrics_at is not None:  # its own /metrics: this process's CPU, rooms and participants
        exporter, _ = start_http_server(metrics_at[1], metrics_at[0], registry=media_worker_registry(db, server))
    try:
        await server.run_forever()  # until interrupted; then every peer closes
    finally:
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        await broker.close()
        await db.dispose()


@app.command()
def media(
    metrics_port: int = typer.Option(0, help="Serve this worker's Prometheus metrics on this port (0: none)."),
    metrics_host: str = typer.Option("127.0.0.1", help="… on this address (a private one: no token is asked)."),
) -> None:
    """Run only the media relay (SFU) for video meetings, as a worker beside the API processes
    (which then have SIP_MEDIA_IN_PROCESS=false); they meet over SIP_REDIS_URL."""
    settings = Settings()
    if not settings.redis_url:
        typer.echo("set SIP_REDIS_URL: the relay hears the API processes over Redis", err=True)
        raise typer.Exit(2)
    configure_logging(settings)
    typer.echo("media relay running")
    asyncio.run(_media(settings, (metrics_host, metrics_port) if metrics_port else None))


@app.command("export-schema")
def export_schema(output: Path = SCHEMA_FILE) -> None:
    """Write the GraphQL schema (SDL) that the code defines."""
    from sip_service.api.schema import build_schema

    output.write_text(str(build_schema(Settings())) + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}")


if __name__ == "__main__":
    app()
