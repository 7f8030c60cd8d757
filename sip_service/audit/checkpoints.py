"""Signed checkpoints of the audit chain's head, kept where the database cannot change them.

The hash chain (audit/service.py) shows that no event was changed or taken out of the middle, but
not where it should end: deleting the newest events leaves a shorter chain that is still intact. So
the service writes, every SIP_AUDIT_CHECKPOINT_INTERVAL_S while the chain grows, a checkpoint of its
head (sequence number, hash, time), signed, as one JSON line appended to SIP_AUDIT_CHECKPOINT_FILE
(opened with O_APPEND, never rewritten: make it append-only with `chattr +a`, or ship it to syslog
or another host). `sip-service audit verify` then checks that the chain reaches every checkpoint with
the same hash.

Signed with Ed25519, not HMAC: the private key (SIP_AUDIT_CHECKPOINT_KEY) is the service's only,
never in the database, and whoever verifies needs only the public key (SIP_AUDIT_CHECKPOINT_PUBLIC_KEYS),
which makes no checkpoints: an auditor, or the host the lines are shipped to, cannot forge one. Old
public keys stay in that list after a rotation, so older lines still verify.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit.service import Verdict, verify
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.models.audit import AuditEvent
from sip_service.settings import Settings

log = logging.getLogger(__name__)
VERSION = 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: str) -> str:
    """A short name of a public key (base64url of its 32 bytes), written with each checkpoint."""
    return hashlib.sha256(_unb64(public_key)).hexdigest()[:16]


def generate_key() -> tuple[str, str]:
    """A new key pair: (private, public), each the base64url of its 32 raw bytes."""
    private = Ed25519PrivateKey.generate()
    return _b64(private.private_bytes_raw()), _b64(_public_raw(private.public_key()))


def public_key_of(private_key: str) -> str:
    return _b64(_public_raw(Ed25519PrivateKey.from_private_bytes(_unb64(private_key)).public_key()))


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: datetime

    def message(self) -> bytes:
        """What is signed: the fields in one canonical form."""
        fields = {"v": VERSION, "seq": self.seq, "hash": self.hash, "at": self.at.isoformat()}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class Signer:
    def __init__(self, private_key: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(_unb64(private_key))
        self.public_key = _b64(_public_raw(self._key.public_key()))
        self.kid = key_id(self.public_key)

    def line(self, cp: Checkpoint) -> str:
        """The checkpoint as one JSON line (with its newline)."""
        signature = _b64(self._key.sign(cp.message()))
        body = {"v": VERSION, "seq": cp.seq, "hash": cp.hash, "at": cp.at.isoformat(), "kid": self.kid}
        return json.dumps(body | {"sig": signature}, separators=(",", ":")) + "\n"


class FileSink:
    """Appends lines to a file: each line one write(2) on a descriptor opened with O_APPEND (which
    is all that `chattr +a` allows), synced before the next round. Opened anew for each line, so
    that a log shipper may rotate it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def ensure(self) -> None:
        """The file exists from the service's start: a missing file is then a finding of `verify`."""
        os.close(self._open())

    def append(self, line: str) -> None:
        fd = self._open()
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


async def head(session: AsyncSession) -> tuple[int, str] | None:
    row = (
        await session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    ).first()
    return (row[0], row[1]) if row else None


async def write_checkpoint(
    db: Database, signer: Signer, sink: FileSink, last_seq: int | None = None, min_events: int = 1
) -> Checkpoint | None:
    """Sign and append the chain's head if it moved at least `min_events` past `last_seq` (and
    there is an event at all)."""
    async with db.read() as session:
        now = await head(session)
    if now is None or now[0] - (last_seq or 0) < max(min_events, 1):
        return None
    cp = Checkpoint(now[0], now[1], clock.now())
    await asyncio.to_thread(sink.append, signer.line(cp))
    return cp


async def run_forever(
    db: Database,
    signer: Signer,
    sink: FileSink,
    *,
    interval_s: float,
    stop: asyncio.Event,
    every_events: int = 0,
    poll_s: float = 1.0,
) -> None:
    """The background task of each API process: a checkpoint every `interval_s` while the chain
    grows, sooner when it grew by `every_events` (looked at every `poll_s`; 0: not), and a last one
    when stopped. A failed round (database away, disk full) is logged once until one works again."""
    last: int | None = None
    last_round = -float("inf")
    failing = False
    while True:
        due = stop.is_set() or clock.monotonic() - last_round >= interval_s
        try:
            cp = await write_checkpoint(db, signer, sink, last, 1 if due else every_events)
            last = cp.seq if cp else last
            if failing:
                log.warning("audit checkpoints are written again")
            failing = False
        except Exception as exc:  # the database or the file away: try again next round
            if not failing:
                log.warning("an audit checkpoint could not be written (%s: %s)", type(exc).__name__, exc)
            failing = True
        if due:
            last_round = clock.monotonic()
        if stop.is_set():
            return
        wait = min(interval_s, poll_s) if every_events > 0 else interval_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


def start(settings: Settings, db: Database) -> Callable[[], Awaitable[None]] | None:
    """Start the checkpoint task if SIP_AUDIT_CHECKPOINT_FILE is set; the result stops it (after a
    last checkpoint)."""
    if settings.audit_checkpoint_file is None or settings.audit_checkpoint_interval_s <= 0:
        return None
    if settings.audit_checkpoint_key is None:  # a host that only verifies
        log.warning("no audit checkpoints are written: SIP_AUDIT_CHECKPOINT_KEY is not set")
        return None
    signer = Signer(settings.audit_checkpoint_key.get_secret_value())
    sink = FileSink(settings.audit_checkpoint_file)
    sink.ensure()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_forever(
            db,
            signer,
            sink,
            interval_s=settings.audit_checkpoint_interval_s,
            stop=stop,
            every_events=settings.audit_checkpoint_every_events,
        ),
        name="audit-checkpoints",
    )

    async def stopped() -> None:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        except TimeoutError:  # the last checkpoint did not make it (database away): the task is cancelled
            log.warning("the last audit checkpoint was not written in time")

    return stopped


# ---- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    line: int  # in the file, from 1


@dataclass
class CheckpointFile:
    """What a checkpoint file holds: the checkpoints whose signature holds, and what is wrong."""

    valid: list[SignedCheckpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def latest(self) -> SignedCheckpoint | None:
        return max(self.valid, key=lambda s: s.checkpoint.seq, default=None)


def read(path: Path, public_keys: Iterable[str]) -> CheckpointFile:
    """Every line's signature checked with the key it names (one of `public_keys`)."""
    keys = {key_id(k): Ed25519PublicKey.from_public_bytes(_unb64(k)) for k in public_keys}
    found = CheckpointFile()
    if not path.exists():
        found.problems.append(f"no checkpoint file at {path}")
        return found
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                body = json.loads(text)
                cp = Checkpoint(int(body["seq"]), str(body["hash"]), datetime.fromisoformat(body["at"]))
                kid, sig = str(body["kid"]), _unb64(str(body["sig"]))
                if body.get("v") != VERSION:
                    raise ValueError(f"version {body.get('v')!r}")
            except (ValueError, KeyError, TypeError) as exc:
                found.problems.append(f"checkpoint line {number}: unreadable ({exc})")
                continue
            key = keys.get(kid)
            if key is None:
                found.problems.append(f"checkpoint line {number}: signed by an unknown key ({kid})")
                continue
            try:
                key.verify(sig, cp.message())
            except InvalidSignature:
                found.problems.append(f"checkpoint line {number}: BAD SIGNATURE (event {cp.seq}, {cp.at.isoformat()})")
                continue
            found.valid.append(SignedCheckpoint(cp, number))
    return found


@dataclass(frozen=True)
class Findings:
    verdict: Verdict
    checkpoints: CheckpointFile | None  # None: no checkpoints configured

    @property
    def problems(self) -> list[str]:
        v, found = self.verdict, self.checkpoints
        out = []
        if v.first_broken_seq is not None:
            out.append(f"audit trail BROKEN at event {v.first_broken_seq} (after {v.checked} intact events)")
        if found is None:
            return out
        out.extend(found.problems)
        if v.checkpoint_mismatch is not None:
            at = next(s for s in found.valid if s.checkpoint.seq == v.checkpoint_mismatch)
            out.append(
                f"audit trail REWRITTEN: event {at.checkpoint.seq} differs from the checkpoint of "
                f"{at.checkpoint.at.isoformat()} (line {at.line})"
            )
        latest = found.latest
        if latest is not None and v.first_broken_seq is None and v.last_seq < latest.checkpoint.seq:
            cp = latest.checkpoint
            out.append(
                f"audit trail INCOMPLETE: the checkpoint of {cp.at.isoformat()} (line {latest.line}) says the "
                f"trail reached event {cp.seq}, but it ends at event {v.last_seq}: "
                f"{cp.seq - v.last_seq} events at the end are missing"
            )
        return out


async def check(session: AsyncSession, checkpoints: CheckpointFile | None) -> Findings:
    """Walk the chain, holding it to every valid checkpoint."""
    expected = {s.checkpoint.seq: s.checkpoint.hash for s in checkpoints.valid} if checkpoints else {}
    return Findings(await verify(session, checkpoints=expected), checkpoints)
