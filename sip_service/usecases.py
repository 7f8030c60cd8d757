"""The use-case runner: one unit of work for every entry point (GraphQL, HTTP routes, the CLI, the demo).

`run` runs a change. A use case is a function of a session that changes one plan through the domains'
services (which never commit) and returns the plan, a part of it, or (plan, part). Whoever asks, the
runner keeps what every change must keep: all of it is written or none of it; the WRITE audit event
goes into the same transaction, and so do the record systems' notifications of a finalized plan
(`notify.subscriptions`, with their audit events); and after the commit the plan's change event is published, so that
open pages read the plan again. `record_reads` writes what an answer read (READ events) before it
leaves. A new entry point (a FHIR route, a worker) calls these and gets the same guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import Principal
from sip_service.inbox import service as inbox
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.kit.outage import BrokerUnavailable
from sip_service.kit.pubsub import Broker
from sip_service.models.audit import AuditAccess
from sip_service.models.plans import Plan
from sip_service.notify import subscriptions
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
        told = await _tell_subscribers(session)
        await audit.append_many(session, [(principal, [write]), *told])  # in the same transaction
        news = plan_events.changed(plan.id, plan.version, action)
    if committed is not None:
        await committed()
    if broker is not None:
        # Committed: others read it again. Redis down (logged once by kit.pubsub) does not undo an
        # acknowledged write; the open pages' live feeds are closed meanwhile and read again.
        with contextlib.suppress(BrokerUnavailable):
            await broker.publish(plan_events.channel(plan.id), news)
    return result


async def record_reads(
    db: Database, principal: Principal, reads: Collection[Access], opened: Collection[uuid.UUID] = ()
) -> None:
    """Write what an answer read (READ audit events) before the answer leaves: this returns once
    they are committed, and if it raises, the caller withholds the answer, so nobody reads plan data
    without a trace. `opened`: the participations of staff who opened a plan they take part in,
    marked seen in their inbox in the same transaction. Requests that record at the same time
    share one transaction (see `ReadRecorder`)."""
    if not reads:
        return
    await _recorder(db).record(principal, list(reads), list(opened))


@dataclass
class _Reads:
    principal: Principal
    reads: list[Access]
    opened: list[uuid.UUID]
    written: asyncio.Future[None]


_MARKED_AT_MOST = 100_000


class ReadRecorder:
    """Group commit for READ events. A request hands its reads over and waits; one writer at a time
    takes everything handed over so far and writes it in one transaction (one chain lock, one look
    at the chain's end, one INSERT), then confirms to each request. Reads handed over meanwhile go
    in the next transaction. With one request at a time this is the plain write it replaces; under
    load, one transaction serves many requests. If a shared transaction fails, each request's reads
    are tried again on their own, so one request's failure withholds no other answer."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: list[_Reads] = []
        self._writer: asyncio.Task[None] | None = None
        self._marked: set[tuple[Principal, uuid.UUID]] = set()  # plans opened, marked (committed)

    async def record(self, principal: Principal, reads: list[Access], opened: list[uuid.UUID]) -> None:
        loop = asyncio.get_running_loop()
        entry = _Reads(principal, reads, opened, loop.create_future())
        self._waiting.append(entry)
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_all())
        await entry.written

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write_batch(batch)
            finally:  # cancelled (the server stops): nobody waits for ever, and no answer leaves
                for entry in batch:
                    _settle(entry, RuntimeError("the audit writer stopped"))

    async def _write_batch(self, batch: list[_Reads]) -> None:
        try:
            await self._write(batch)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                return
            for entry in batch:  # on their own, so that one failure withholds only its answer
                try:
                    await self._write([entry])
                except Exception as alone:  # handed to the request that waits
                    _settle(entry, alone)
                else:
                    _settle(entry, None)
        else:
            for entry in batch:
                _settle(entry, None)

    async def _write(self, batch: list[_Reads]) -> None:
        # A plan opened once is no longer new to that staff member for good (the mark is never
        # changed or removed): this process does not write it again. Another process may, once.
        opened = {(e.principal, pid) for e in batch for pid in e.opened} - self._marked
        async with self._db.write() as session:
            await audit.append_many(session, [(e.principal, e.reads) for e in batch])
            await inbox.note_opened(session, opened, clock.now())
        if len(self._marked) > _MARKED_AT_MOST:
            self._marked.clear()
        self._marked |= opened


def _settle(entry: _Reads, error: BaseException | None) -> None:
    if entry.written.done():  # the request stopped waiting (its client went away)
        return
    if error is None:
        entry.written.set_result(None)
    else:
        entry.written.set_exception(error)


_recorders: weakref.WeakKeyDictionary[Database, ReadRecorder] = weakref.WeakKeyDictionary()


def _recorder(db: Database) -> ReadRecorder:
    recorder = _recorders.get(db)
    if recorder is None:
        recorder = _recorders[db] = ReadRecorder(db)
    return recorder


async def _tell_subscribers(session: AsyncSession) -> list[tuple[Principal, list[Access]]]:
    """For each plan the change finalized, the record systems' notifications, queued in this
    transaction (sent from the outbox only once it is committed), and their audit events: the
    system that will learn of the plan, as a read of it (`subscription.notify`)."""
    entries: list[tuple[Principal, list[Access]]] = []
    for plan_id in plan_events.finalized(session):
        plan = await session.get(Plan, plan_id)
        assert plan is not None  # finalized in this session
        for told in await subscriptions.notify_finalized(session, plan):
            detail = f"Subscription/{told.subscription_id}"
            entries.append(
                (told.reader, [Access(AuditAccess.READ, "subscription.notify", plan.id, plan.patient_id, detail)])
            )
    return entries


async def _plan_changed(session: AsyncSession, result: object) -> Plan:
    """The plan a use case changed: it returns the plan, a part of it, or (plan, part)."""
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, Plan):
        return result
    plan = await session.get(Plan, result.plan_id)  # type: ignore[attr-defined]  # already in the session
    assert plan is not None
    return plan
