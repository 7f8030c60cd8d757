"""Signed checkpoints of the audit chain's head: written by the running service to an append-only
file, and held against the chain by `sip-service audit verify`, so that deleting the newest events,
rewriting the chain or forging a checkpoint is found (exit 1, saying what)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, text

from sip_service.app import create_app
from sip_service.audit import checkpoints as cps
from sip_service.audit import service as audit
from sip_service.auth.principal import StaffPrincipal
from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.settings import Settings

from helpers import until, within

ANNA = StaffPrincipal(uuid.uuid4(), uuid.uuid4(), "SE2321000032-anna", "Anna Lind")


async def cli(*args: str, **env: str) -> tuple[int, str, str]:
    """`sip-service …` as an operator runs it: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "sip-service"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await within(process.communicate(), f"sip-service {' '.join(args)} to finish", 90)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def add_events(db: Database, n: int, principal: StaffPrincipal = ANNA) -> None:
    for i in range(n):
        async with db.write() as s:
            await audit.append(s, principal, [audit.Access(AuditAccess.READ, f"test.checkpoint.{i}", None, None)])


async def head(db: Database) -> tuple[int, str]:
    async with db.read() as s:
        found = await cps.head(s)
    assert found is not None
    return found


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(t) for t in path.read_text().splitlines()] if path.exists() else []


async def delete_newest_as_owner(db: Database, after_seq: int) -> None:
    """The attacker with the owner's rights: switch off the guard, delete the newest events."""
    async with db.write() as s:
        if db.is_sqlite:
            await s.execute(text("DROP TRIGGER audit_events_no_delete"))
        else:
            await s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        await s.execute(delete(AuditEvent).where(AuditEvent.seq > after_seq))


@asynccontextmanager
async def running_service(settings: Settings, db: Database) -> AsyncIterator[None]:
    """The service's lifespan (its background tasks) on `db`; no HTTP is needed for the checkpoints."""
    app = create_app(settings, db)
    async with app.router.lifespan_context(app):
        yield


async def test_the_running_service_writes_checkpoints_and_verify_finds_deleted_newest_events(
    empty_database: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    private, public = cps.generate_key()
    path = tmp_path / "checkpoints" / "audit.jsonl"
    settings = Settings(
        database_url=empty_database,
        dev_oidc_key_file=tmp_path / "key.json",
        notify_interval_s=0,
        media_in_process=False,
        audit_checkpoint_file=path,
        audit_checkpoint_key=private,
        audit_checkpoint_interval_s=0.05,  # the test's clock: a round every 50 ms
    )
    db = Database(empty_database)
    env = {"SIP_DATABASE_URL": empty_database, "SIP_AUDIT_CHECKPOINT_FILE": str(path)}
    keys = {"SIP_AUDIT_CHECKPOINT_PUBLIC_KEYS": json.dumps([public])}  # verifying needs no private key
    try:
        async with running_service(settings, db):
            assert path.exists()  # made at the start: a missing file is itself a finding
            await add_events(db, 3)
            seq, hash_ = await head(db)

            async def covered() -> bool:
                return any(line["seq"] == seq and line["hash"] == hash_ for line in lines(path))

            await until(covered, f"a checkpoint of event {seq} in {path}")
            await add_events(db, 2)
            newest = await head(db)
        # stopping wrote a last checkpoint: the newest event is covered without waiting for a round
        assert lines(path)[-1]["seq"] == newest[0] and lines(path)[-1]["hash"] == newest[1]
        assert len({line["seq"] for line in lines(path)}) == len(lines(path))  # only when the head moved
        found = cps.read(path, [public])
        assert not found.problems and found.valid

        code, out, err = await cli("audit", "verify", **env, **keys)
        assert code == 0 and "complete up to the checkpoint of" in out and f"(event {newest[0]};" in out, (out, err)

        await delete_newest_as_owner(db, after_seq=seq)
        async with db.read() as s:
            assert (await audit.verify(s)).intact  # the shorter chain is intact: only the checkpoint tells
        code, out, err = await cli("audit", "verify", **env, **keys)
        assert code == 1, (out, err)
        assert "audit trail INCOMPLETE" in err and f"reached event {newest[0]}, but it ends at event {seq}" in err, err
    finally:
        await db.dispose()


async def test_a_chain_rewritten_after_a_checkpoint_and_forged_checkpoints_are_reported(
    empty_database: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    private, _ = cps.generate_key()
    path = tmp_path / "audit.jsonl"
    signer, sink = cps.Signer(private), cps.FileSink(path)
    db = Database(empty_database)
    env = {
        "SIP_DATABASE_URL": empty_database,
        "SIP_AUDIT_CHECKPOINT_FILE": str(path),
        "SIP_AUDIT_CHECKPOINT_KEY": private,
    }
    try:
        await add_events(db, 4)
        cp = await cps.write_checkpoint(db, signer, sink)
        assert cp is not None and cp.seq == 4
        assert await cps.write_checkpoint(db, signer, sink, last_seq=4) is None  # the head did not move
        code, out, err = await cli("audit", "verify", **env)
        assert code == 0 and "(event 4; 1 checkpoints hold)" in out, (out, err)

        # A checkpoint whose fields were changed (here: a later event claimed) fails its signature.
        good = path.read_text()
        forged = json.loads(good) | {"seq": 3}
        path.write_text(good + json.dumps(forged) + "\n")
        code, out, err = await cli("audit", "verify", **env)
        assert code == 1 and "checkpoint line 2: BAD SIGNATURE (event 3," in err, (out, err)

        # One signed with another key than the service's (or a public key listed) is not believed.
        stranger = cps.Signer(cps.generate_key()[0])
        path.write_text(good + stranger.line(cps.Checkpoint(9, "f" * 64, datetime.now(UTC))))
        code, out, err = await cli("audit", "verify", **env)
        assert code == 1 and f"checkpoint line 2: signed by an unknown key ({stranger.kid})" in err, (out, err)
        path.write_text(good)

        # The attacker deletes from event 3 on and writes events anew, hashed right: the chain is
        # intact and as long as before, but it is not the one that was signed.
        await delete_newest_as_owner(db, after_seq=2)
        await add_events(db, 2, StaffPrincipal(uuid.uuid4(), uuid.uuid4(), "x", "Någon annan"))
        async with db.read() as s:
            assert (await audit.verify(s)).first_broken_seq is None
        code, out, err = await cli("audit", "verify", **env)
        assert code == 1 and "audit trail REWRITTEN: event 4 differs from the checkpoint of" in err, (out, err)

        # Checkpoints configured but the file gone: said so, not passed over.
        path.unlink()
        code, out, err = await cli("audit", "verify", **env)
        assert code == 1 and f"no checkpoint file at {path}" in err, (out, err)
    finally:
        await db.dispose()


async def test_a_checkpoint_comes_sooner_when_the_chain_grew_by_the_set_number_of_events(
    empty_database: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    private, _ = cps.generate_key()
    path = tmp_path / "audit.jsonl"
    settings = Settings(
        database_url=empty_database,
        dev_oidc_key_file=tmp_path / "key.json",
        notify_interval_s=0,
        media_in_process=False,
        audit_checkpoint_file=path,
        audit_checkpoint_key=private,
        audit_checkpoint_interval_s=3600,  # by time: not within this test
        audit_checkpoint_every_events=3,
    )
    db = Database(empty_database)
    try:
        await add_events(db, 1)
        async with running_service(settings, db):
            for seq in (1, 4, 7):  # the first round's (by time), then one per 3 events

                async def covered(seq: int = seq) -> bool:
                    return any(line["seq"] == seq for line in lines(path))

                await until(covered, f"a checkpoint of event {seq}")
                if seq < 7:
                    await add_events(db, 3)
        assert [line["seq"] for line in lines(path)] == [1, 4, 7]  # none between, none more on stopping
    finally:
        await db.dispose()
