"""The plan and what it is made of: participants, goals, actions, consent, approvals, revisions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    case,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sip_service.kit.db import Base, enum_column, uuid_pk

if TYPE_CHECKING:
    from sip_service.models.meetings import Meeting


class PlanStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    REVISING = "REVISING"
    CLOSED = "CLOSED"


class CloseReason(StrEnum):
    GOALS_MET = "GOALS_MET"
    NO_LONGER_NEEDED = "NO_LONGER_NEEDED"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    DECEASED = "DECEASED"
    MOVED = "MOVED"


class ParticipantKind(StrEnum):
    PATIENT = "PATIENT"
    STAFF = "STAFF"
    RELATIVE = "RELATIVE"
    REPRESENTATIVE = "REPRESENTATIVE"
    EXTERNAL = "EXTERNAL"


class RepresentativeKind(StrEnum):
    GUARDIAN = "GUARDIAN"
    GOD_MAN = "GOD_MAN"
    FORVALTARE = "FORVALTARE"


class ActionStatus(StrEnum):
    PLANNED = "PLANNED"
    ONGOING = "ONGOING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class ActionOutcome(StrEnum):
    """What a follow-up decided about an action."""

    DONE = "DONE"  # finished: the action is marked DONE
    CONTINUED = "CONTINUED"  # goes on as it is
    CHANGED = "CHANGED"  # the team will change it with the patient


class ConsentMethod(StrEnum):
    DIGITAL = "DIGITAL"
    ORAL = "ORAL"


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id"), index=True)
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus), default=PlanStatus.DRAFT, index=True)
    overall_responsible_org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    background: Mapped[str] = mapped_column(Text, default="")
    follow_up_date: Mapped[date | None]
    # "Ready for discharge" notice from hospital (lag 2017:612): a SIP meeting is due within 3 days.
    discharge_ready_at: Mapped[datetime | None]
    created_by_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    # None: started by a discharge notice (models.discharge), not by a staff member; the creating
    # organisation is then the unit the notice named, whose staff find it in their inbox.
    created_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finalized_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[CloseReason | None] = mapped_column(enum_column(CloseReason))
    relatives_decided_at: Mapped[datetime | None]
    # The participant (patient or representative) who decided; no foreign key, since
    # participants already point at plans and a cycle would need ALTER, which SQLite lacks.
    relatives_decided_by_id: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it as is)

    # Those who take part now. A removed participant stays in the table (their attendance,
    # approvals, goals and invitations are history) but is no longer in this list, so every rule
    # and check that walks it (readiness, policy, meetings, messages) leaves them out.
    participants: Mapped[list[Participant]] = relationship(
        lazy="raise",
        primaryjoin="and_(Participant.plan_id == Plan.id, Participant.removed_at.is_(None))",
        order_by=lambda: participant_order(Participant),
        foreign_keys="Participant.plan_id",
        back_populates="plan",
        cascade="all, delete-orphan",
    )
    goals: Mapped[list[Goal]] = relationship(
        lazy="raise", order_by="[Goal.created_at, Goal.id]", cascade="all, delete-orphan"
    )
    actions: Mapped[list[Action]] = relationship(
        lazy="raise", order_by="[Action.created_at, Action.id]", cascade="all, delete-orphan"
    )
    consents: Mapped[list[Consent]] = relationship(
        lazy="raise", order_by="[Consent.given_at, Consent.id]", cascade="all, delete-orphan"
    )
    approvals: Mapped[list[Approval]] = relationship(
        lazy="raise", order_by="[Approval.approved_at, Approval.id]", cascade="all, delete-orphan"
    )
    revisions: Mapped[list[Revision]] = relationship(
        lazy="raise", order_by="Revision.number", cascade="all, delete-orphan"
    )
    meetings: Mapped[list[Meeting]] = relationship(
        lazy="raise", order_by="[Meeting.starts_at, Meeting.id]", cascade="all, delete-orphan"
    )
    follow_ups: Mapped[list[FollowUp]] = relationship(
        lazy="raise", order_by="[FollowUp.held_on, FollowUp.recorded_at, FollowUp.id]", cascade="all, delete-orphan"
    )


def participant_order(p: Any) -> tuple[Any, ...]:
    """The order participants are listed in (`p`: the table or an alias of it): as they joined; of
    those who joined at once (a new plan's patient and its creator) the patient first, then by id,
    so that every list of them, however it is read, is the same."""
    return (p.created_at, case((p.kind == ParticipantKind.PATIENT, 0), else_=1), p.id)


class Participant(Base):
    __tablename__ = "participants"
    # One person takes part once at a time; someone removed may be added again (a new row, so
    # that each stint keeps its own history).
    __table_args__ = (
        Index(
            "uq_participants_plan_id_staff_member_id",
            "plan_id",
            "staff_member_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index(
            "uq_participants_plan_id_citizen_id",
            "plan_id",
            "citizen_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ParticipantKind] = mapped_column(enum_column(ParticipantKind))
    staff_member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    citizen_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("citizens.id"))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    # An external party without an account: Försäkringskassan, school, an NGO ...
    external_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200), default="")
    is_coordinator: Mapped[bool] = mapped_column(default=False)
    representative_kind: Mapped[RepresentativeKind | None] = mapped_column(enum_column(RepresentativeKind))
    # Relatives only: did the patient say they may take part? None until the patient decides.
    wanted_by_patient: Mapped[bool | None]
    created_at: Mapped[datetime]
    # Removed from the plan: no longer takes part, but the row and its history stay.
    removed_at: Mapped[datetime | None]
    removed_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))

    plan: Mapped[Plan] = relationship(lazy="raise", foreign_keys=[plan_id], back_populates="participants")


class Goal(Base):
    """The patient's own goal, in their own words."""

    __tablename__ = "goals"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    expressed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    target_date: Mapped[date | None]
    created_at: Mapped[datetime]
    # Goal Attainment Scaling ("målskala"): each level described in plain words, set with the goal
    # or at the latest at the first follow-up. A follow-up rates the goal on this scale.
    gas_much_less: Mapped[str | None] = mapped_column(Text)  # -2
    gas_less: Mapped[str | None] = mapped_column(Text)  # -1
    gas_expected: Mapped[str | None] = mapped_column(Text)  # 0, the expected level
    gas_more: Mapped[str | None] = mapped_column(Text)  # +1
    gas_much_more: Mapped[str | None] = mapped_column(Text)  # +2


class Action(Base):
    """An intervention (insats/åtgärd) and the one party responsible for it."""

    __tablename__ = "actions"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    # Exactly one of these: a participating organisation, or a participant (external party, relative).
    responsible_org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    responsible_participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    responsible_person: Mapped[str | None] = mapped_column(String(200))
    goal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("goals.id", ondelete="SET NULL"))
    start_date: Mapped[date | None]
    due_date: Mapped[date | None]
    status: Mapped[ActionStatus] = mapped_column(enum_column(ActionStatus), default=ActionStatus.PLANNED)
    created_at: Mapped[datetime]


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    given_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id"))
    method: Mapped[ConsentMethod] = mapped_column(enum_column(ConsentMethod))
    # Oral consent is written down by a named staff member.
    recorded_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    given_at: Mapped[datetime]
    valid_until: Mapped[date | None]
    exclusions: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None]
    # A newer consent replaces this one; only a consent neither withdrawn nor replaced is active.
    replaced_at: Mapped[datetime | None]

    organisations: Mapped[list[ConsentOrganisation]] = relationship(
        lazy="raise", order_by="ConsentOrganisation.organisation_id", cascade="all, delete-orphan"
    )


class ConsentOrganisation(Base):
    """An organisation the consent lets take part and share information."""

    __tablename__ = "consent_organisations"

    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)


class Approval(Base):
    """The patient's (or representative's) approval of one version of the plan."""

    __tablename__ = "approvals"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    plan_version: Mapped[int]
    approved_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id"))
    approved_at: Mapped[datetime]


class Revision(Base):
    """An immutable snapshot written at each finalization."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    plan_version: Mapped[int]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    finalized_at: Mapped[datetime]
    finalized_by_staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("participants.id"))
    approved_at: Mapped[datetime | None]


class FollowUp(Base):
    """A follow-up of the plan: the goals rated together with the patient, the actions reviewed."""

    __tablename__ = "follow_ups"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    # The follow-up meeting (purpose FOLLOW_UP, video or in person), or none when it was held in
    # person without a scheduled meeting.
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    held_on: Mapped[date]
    # The plan's follow-up date when this was recorded: was it on time?
    due_on: Mapped[date | None]
    next_follow_up_date: Mapped[date | None]
    summary: Mapped[str] = mapped_column(Text, default="")
    recorded_by_staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    recorded_at: Mapped[datetime]

    ratings: Mapped[list[GoalRating]] = relationship(
        lazy="raise", order_by="[GoalRating.created_at, GoalRating.id]", cascade="all, delete-orphan"
    )
    action_reviews: Mapped[list[ActionReview]] = relationship(
        lazy="raise", order_by="ActionReview.action_id", cascade="all, delete-orphan"
    )


class GoalRating(Base):
    """One goal rated at one follow-up, -2 ... +2 against the expected level, in the patient's words."""

    __tablename__ = "goal_ratings"
    __table_args__ = (
        UniqueConstraint("follow_up_id", "goal_id"),
        CheckConstraint("score BETWEEN -2 AND 2", name="score"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    follow_up_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True)
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    patient_words: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ActionReview(Base):
    """What one follow-up decided about one action."""

    __tablename__ = "action_reviews"

    follow_up_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("follow_ups.id", ondelete="CASCADE"), primary_key=True)
    action_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True)
    outcome: Mapped[ActionOutcome] = mapped_column(enum_column(ActionOutcome))
    note: Mapped[str] = mapped_column(Text, default="")
