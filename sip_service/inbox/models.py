"""What a staff member has seen of their inbox ("Att göra")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.inbox.rules import ItemKind
from sip_service.kit.db import Base, enum_column


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
