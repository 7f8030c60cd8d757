"""The outbox: messages to send, written in the same transaction as what they tell about."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, enum_column, uuid_pk


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    WEBHOOK = "WEBHOOK"  # an HTTP POST to a record system's subscription (its endpoint is the address)


class MessageStatus(StrEnum):
    PENDING = "PENDING"  # to be sent (again) at next_attempt_at
    SENT = "SENT"
    FAILED = "FAILED"  # gave up after the last attempt


class MessageKind(StrEnum):
    INVITATION = "INVITATION"
    UPDATE = "UPDATE"  # the meeting was rescheduled
    CANCELLATION = "CANCELLATION"
    DIGEST = "DIGEST"  # a staff member's daily "Att göra" summary: counts only (inbox/digest.py)
    REPORT = "REPORT"  # a manager's monthly statistics: aggregates only (stats/report.py)
    PLAN_FINALIZED = "PLAN_FINALIZED"  # a subscription's notification: a plan's id only (notify/subscriptions.py)


class OutboxMessage(Base):
    """One message to one participant (about a meeting), to one staff member (their digest), or to
    one record system's subscription (a webhook: a plan was finalized). The body may hold a
    personal invite link (the raw token is in no other place): this row is how the link reaches
    its recipient."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint(
            "participant_id IS NOT NULL OR staff_member_id IS NOT NULL OR subscription_id IS NOT NULL", name="recipient"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    staff_member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    address: Mapped[str] = mapped_column(String(2000))  # e-mail, phone, or a webhook's URL
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attachment_filename: Mapped[str | None] = mapped_column(String(100))
    attachment_content_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
