"""Writing and verifying the audit trail.

Every event is chained to the one before it: hash = sha256(previous hash + the event's fields).
Appending takes a lock on the chain (PostgreSQL: a transaction advisory lock; SQLite: the single
writer lock the unit of work already holds), so concurrent requests cannot fork it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit import repository as audit_repo
from sip_service.auth.principal import CitizenPrincipal, Principal, StaffPrincipal, SystemPrincipal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.kit.errors import Forbidden, Invalid
from sip_service.models.audit import AuditAccess, AuditEvent
from sip_service.models.plans import Plan
from sip_service.plans import policy

GENESIS = "0" * 64
_CHAIN_LOCK = 0x5349_5041  # "SIPA": any constant shared by all writers


@dataclass(frozen=True)
class Access:
    """One thing a principal read or changed, about one plan (or one patient outside a plan)."""

    access: AuditAccess
    action: str
    plan_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    detail: str | None = None  # what was asked where no plan is read (a statistics filter)


def _fields(e: AuditEvent | SimpleNamespace) -> str:
    # `detail` joins the hashed fields only when it is set, so events from before it hash as they did.
    return json.dumps(
        [
            e.seq,
            e.occurred_at.isoformat(),
            e.actor_kind,
            str(e.actor_id) if e.actor_id else None,
            e.actor_name,
            str(e.organisation_id) if e.organisation_id else None,
            e.auth_method,
            e.access.value,
            e.action,
            str(e.plan_id) if e.plan_id else None,
            str(e.patient_id) if e.patient_id else None,
            *([e.detail] if e.detail is not None else []),
        ],
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, event: AuditEvent | SimpleNamespace) -> str:
    return hashlib.sha256((prev_hash + _fields(event)).encode()).hexdigest()


async def append(session: AsyncSession, principal: Principal, accesses: Iterable[Access]) -> None:
    """Write the events in the caller's transaction: if this fails, the request fails."""
    await append_many(session, [(principal, list(accesses))])


async def append_many(session: AsyncSession, entries: Sequence[tuple[Principal, Sequence[Access]]]) -> None:
    """Write several principals' events in the caller's transaction, chained in the order given:
    one lock, one look at the chain's end and one INSERT (of plain rows: no ORM objects to build and
    flush, which cost more than the rest for a page's 50 events), however many entries."""
    if not any(accesses for _, accesses in entries):
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    last = (
        await session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    now = clock.now()
    rows: list[dict[str, object]] = []
    for principal, accesses in entries:
        if isinstance(principal, StaffPrincipal):
            kind, actor, org = "STAFF", principal.staff_id, principal.organisation_id
        elif isinstance(principal, CitizenPrincipal):
            kind, actor, org = "CITIZEN", principal.citizen_id, None
        elif isinstance(principal, SystemPrincipal):  # a record system: its client id is the actor's name
            kind, actor, org = "SYSTEM", None, principal.organisation_id
        else:  # a guest let in by an invite link: known by their place in the plan
            kind, actor, org = "GUEST", principal.participant_id, None
        for a in accesses:
            seq += 1
            event = SimpleNamespace(
                seq=seq,
                occurred_at=now,
                actor_kind=kind,
                actor_id=actor,
                actor_name=principal.name,
                organisation_id=org,
                auth_method=principal.method.value,
                access=a.access,
                action=a.action,
                plan_id=a.plan_id,
                patient_id=a.patient_id,
                detail=a.detail,
                prev_hash=prev,
            )
            event.hash = prev = chain_hash(prev, event)
            rows.append(vars(event))
    await session.execute(insert(cast(Table, AuditEvent.__table__)), rows)


@dataclass(frozen=True)
class Verdict:
    checked: int
    first_broken_seq: int | None
    last_seq: int = 0  # the last event of the intact chain (0: none)
    checkpoint_mismatch: int | None = None  # an event whose hash is not the one a checkpoint signed

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None and self.checkpoint_mismatch is None


async def verify(session: AsyncSession, batch: int = 5000, checkpoints: Mapping[int, str] | None = None) -> Verdict:
    """Walk the chain from the start; the first event whose link or hash does not match is reported,
    and the first whose hash differs from a checkpoint's (`checkpoints`: sequence → hash; see
    audit/checkpoints.py: a chain rewritten from some event on is intact but not the one signed)."""
    prev, expected_seq, checked, after = GENESIS, 1, 0, 0
    checkpoints = checkpoints or {}
    mismatch: int | None = None
    while True:
        rows: Sequence[AuditEvent] = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
            )
        ).all()
        if not rows:
            return Verdict(checked, None, expected_seq - 1, mismatch)
        for e in rows:
            if e.seq != expected_seq or e.prev_hash != prev or chain_hash(prev, e) != e.hash:
                broken = e.seq if e.seq == expected_seq else expected_seq
                return Verdict(checked, broken, expected_seq - 1, mismatch)
            if mismatch is None and checkpoints.get(e.seq, e.hash) != e.hash:
                mismatch = e.seq
            prev, expected_seq, checked = e.hash, e.seq + 1, checked + 1
        after = rows[-1].seq


async def access_log(session: AsyncSession, principal: Principal, plan: Plan, limit: int) -> list[AuditEvent]:
    """Who has read or changed the plan: for the patient, or their representative, only."""
    if policy.patient_side_participant(principal, plan) is None:
        raise Forbidden("only the patient or their representative can see who looked at the plan")
    return await audit_repo.for_plan(session, plan.id, limit)


async def review(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID, start: datetime, end: datetime, limit: int
) -> list[AuditEvent]:
    """An auditor reviews access by an organisation (and its units) of their own care giver."""
    auditor = policy.require_auditor(principal)
    if not start < end:
        raise Invalid("the period must end after it starts", field="end")
    if organisation_id not in await identity_repo.care_giver_of(session, auditor.organisation_id):
        raise Forbidden("you review only your own care giver's organisations")
    units = await identity_repo.units_of(session, organisation_id)
    return await audit_repo.for_organisations(session, units, start, end, limit)
