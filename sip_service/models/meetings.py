"""Meetings of a plan: scheduling, one invitation per participant, attendance, invite links."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sip_service.kit.db import Base, enum_column, uuid_pk


class MeetingKind(StrEnum):
    VIDEO = "VIDEO"
    IN_PERSON = "IN_PERSON"
    HYBRID = "HYBRID"


class MeetingPurpose(StrEnum):
    PLANNING = "PLANNING"
    FOLLOW_UP = "FOLLOW_UP"


class MeetingStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class InvitationChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    LETTER = "LETTER"
    IN_PERSON = "IN_PERSON"


class AttendanceMethod(StrEnum):
    MEDIA = "MEDIA"  # media from them arrived in a video meeting
    ATTESTED = "ATTESTED"  # a named staff member attests in-person presence


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MeetingKind] = mapped_column(enum_column(MeetingKind))
    purpose: Mapped[MeetingPurpose] = mapped_column(enum_column(MeetingPurpose), default=MeetingPurpose.PLANNING)
    status: Mapped[MeetingStatus] = mapped_column(enum_column(MeetingStatus), default=MeetingStatus.SCHEDULED)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(300), default="")
    agenda: Mapped[str] = mapped_column(Text, default="")
    created_by_staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)
    # The iCalendar SEQUENCE of the invitations sent: raised when the time changes or it is cancelled.
    sequence: Mapped[int] = mapped_column(default=0, server_default="0")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it as is)

    invitations: Mapped[list[Invitation]] = relationship(
        lazy="raise", order_by="[Invitation.invited_at, Invitation.id]", cascade="all, delete-orphan"
    )
    attendances: Mapped[list[Attendance]] = relationship(
        lazy="raise", order_by="[Attendance.joined_at, Attendance.id]", cascade="all, delete-orphan"
    )


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("meeting_id", "participant_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    channel: Mapped[InvitationChannel] = mapped_column(enum_column(InvitationChannel))
    invited_at: Mapped[datetime]
    invited_by_staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))


class Attendance(Base):
    __tablename__ = "attendances"

    id: Mapped[uuid.UUID] = uuid_pk()
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    method: Mapped[AttendanceMethod] = mapped_column(enum_column(AttendanceMethod))
    attested_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


class InviteLink(Base):
    """A personal link with which one participant without an account joins one meeting.

    Only the sha256 of the token is kept: a copy of the database does not let anyone in.
    """

    __tablename__ = "invite_links"

    id: Mapped[uuid.UUID] = uuid_pk()
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    issued_by_staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    valid_from: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Presence(StrEnum):
    WAITING = "WAITING"  # in the lobby, until a staff participant admits them
    IN_ROOM = "IN_ROOM"
    AWAY = "AWAY"  # left, dropped or removed


class MeetingAdmission(Base):
    """One participant's place in a video meeting: where they are now, and whether a staff
    participant has admitted them (kept when they drop, so that they rejoin without waiting;
    cleared when staff remove them)."""

    __tablename__ = "meeting_admissions"
    __table_args__ = (UniqueConstraint("meeting_id", "participant_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    presence: Mapped[Presence] = mapped_column(enum_column(Presence))
    admitted_at: Mapped[datetime | None]
    admitted_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    updated_at: Mapped[datetime]
