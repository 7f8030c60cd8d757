"""Discharge notices in: a hospital's "ready for discharge" (lag 2017:612), as a record system posted it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, enum_column, uuid_pk


class NoticeOutcome(StrEnum):
    STARTED = "STARTED"  # no open plan of the unit's: a discharge plan was started for the unit
    FLAGGED = "FLAGGED"  # the patient's open plan with the unit in it got the notice time


class DischargeNotice(Base):
    """One notice (a FHIR Task at /fhir/Task; its id is the Task's). The same notice posted again
    (the same identifier from the same organisation's systems) is this row: the unique key makes a
    repeat, or two posts at once, one thing."""

    __tablename__ = "discharge_notices"
    __table_args__ = (
        # named here: the naming convention's name would be longer than PostgreSQL's 63 characters
        UniqueConstraint(
            "poster_org_id", "identifier_system", "identifier_value", name="uq_discharge_notices_poster_identifier"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    poster_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))  # the client's bound organisation
    client_id: Mapped[str] = mapped_column(String(200))  # which of its systems posted it
    identifier_system: Mapped[str] = mapped_column(String(300))  # Task.identifier, as the poster names it
    identifier_value: Mapped[str] = mapped_column(String(200))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id"))
    unit_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))  # Task.owner: the primary-care unit
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)  # Task.focus
    outcome: Mapped[NoticeOutcome] = mapped_column(enum_column(NoticeOutcome))
    ready_at: Mapped[datetime]  # ready for discharge (Task.authoredOn, else when it came): the 3-day clock
    intent: Mapped[str] = mapped_column(String(32))  # Task.intent, as posted
    received_at: Mapped[datetime]
