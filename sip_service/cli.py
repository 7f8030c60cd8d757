"""The `sip-service` command: serve, migrate, seed-demo, notify, digest, stats-report, media, export-schema."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any

import typer
import uvicorn
import uvicorn.config

from sip_service.kit import migrations
from sip_service.settings import ASSETS_DIR, Settings

app = typer.Typer(help="SIP-tjänsten: samordnad individuell plan.", no_args_is_help=True)

SCHEMA_FILE = ASSETS_DIR / "graphql" / "schema.graphql"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve_log_config() -> dict[str, Any]:
    """uvicorn's own logging, and the service's (sip_service.*) at INFO beside it: uvicorn configures
    only its own loggers, so without this the outbox worker's lines (in development, every message it
    sends: notify.senders.ConsoleSender) went nowhere."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["sip_service"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


async def _seed(settings: Settings) -> bool:
    from sip_service.demo import seed
    from sip_service.kit.db import Database

    db = Database(settings.database_url)
    try:
        return await seed(db, settings)
    finally:
        await db.dispose()


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = Settings()
    migrations.upgrade(settings.database_url)
    typer.echo("database is up to date")


@app.command("seed-demo")
def seed_demo() -> None:
    """Fill an empty database with the demo organisations, people and plans."""
    settings = Settings()
    migrations.upgrade(settings.database_url)
    typer.echo("demo data added" if asyncio.run(_seed(settings)) else "database already has data; left as it was")


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded headers: believed only from SIP_TRUSTED_PROXIES (by default from nobody;
    uvicorn's own default believes any process on this machine)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


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
    migrations.upgrade(settings.database_url)
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
        log_config=serve_log_config(),
        ws_max_size=settings.max_body_bytes,  # a websocket message is no larger than a request may be
    )


audit_app = typer.Typer(help="The audit trail.")
app.add_typer(audit_app, name="audit")


async def _verify(settings: Settings) -> tuple[int, int | None]:
    from sip_service.audit.service import verify
    from sip_service.kit.db import Database

    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            verdict = await verify(session)
    finally:
        await db.dispose()
    return verdict.checked, verdict.first_broken_seq


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit trail; exit 1 at the first event that was tampered with."""
    checked, broken = asyncio.run(_verify(Settings()))
    if broken is not None:
        typer.echo(f"audit trail BROKEN at event {broken} (after {checked} intact events)", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit trail intact: {checked} events")


async def _notify(settings: Settings) -> tuple[int, int, int]:
    from sip_service.kit.db import Database
    from sip_service.notify import service as outbox
    from sip_service.notify.senders import senders_for

    db = Database(settings.database_url)
    try:
        r = await outbox.run_once(db, senders_for(settings), max_attempts=settings.notify_max_attempts)
    finally:
        await db.dispose()
    return r.sent, r.retrying, r.failed


@app.command()
def notify() -> None:
    """Send the due messages of the outbox once (the server does this every SIP_NOTIFY_INTERVAL_S)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)  # in development the messages are written here
    sent, retrying, failed = asyncio.run(_notify(Settings()))
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


async def _media(settings: Settings) -> None:
    from sip_service.kit.db import Database
    from sip_service.kit.pubsub import broker_for
    from sip_service.video.backend import media_server

    db, broker = Database(settings.database_url), broker_for(settings.redis_url)
    try:
        await media_server(settings, db, broker).run_forever()  # until interrupted; then every peer closes
    finally:
        await broker.close()
        await db.dispose()


@app.command()
def media() -> None:
    """Run only the media relay (SFU) for video meetings, as a worker beside the API processes
    (which then have SIP_MEDIA_IN_PROCESS=false); they meet over SIP_REDIS_URL."""
    settings = Settings()
    if not settings.redis_url:
        typer.echo("set SIP_REDIS_URL: the relay hears the API processes over Redis", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    typer.echo("media relay running")
    asyncio.run(_media(settings))


@app.command("export-schema")
def export_schema(output: Path = SCHEMA_FILE) -> None:
    """Write the GraphQL schema (SDL) that the code defines."""
    from sip_service.api.schema import build_schema

    output.write_text(str(build_schema(Settings())) + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}")


if __name__ == "__main__":
    app()
