"""The outbox: use cases write messages in their own transaction; a worker sends the due ones.

Sending happens outside any transaction. A message is first *claimed* (attempts + 1, and its next
attempt moved a lease ahead, committed), then sent, then marked SENT — or, when sending raised, given
its next attempt after a backoff of 1, 5, 25 … minutes, until the last attempt marks it FAILED. A
process that dies while sending leaves the message to be tried again when the lease runs out, so
nothing is lost (a message may, rarely, arrive twice). With PostgreSQL, concurrent workers skip
each other's rows (FOR UPDATE SKIP LOCKED). A message to a relative the patient no longer wants
(`plans.participation.takes_part`) is not sent at all: claiming marks it FAILED with that reason.

A webhook (channel WEBHOOK: a record system's subscription, `notify.subscriptions`) is the same
kind of row with its own backoff (`webhook_backoff`: 30 s, 2, 8, 32 minutes, then hourly) and
number of attempts; claiming reads its subscription's secret and headers (a deleted subscription's
message is FAILED instead), giving up shows on the subscription as ERROR, and a delivery makes it
ACTIVE again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.models.notify import Channel, MessageKind, MessageStatus, OutboxMessage
from sip_service.models.plans import Consent, Participant, ParticipantKind, Plan
from sip_service.models.subscriptions import Subscription, SubscriptionStatus
from sip_service.notify.senders import Outgoing, Senders
from sip_service.plans import participation
from sip_service.plans import service as plans_service

log = logging.getLogger("sip_service.notify")

WITHHELD = (
    "Inte skickat: patienten vill inte längre att den här närstående ska vara med. / "
    "Not sent: the patient no longer wants this relative to take part."
)
CONSENT_HOLD = timedelta(minutes=1)  # how often a message waiting for consent is looked at again
LEASE = timedelta(minutes=10)  # longer than any one send takes (SMTP timeout 30 s)
BATCH = 50
MAX_ERROR_LENGTH = 1000


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 5, 25, 125 … minutes."""
    return timedelta(minutes=5 ** max(attempts - 1, 0))


WEBHOOK_BACKOFF_CAP = timedelta(hours=1)
UNSUBSCRIBED = "Inte skickat: prenumerationen är borttagen. / Not sent: the subscription was deleted."


def webhook_backoff(attempts: int) -> timedelta:
    """A webhook's wait after its `attempts`-th failed attempt: 30 s, 2, 8, 32 minutes, then hourly
    (a record system down for a while gets its notifications soon after it is back)."""
    return min(timedelta(seconds=30 * 4 ** max(attempts - 1, 0)), WEBHOOK_BACKOFF_CAP)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: str


def enqueue(
    session: AsyncSession,
    *,
    participant_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None,
    kind: MessageKind,
    channel: Channel,
    address: str,
    subject: str,
    body: str,
    attachment: Attachment | None = None,
    staff_member_id: uuid.UUID | None = None,
    subscription_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add a message to the caller's transaction: it is sent only if that transaction commits. It
    goes to a participant (about a meeting), to a staff member (their digest) or to a subscription
    (a webhook); it is due `now` (the caller's clock, if it has one of its own)."""
    if [participant_id, staff_member_id, subscription_id].count(None) != 2:
        raise ValueError("a message goes to one participant, one staff member or one subscription")
    now = now or clock.now()
    message = OutboxMessage(
        meeting_id=meeting_id,
        participant_id=participant_id,
        staff_member_id=staff_member_id,
        subscription_id=subscription_id,
        kind=kind,
        channel=channel,
        address=address,
        subject=subject,
        body=body,
        attachment_filename=attachment.filename if attachment else None,
        attachment_content_type=attachment.content_type if attachment else None,
        attachment=attachment.content if attachment else None,
        status=MessageStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message


async def latest_by_participant(
    session: AsyncSession, meeting_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[uuid.UUID, OutboxMessage]]:
    """Per meeting, each participant's most recent message (what staff see as the delivery)."""
    out: dict[uuid.UUID, dict[uuid.UUID, OutboxMessage]] = {m: {} for m in meeting_ids}
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.meeting_id.in_(meeting_ids))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    for message in await session.scalars(stmt):
        assert message.meeting_id is not None and message.participant_id is not None
        out[message.meeting_id][message.participant_id] = message
    return out


@dataclass
class RunResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


async def _awaiting_consent(session: AsyncSession, parties: Iterable[Participant], now: datetime) -> set[uuid.UUID]:
    """The staff among these whose organisation the patient's active consent does not cover yet
    (`plans.service.staff_awaiting_consent`): their messages wait."""
    plan_ids = {p.plan_id for p in parties if p.kind is ParticipantKind.STAFF}
    if not plan_ids:
        return set()
    stmt = (
        select(Plan)
        .where(Plan.id.in_(plan_ids))
        .options(selectinload(Plan.participants), selectinload(Plan.consents).selectinload(Consent.organisations))
    )
    today = now.astimezone(clock.STOCKHOLM).date()
    waiting: set[uuid.UUID] = set()
    for plan in await session.scalars(stmt):
        waiting |= plans_service.staff_awaiting_consent(plan, today)
    return waiting


async def _claim(db: Database, now: datetime, batch: int) -> list[tuple[uuid.UUID, int, Outgoing]]:
    async with db.write() as session:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        due = list(await session.scalars(stmt))
        to_whom = select(Participant).where(Participant.id.in_({m.participant_id for m in due if m.participant_id}))
        parties = {p.id: p for p in await session.scalars(to_whom)}
        waiting = await _awaiting_consent(session, parties.values(), now)
        hooks = {m.subscription_id for m in due if m.subscription_id}
        subscriptions = {x.id: x for x in await session.scalars(select(Subscription).where(Subscription.id.in_(hooks)))}
        claimed = []
        for m in due:
            hook = subscriptions.get(m.subscription_id) if m.subscription_id else None
            if m.subscription_id and (hook is None or hook.deleted_at is not None):
                m.status, m.last_error = MessageStatus.FAILED, UNSUBSCRIBED
                continue
            party = parties.get(m.participant_id) if m.participant_id else None  # None: a staff member's digest
            if party is not None and not participation.takes_part(party.kind, party.wanted_by_patient):
                # written while the patient wanted this relative, who has been refused since: withheld
                m.status, m.last_error = MessageStatus.FAILED, WITHHELD
                continue
            if m.participant_id in waiting:
                # staff of an organisation the patient's consent does not cover yet: held, looked at again soon
                m.next_attempt_at = now + CONSENT_HOLD
                continue
            m.attempts += 1
            m.next_attempt_at = now + LEASE
            outgoing = Outgoing(
                m.channel,
                m.address,
                m.subject,
                m.body,
                m.attachment_filename,
                m.attachment_content_type,
                m.attachment,
                tuple(_header(h) for h in hook.headers) if hook else (),
                hook.secret if hook else None,
                str(m.id),
            )
            claimed.append((m.id, m.attempts, outgoing))
    return claimed


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


async def run_once(
    db: Database,
    senders: Senders,
    *,
    max_attempts: int,
    webhook_max_attempts: int | None = None,
    now: datetime | None = None,
    batch: int = BATCH,
) -> RunResult:
    """Send the messages that are due now; returns what happened. Webhooks are given up after
    `webhook_max_attempts` (by default `max_attempts`)."""
    now = now or clock.now()
    result = RunResult()
    for message_id, attempts, outgoing in await _claim(db, now, batch):
        error: str | None = None
        try:
            await senders.for_channel(outgoing.channel).send(outgoing)
        except Exception as exc:  # any failure of a sender means: try again later
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
            log.warning("sending %s message %s failed (attempt %d): %s", outgoing.channel, message_id, attempts, error)
        async with db.write() as session:
            m = await session.get(OutboxMessage, message_id)
            if m is None:  # the meeting was deleted meanwhile
                continue
            hook = await session.get(Subscription, m.subscription_id) if m.subscription_id else None
            if error is None:
                m.status, m.sent_at, m.last_error = MessageStatus.SENT, clock.now(), None
                if hook is not None and hook.status is SubscriptionStatus.ERROR:  # it answers again
                    hook.status, hook.error = SubscriptionStatus.ACTIVE, None
                result.sent += 1
                continue
            m.last_error = error
            result.errors.append(error)
            limit = (webhook_max_attempts or max_attempts) if outgoing.channel is Channel.WEBHOOK else max_attempts
            if attempts >= limit:
                m.status = MessageStatus.FAILED
                if hook is not None and hook.status is SubscriptionStatus.ACTIVE:
                    hook.status = SubscriptionStatus.ERROR
                    hook.error = f"Gav upp efter {attempts} försök. / Gave up after {attempts} attempts: {error}"
                result.failed += 1
            else:
                wait = webhook_backoff(attempts) if outgoing.channel is Channel.WEBHOOK else backoff(attempts)
                m.next_attempt_at = now + wait
                result.retrying += 1
    return result


@dataclass(frozen=True)
class QueueState:
    """The outbox at a glance (for /metrics): messages not sent by status, and the queue."""

    by_status: dict[str, int]  # PENDING and FAILED (SENT is history, and not counted)
    due: int  # PENDING and due now
    retrying: int  # PENDING after at least one failed attempt
    oldest_due_s: float  # how long the oldest due message has waited; 0 when none is due


async def queue_state(session: AsyncSession, now: datetime | None = None) -> QueueState:
    """Two statements on the (status, next_attempt_at) index; the sent history is not read."""
    now = now or clock.now()
    unsent = (MessageStatus.PENDING, MessageStatus.FAILED)
    counts = {s.value: 0 for s in unsent}
    by_status = select(OutboxMessage.status, func.count()).where(OutboxMessage.status.in_(unsent))
    for status, count in await session.execute(by_status.group_by(OutboxMessage.status)):
        counts[MessageStatus(status).value] = int(count)
    pending = OutboxMessage.status == MessageStatus.PENDING
    row = (
        await session.execute(
            select(
                func.count().filter(OutboxMessage.next_attempt_at <= now),
                func.count().filter(OutboxMessage.attempts > 0),
                func.min(OutboxMessage.next_attempt_at).filter(OutboxMessage.next_attempt_at <= now),
            ).where(pending)
        )
    ).one()
    oldest = row[2]
    waited = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
        waited = max((now - oldest).total_seconds(), 0.0)
    return QueueState(counts, int(row[0] or 0), int(row[1] or 0), waited)


_paused = 0


@contextmanager
def paused() -> Iterator[None]:
    """Background workers in this process skip their runs meanwhile (tests run the outbox themselves)."""
    global _paused
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1


async def run_forever(
    db: Database,
    senders: Senders,
    *,
    interval_s: float,
    max_attempts: int,
    webhook_max_attempts: int | None = None,
    before: Sequence[Callable[[], Awaitable[object]]] = (),
    stop: asyncio.Event | None = None,
    after: Callable[[RunResult], None] | None = None,
) -> None:
    """The background worker started by the app: one run every `interval_s` seconds, after the jobs
    that write messages (`before`: the daily digest), so that what they write goes out at once.
    It ends when `stop` is set (between rounds): a cancel alone is delivered once, and a library
    busy at that moment may turn it into an error of its own, which the loop would outlive. `after`
    is told each round's result (the metrics count it)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        if not _paused:
            for job in before:
                try:
                    await job()
                except Exception:  # one broken job must not stop the sending
                    log.exception("a job before the outbox run failed")
            try:
                result = await run_once(
                    db, senders, max_attempts=max_attempts, webhook_max_attempts=webhook_max_attempts
                )
                if after is not None:
                    after(result)
            except Exception:  # a broken run (database away) must not end the worker
                log.exception("the outbox run failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
