"""Organisations, staff members and citizens (patients, relatives, representatives)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from sip_service.kit.db import Base, enum_column, uuid_pk


class OrganisationKind(StrEnum):
    REGION = "REGION"
    MUNICIPALITY = "MUNICIPALITY"
    OTHER = "OTHER"


class Language(StrEnum):
    """The language a citizen reads messages in (staff read Swedish)."""

    SV = "sv"
    EN = "en"


class Organisation(Base):
    """A care giver or unit. A health centre is a unit (parent: its region) of kind REGION."""

    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[OrganisationKind] = mapped_column(enum_column(OrganisationKind))
    name: Mapped[str] = mapped_column(String(200))
    hsa_id: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    phone: Mapped[str | None] = mapped_column(String(32))  # switchboard or reception


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[uuid.UUID] = uuid_pk()
    hsa_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Work contact details: given to the patients and relatives of the plans they take part in.
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    # No daily e-mail about their inbox ("Att göra"), though they have a work e-mail (inbox/digest.py).
    digest_opt_out: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A manager who asked for the monthly statistics e-mail (stats/report.py, setStatisticsReport).
    stats_report: Mapped[bool] = mapped_column(default=False, server_default=false())


class Citizen(Base):
    """A patient, relative or legal representative."""

    __tablename__ = "citizens"

    id: Mapped[uuid.UUID] = uuid_pk()
    personal_number: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    protected_identity: Mapped[bool] = mapped_column(default=False)
    language: Mapped[Language] = mapped_column(
        Enum(
            Language,
            native_enum=False,
            length=2,
            create_constraint=True,
            values_callable=lambda languages: [language.value for language in languages],
        ),
        default=Language.SV,
        server_default=Language.SV.value,
    )
