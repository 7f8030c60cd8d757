"""What a staff member has seen of their inbox ("Att göra")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, enum_column


class ItemKind(StrEnum):
    NEW_PLAN = "NEW_PLAN"  # a plan I take part in that I have not opened since I was added
    ACTION = "ACTION"  # my organisation's planned or ongoing action, due soon or overdue
    MEETING = "MEETING"  # an upcoming meeting I am invited to
    TO_FINALIZE = "TO_FINALIZE"  # I coordinate; the patient approved this version and it is ready
    DISCHARGE = "DISCHARGE"  # after a discharge notice, a SIP meeting must be called within 3 days
    FOLLOW_UP_DUE = "FOLLOW_UP_DUE"  # the plan's follow-up date is near or past


class InboxRead(Base):
    """One staff member saw one item of their inbox, as it stood then (`stamp`).

    The subject is what the item is about: the plan, the action, the meeting, or, for a new plan,
    the staff member's own participation in it. An item whose stamp has moved on since (a meeting
    moved, a new version approved, an action now overdue) is new again."""

    __tablename__ = "inbox_reads"

    staff_member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[ItemKind] = mapped_column(enum_column(ItemKind), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(64), default="")
    read_at: Mapped[datetime]


class InboxDigest(Base):
    """The last daily e-mail digest of a staff member's inbox (inbox/digest.py): the day it was
    looked at (at most once a day), and the items it told of, so that the next one is sent only
    when something new has come."""

    __tablename__ = "inbox_digests"

    staff_member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date]  # in Stockholm
    checked_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]  # the last time one was sent (queued in the outbox)
    told: Mapped[list[str]] = mapped_column(JSON, default=list)  # keys of the new items it told of
