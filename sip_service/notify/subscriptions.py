"""Record systems' subscriptions (FHIR R4 `Subscription`, channel rest-hook): a record system hears
when a plan is finalized (the first time, or a new revision), and reads the plan itself.

A subscription belongs to the organisation its system client is bound to; only clients of that
organisation see or delete it (anyone else: not found). It is told only of plans that organisation
may read, as the readable scope says at the finalization (`plans.repository.readable_by`, the
rule every read passes through). The notification names the plan and nothing else ("id-only",
the R4 form of the Subscriptions R5 Backport IG: a `history` Bundle with a status Parameters and
the CarePlan's address); the receiver reads the CarePlan with its own token, so the read is
checked and audited at that moment like any other, and nothing of the plan travels in a message
that may wait in the outbox for hours or be retried to an address that changed hands.

Notifications are queued in the finalization's own transaction (`usecases.run`): they exist only
if the finalization is committed, and the outbox sends them (`notify.service`: lease, retries,
SKIP LOCKED across processes), signed (`notify.webhooks`). Use cases here never commit.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import SystemPrincipal
from sip_service.kit import clock
from sip_service.models.identity import Organisation
from sip_service.models.notify import Channel, MessageKind, MessageStatus, OutboxMessage
from sip_service.models.plans import Plan
from sip_service.models.subscriptions import Subscription, SubscriptionStatus
from sip_service.notify import service as outbox
from sip_service.plans import repository as plans_repo

CRITERIA = "CarePlan?status=active"  # the one criteria served: a plan finalized (made active) again
TOPIC = "urn:sip-tjansten:fhir:SubscriptionTopic:careplan-finalized"
STATUS_PROFILE = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"
NOTIFICATION_PROFILE = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4"
)


@dataclass(frozen=True)
class NewSubscription:
    """A subscription as asked for, already checked (`http.fhir.subscriptions` reads the resource)."""

    criteria: str
    reason: str
    endpoint: str
    headers: Sequence[str]  # "Name: value"
    end_at: datetime | None


def create(
    session: AsyncSession, client: SystemPrincipal, new: NewSubscription, fhir_base: str, now: datetime
) -> tuple[Subscription, str]:
    """The subscription, owned by the client's organisation, and its signing secret (shown once)."""
    secret = secrets.token_urlsafe(32)
    subscription = Subscription(
        id=uuid.uuid4(),
        organisation_id=client.organisation_id,
        client_id=client.client_id,
        criteria=new.criteria,
        reason=new.reason,
        endpoint=new.endpoint,
        headers=list(new.headers),
        secret=secret,
        fhir_base=fhir_base,
        status=SubscriptionStatus.ACTIVE,
        events=0,
        created_at=now,
    )
    session.add(subscription)
    return subscription, secret


def _own(client: SystemPrincipal) -> ColumnElement[bool]:
    return and_(Subscription.organisation_id == client.organisation_id, Subscription.deleted_at.is_(None))


async def own(session: AsyncSession, client: SystemPrincipal, subscription_id: uuid.UUID) -> Subscription | None:
    """The organisation's subscription; None for anyone else's, a deleted one, or none at all."""
    stmt = select(Subscription).where(Subscription.id == subscription_id, _own(client))
    return (await session.scalars(stmt)).one_or_none()


async def all_own(session: AsyncSession, client: SystemPrincipal) -> list[Subscription]:
    stmt = select(Subscription).where(_own(client)).order_by(Subscription.created_at, Subscription.id)
    return list(await session.scalars(stmt))


async def delete(session: AsyncSession, client: SystemPrincipal, subscription_id: uuid.UUID, now: datetime) -> bool:
    """Turn the organisation's subscription off: nothing more is queued, and what waits in the
    outbox is not sent. False when it is not theirs (or gone)."""
    subscription = await own(session, client, subscription_id)
    if subscription is None:
        return False
    subscription.deleted_at, subscription.status = now, SubscriptionStatus.OFF
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.subscription_id == subscription_id, OutboxMessage.status == MessageStatus.PENDING)
        .values(status=MessageStatus.FAILED, last_error=outbox.UNSUBSCRIBED)
    )
    return True


@dataclass(frozen=True)
class Told:
    """A notification queued: the record system that will learn of the plan (the audit's actor)."""

    reader: SystemPrincipal
    subscription_id: uuid.UUID


async def notify_finalized(session: AsyncSession, plan: Plan, now: datetime | None = None) -> list[Told]:
    """Queue a notification of the finalized `plan` for each live subscription whose organisation
    may read it now (one statement for all of them), in the caller's transaction."""
    now = now or clock.now()
    stmt = (
        select(Subscription, Organisation.hsa_id)
        .join(Organisation, Organisation.id == Subscription.organisation_id)
        .where(
            Subscription.deleted_at.is_(None),
            Subscription.criteria == CRITERIA,
            or_(Subscription.end_at.is_(None), Subscription.end_at > now),
        )
        .order_by(Subscription.created_at, Subscription.id)
    )
    found = [(sub, hsa_id) for sub, hsa_id in await session.execute(stmt)]
    if not found:
        return []
    readers = {
        sub.organisation_id: SystemPrincipal(sub.client_id, sub.organisation_id, hsa_id, sub.client_id, frozenset())
        for sub, hsa_id in found
    }
    today = now.astimezone(clock.STOCKHOLM).date()
    may = await plans_repo.readable_by(session, list(readers.values()), today, plan.id)
    allowed = {org for org, yes in zip(readers, may, strict=True) if yes}
    told = []
    for sub, hsa_id in found:
        if sub.organisation_id not in allowed:
            continue
        sub.events += 1
        outbox.enqueue(
            session,
            participant_id=None,
            meeting_id=None,
            subscription_id=sub.id,
            kind=MessageKind.PLAN_FINALIZED,
            channel=Channel.WEBHOOK,
            address=sub.endpoint,
            subject=f"CarePlan/{plan.id}",
            body=json.dumps(notification(sub, plan.id, now), separators=(",", ":"), ensure_ascii=False),
            now=now,
        )
        reader = SystemPrincipal(sub.client_id, sub.organisation_id, hsa_id, sub.client_id, frozenset())
        told.append(Told(reader, sub.id))
    return told


def notification(subscription: Subscription, plan_id: uuid.UUID, at: datetime) -> dict[str, object]:
    """The notification (id-only): a `history` Bundle, first the subscription's status as the
    Backport IG's R4 Parameters (this event's number and its focus, the CarePlan), then the
    CarePlan's address without the resource."""
    base = subscription.fhir_base
    care_plan = f"{base}/CarePlan/{plan_id}"
    number = str(subscription.events)
    instant = at.isoformat()
    status = {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{subscription.id}"}},
            {"name": "topic", "valueCanonical": TOPIC},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": number},
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": number},
                    {"name": "timestamp", "valueInstant": instant},
                    {"name": "focus", "valueReference": {"reference": care_plan}},
                ],
            },
        ],
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": instant,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{status['id']}",
                "resource": status,
                "request": {"method": "GET", "url": f"Subscription/{subscription.id}"},
                "response": {"status": "200"},
            },
            {
                "fullUrl": care_plan,
                "request": {"method": "PUT", "url": f"CarePlan/{plan_id}"},
                "response": {"status": "200"},
            },
        ],
    }
