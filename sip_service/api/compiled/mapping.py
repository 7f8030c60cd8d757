"""What the compiler knows: GraphQL types over tables, field by field. A field not named here makes
its operation fall back to the strawberry path whole, so the schema can grow without this file.

Computed fields are the same pure functions the strawberry resolvers call (`plans.service`,
`plans.policy`), run on `Facts`: the attributes of the ORM aggregate those functions read, returned
by the same statement and given to them as plain objects of the same shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute

from sip_service.auth.principal import Principal
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.meetings import Attendance, Invitation, Meeting
from sip_service.models.plans import (
    Action,
    Approval,
    Consent,
    ConsentOrganisation,
    Goal,
    Participant,
    Plan,
    participant_order,
)
from sip_service.plans import service

Alias = Any  # an ORM class or an aliased() one: its attributes are columns


@dataclass(frozen=True)
class Runtime:
    principal: Principal
    today: date


@dataclass(frozen=True)
class Relation:
    """Rows of `model` that belong to a parent row, in the order the ORM (or repository) gives them."""

    model: type[Any]
    where: Callable[[Alias, Alias], ColumnElement[bool]]  # (parent, child)
    order_by: Callable[[Alias], tuple[ColumnElement[Any], ...]] = lambda c: ()


def _by(fk: str, *order: str) -> Callable[..., Any]:
    return lambda model: Relation(
        model,
        lambda parent, child: getattr(child, fk) == parent.id,
        lambda child: tuple(getattr(child, o) for o in order),
    )


# (model, relationship attribute) → how its rows are found: the ORM's relationships, written out
# so that they apply to aliases.
RELATIONS: dict[tuple[type[Any], str], Relation] = {
    (Plan, "participants"): Relation(
        Participant,
        lambda p, c: and_(c.plan_id == p.id, c.removed_at.is_(None)),
        participant_order,
    ),
    (Plan, "removed_participants"): Relation(
        Participant,
        lambda p, c: and_(c.plan_id == p.id, c.removed_at.is_not(None)),
        participant_order,
    ),
    (Plan, "goals"): _by("plan_id", "created_at")(Goal),
    (Plan, "actions"): _by("plan_id", "created_at")(Action),
    (Plan, "consents"): _by("plan_id", "given_at")(Consent),
    (Plan, "approvals"): _by("plan_id")(Approval),
    (Plan, "meetings"): _by("plan_id", "starts_at")(Meeting),
    (Consent, "organisations"): Relation(ConsentOrganisation, lambda p, c: c.consent_id == p.id),
    (Meeting, "invitations"): Relation(Invitation, lambda p, c: c.meeting_id == p.id),
    (Meeting, "attendances"): Relation(Attendance, lambda p, c: c.meeting_id == p.id),
}

# Facts: attribute → None (a column) or the facts of each related row.
Facts = Mapping[str, "Facts | None"]


# ---- GraphQL fields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attr:
    """A column of the type's table."""

    attr: str


@dataclass(frozen=True)
class Expr:
    """A value computed in SQL from the row (`column_type` says how it reads back)."""

    sql: Callable[[Alias], ColumnElement[Any]]
    column_type: Any


@dataclass(frozen=True)
class Ref:
    """One object of another type, by a foreign key of this row (null when the key is)."""

    fk: str
    target: str


@dataclass(frozen=True)
class Many:
    """The related rows (`RELATIONS`), as a list of another type."""

    relation: str
    target: str


@dataclass(frozen=True)
class Computed:
    """Computed in Python from the row's facts by the same function its resolver calls."""

    facts: Facts
    compute: Callable[[Any, Runtime], Any]


Field = Attr | Expr | Ref | Many | Computed


@dataclass(frozen=True)
class ObjectType:
    model: type[Any]
    fields: Mapping[str, Field]


def _attrs(**names: str) -> dict[str, Field]:
    return {graphql: Attr(attr) for graphql, attr in names.items()}


def _participant_name(p: Alias) -> ColumnElement[Any]:
    """As `repository.participants_of`: the staff member's, citizen's or external party's name."""
    staff, person = (cast(Any, x) for x in (StaffMember.__table__.alias(), Citizen.__table__.alias()))
    return func.coalesce(
        select(staff.c.name).where(staff.c.id == p.staff_member_id).scalar_subquery(),
        select(person.c.name).where(person.c.id == p.citizen_id).scalar_subquery(),
        p.external_name,
        "",
    )


_ATTENTION: Facts = {
    "status": None,
    "version": None,
    "follow_up_date": None,
    "discharge_ready_at": None,
    "meetings": {"status": None, "created_at": None},
    "approvals": {"plan_version": None},
}


def _attention(plan: Any, rt: Runtime) -> list[str]:
    return [a.value for a in service.attention(plan, rt.today)]


TYPES: dict[str, ObjectType] = {
    "Plan": ObjectType(
        Plan,
        {
            **_attrs(
                id="id",
                version="version",
                status="status",
                background="background",
                followUpDate="follow_up_date",
                dischargeReadyAt="discharge_ready_at",
                createdAt="created_at",
                updatedAt="updated_at",
                finalizedAt="finalized_at",
                closedAt="closed_at",
                closeReason="close_reason",
                relativesDecidedAt="relatives_decided_at",
            ),
            "attention": Computed(_ATTENTION, _attention),
            "patient": Ref("patient_id", "Citizen"),
            "createdByOrganisation": Ref("created_by_org_id", "Organisation"),
            "overallResponsibleOrganisation": Ref("overall_responsible_org_id", "Organisation"),
            "participants": Many("participants", "Participant"),
            "removedParticipants": Many("removed_participants", "Participant"),
        },
    ),
    "Participant": ObjectType(
        Participant,
        {
            **_attrs(
                id="id",
                kind="kind",
                role="role",
                isCoordinator="is_coordinator",
                wantedByPatient="wanted_by_patient",
                representativeKind="representative_kind",
                removedAt="removed_at",
            ),
            "name": Expr(_participant_name, Citizen.__table__.c.name.type),
            "organisation": Ref("organisation_id", "Organisation"),
            "staffMember": Ref("staff_member_id", "StaffMember"),
            "citizen": Ref("citizen_id", "Citizen"),
            "removedBy": Ref("removed_by_staff_id", "StaffMember"),
        },
    ),
    # The citizen's personal number and contact details are masked per reader: not known here yet.
    "Citizen": ObjectType(Citizen, _attrs(id="id", name="name", protectedIdentity="protected_identity")),
    "Organisation": ObjectType(Organisation, _attrs(id="id", name="name", kind="kind", hsaId="hsa_id", phone="phone")),
    "StaffMember": ObjectType(
        StaffMember, _attrs(id="id", name="name", title="title", hsaId="hsa_id", phone="phone", email="email")
    ),
}


def column(model: type[Any], attr: str) -> InstrumentedAttribute[Any]:
    found = getattr(model, attr, None)
    if not isinstance(found, InstrumentedAttribute) or not hasattr(found, "type"):
        raise KeyError(f"{model.__name__}.{attr} is not a column")
    return found


__all__ = ["RELATIONS", "TYPES", "Computed", "Expr", "Many", "ObjectType", "Ref", "Runtime", "uuid"]
