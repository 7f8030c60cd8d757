"""Append-only audit events, hash-chained so that an edited or removed row is detectable."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, enum_column


class AuditAccess(StrEnum):
    READ = "READ"
    WRITE = "WRITE"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    # Position in the chain, given by the writer (who holds the chain lock), not by the database.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # STAFF | CITIZEN | SYSTEM
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    auth_method: Mapped[str] = mapped_column(String(16))
    access: Mapped[AuditAccess] = mapped_column(enum_column(AuditAccess))
    action: Mapped[str] = mapped_column(String(64))  # e.g. plan.read, addGoal
    plan_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # What else the reader asked for, where there is no plan: a statistics read's filter.
    detail: Mapped[str | None] = mapped_column(String(500))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
