"""Record systems' subscriptions (FHIR R4 `Subscription`, rest-hook): told when a plan is finalized."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, enum_column, uuid_pk


class SubscriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"  # notifications are queued and sent
    ERROR = "ERROR"  # the last notification was given up after its last attempt; the next one still goes
    OFF = "OFF"  # deleted by its organisation: nothing more is queued or sent


class Subscription(Base):
    """One record system's rest-hook, owned by the organisation its client is bound to. The secret
    signs each notification (HMAC-SHA256); it is shown once, when the subscription is made, and
    kept here because signing needs it. A deleted subscription is kept, OFF, for its messages'
    history; nobody reads it any more."""

    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = uuid_pk()
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(200))  # the client that made it (the audit's actor)
    criteria: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    endpoint: Mapped[str] = mapped_column(String(2000))
    headers: Mapped[list[str]] = mapped_column(JSON)  # "Name: value", sent with every notification
    secret: Mapped[str] = mapped_column(String(100))
    fhir_base: Mapped[str] = mapped_column(String(500))  # the /fhir the notifications' references point to
    status: Mapped[SubscriptionStatus] = mapped_column(enum_column(SubscriptionStatus))
    error: Mapped[str | None] = mapped_column(Text)
    end_at: Mapped[datetime | None]
    events: Mapped[int] = mapped_column(default=0)  # notifications queued so far (the event numbers)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
