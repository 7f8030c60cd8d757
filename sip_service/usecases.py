"""The use-case runner: one unit of work for every entry point (GraphQL, HTTP routes, the CLI, the demo).

`run` runs a change. A use case is a function of a session that changes one plan through the domains'
services (which never commit) and returns the plan, a part of it, or (plan, part). Whoever asks, the
runner keeps what every change must keep: all of it is written or none of it; the WRITE audit event
goes into the same transaction; and after the commit the plan's change event is published, so that
open pages read the plan again. `record_reads` writes what an answer read (READ events) before it
leaves. A new entry point (a FHIR route, a worker) calls these and gets the same guarantees.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import Principal
from sip_service.inbox import service as inbox
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.kit.pubsub import Broker
from sip_service.models.audit import AuditAccess
from sip_service.models.plans import Plan
from sip_service.plans import events as plan_events

T = TypeVar("T")


async def run(
    db: Database,
    principal: Principal,
    action: str,
    change: Callable[[AsyncSession], Awaitable[T]],
    *,
    broker: Broker | None,
    committed: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Run `change` as `principal` in its own transaction and audit it as `action`. Domain errors
    propagate after the rollback. `committed` runs after the commit, before the change event is
    published on `broker` (None: nobody can be listening, as while the demo is seeded)."""
    async with db.write() as session:
        result = await change(session)
        await session.flush()  # new parts get their plan ids
        plan = await _plan_changed(session, result)
        write = Access(AuditAccess.WRITE, action, plan.id, plan.patient_id)
        await audit.append(session, principal, [write])  # in the same transaction
        news = plan_events.changed(plan.id, plan.version, action)
    if committed is not None:
        await committed()
    if broker is not None:
        await broker.publish(plan_events.channel(plan.id), news)  # committed: others read it again
    return result


async def record_reads(
    db: Database, principal: Principal, reads: Collection[Access], opened: Collection[uuid.UUID] = ()
) -> None:
    """Write what an answer read (READ audit events) in one transaction, before the answer leaves: if
    this raises, the caller withholds the answer, so nobody reads plan data without a trace. `opened`:
    the participations of staff who opened a plan they take part in, marked seen in their inbox in
    the same transaction."""
    if not reads:
        return
    async with db.write() as session:
        await audit.append(session, principal, reads)
        if opened:
            await inbox.note_opened(session, principal, opened, clock.now())


async def _plan_changed(session: AsyncSession, result: object) -> Plan:
    """The plan a use case changed: it returns the plan, a part of it, or (plan, part)."""
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, Plan):
        return result
    plan = await session.get(Plan, result.plan_id)  # type: ignore[attr-defined]  # already in the session
    assert plan is not None
    return plan
