"""Statistics: the steering groups (a region and a municipality looking at their joint figures) and
the monthly report each manager who asked for it has been sent."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, uuid_pk


class SteeringGroup(Base):
    """A joint steering group (e.g. *ledningsgrupp för samverkan*) of top-level organisations."""

    __tablename__ = "steering_groups"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))


class SteeringGroupMember(Base):
    """A care giver (a top-level organisation, no unit) in a steering group."""

    __tablename__ = "steering_group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("steering_groups.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)


class StatsReport(Base):
    """The last monthly statistics e-mail looked at for a manager: the month ('YYYY-MM') it was
    about, claimed in this row so that two processes send it once (stats/report.py)."""

    __tablename__ = "stats_reports"

    staff_member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7))
    sent_at: Mapped[datetime]
