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
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from sip_service.api import readiness
from sip_service.api.identity import mask
from sip_service.api.meetings.types import delivery
from sip_service.auth.principal import Principal
from sip_service.meetings import invites
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.meetings import Attendance, Invitation, InviteLink, Meeting
from sip_service.models.notify import OutboxMessage
from sip_service.models.plans import (
    Action,
    ActionReview,
    Approval,
    Consent,
    ConsentOrganisation,
    FollowUp,
    Goal,
    GoalRating,
    Participant,
    Plan,
    Revision,
    participant_order,
)
from sip_service.plans import attainment, policy, rules, service

Alias = Any  # an ORM class or an aliased() one: its attributes are columns


@dataclass(frozen=True)
class Runtime:
    principal: Principal
    today: date
    variables: Mapping[str, Any]  # the request's, coerced (for arguments such as message(language))
    now: datetime
    plan: Any = None  # the facts of the plan being answered, for its parts (Computed.plan_facts)


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
def _follow_up_of(r: Alias, attr: str) -> ColumnElement[Any]:
    """An attribute of a goal rating's follow-up."""
    fu = aliased(FollowUp)
    return select(getattr(fu, attr)).where(fu.id == r.follow_up_id).scalar_subquery()


def _covered_by(consent: Alias, org: Alias) -> ColumnElement[bool]:
    co = aliased(ConsentOrganisation)
    return exists().where(co.consent_id == consent.id, co.organisation_id == org.id)


def _kinds_needed(plan: Alias, org: Alias) -> ColumnElement[bool]:
    """The organisations `service.organisation_ids_of` names: those taking part, and the overall responsible."""
    p = aliased(Participant)
    taking_part = select(p.organisation_id).where(p.plan_id == plan.id, p.removed_at.is_(None))
    return or_(org.id.in_(taking_part), org.id == plan.overall_responsible_org_id)


# (model, relationship attribute) → how its rows are found: the ORM's relationships (and the
# repository's loaders), written out so that they apply to aliases, in the same order, ids breaking ties.
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
    (Plan, "goals"): _by("plan_id", "created_at", "id")(Goal),
    (Plan, "actions"): _by("plan_id", "created_at", "id")(Action),
    (Plan, "consents"): _by("plan_id", "given_at", "id")(Consent),
    (Plan, "approvals"): _by("plan_id", "approved_at", "id")(Approval),
    (Plan, "meetings"): _by("plan_id", "starts_at", "id")(Meeting),
    (Plan, "revisions"): _by("plan_id", "number")(Revision),  # repository.revisions_of
    (Plan, "follow_ups"): _by("plan_id", "held_on", "recorded_at", "id")(FollowUp),  # repository.follow_ups_of
    (Plan, "organisation_kinds"): Relation(Organisation, _kinds_needed, lambda c: (c.id,)),
    (Consent, "organisations"): Relation(
        ConsentOrganisation, lambda p, c: c.consent_id == p.id, lambda c: (c.organisation_id,)
    ),
    # the organisations themselves, in the order of the consent's rows (by organisation id)
    (Consent, "covered"): Relation(Organisation, _covered_by, lambda c: (c.id,)),
    (Meeting, "invitations"): _by("meeting_id", "invited_at", "id")(Invitation),
    (Meeting, "attendances"): _by("meeting_id", "joined_at", "id")(Attendance),
    # every link of the meeting; which still work is invites.is_active's (as invites.active_links)
    (Meeting, "invite_links"): _by("meeting_id", "issued_at", "id")(InviteLink),
    # as notify.service.latest_by_participant: the invited person's messages about the meeting, the last one counts
    (Invitation, "messages"): Relation(
        OutboxMessage,
        lambda p, c: and_(c.meeting_id == p.meeting_id, c.participant_id == p.participant_id),
        lambda c: (c.created_at, c.id),
    ),
    (FollowUp, "ratings"): _by("follow_up_id", "created_at", "id")(GoalRating),
    (FollowUp, "action_reviews"): _by("follow_up_id", "action_id")(ActionReview),
    # a goal's ratings as GoalType.ratings lists them: the plan's follow-ups in order, then each one's
    (Goal, "ratings"): Relation(
        GoalRating,
        lambda p, c: c.goal_id == p.id,
        lambda c: (
            *(_follow_up_of(c, a) for a in ("held_on", "recorded_at", "id")),
            c.created_at,
            c.id,
        ),
    ),
    # as repository.care_organisations_of: the plans made for the person as patient (by whom)
    (Citizen, "care_plans"): Relation(Plan, lambda p, c: c.patient_id == p.id),
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
    """Computed in Python from the row's facts by the same function its resolver calls: a leaf value,
    or an object answered through `shape` (a type of `SHAPES`)."""

    facts: Facts
    compute: Callable[[Any, Runtime], Any]
    shape: str | None = None
    plan_facts: Facts | None = None  # facts of the plan it is part of, read once with the plan (rt.plan)


@dataclass(frozen=True)
class Pick:
    """One of the related rows (or none; `many`: a list of them), chosen in Python from the row's facts
    by the function its resolver calls, which returns facts of `relation` (the same rows, in order)."""

    relation: str
    target: str
    facts: Facts
    choose: Callable[[Any, Runtime], Any]
    many: bool = False


@dataclass(frozen=True)
class Json:
    """A JSON column, as it is stored."""

    attr: str


@dataclass(frozen=True)
class Same:
    """An object of another type made from the same row."""

    target: str


Field = Attr | Expr | Ref | Many | Computed | Pick | Same | Json


@dataclass(frozen=True)
class Get:
    """A field of a Python object (`SHAPES`): its value, or an object (or list) of another shape.
    `args`: the field's arguments, given to `get` by name when the request gives them (by variable)."""

    get: Callable[..., Any]
    shape: str | None = None
    many: bool = False
    args: tuple[str, ...] = ()


# Objects made in Python (the results of domain functions), field by field.
SHAPES: dict[str, dict[str, Get]] = {
    "Readiness": {"ready": Get(lambda r: r.ready), "blockers": Get(lambda r: r.blockers, "Blocker", many=True)},
    "Blocker": {
        "code": Get(lambda b: b.code),
        "message": Get(readiness.message, args=("language",)),
        "subject": Get(lambda b: b.subject, "BlockerSubject"),
    },
    "BlockerSubject": {"kind": Get(lambda s: s.kind), "id": Get(lambda s: s.id)},
    "Delivery": {
        name: Get(lambda d, attr=attr: getattr(d, attr))
        for name, attr in (
            ("status", "status"),
            ("channel", "channel"),
            ("fallback", "fallback"),
            ("attempts", "attempts"),
            ("lastError", "last_error"),
            ("nextAttemptAt", "next_attempt_at"),
            ("sentAt", "sent_at"),
        )
    },
}


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


# What `service.evaluate` (readiness) and `service.organisations_awaiting_consent` read of a plan.
_CONSENTS: Facts = {
    "consents": {
        "withdrawn_at": None,
        "replaced_at": None,
        "valid_until": None,
        "organisations": {"organisation_id": None},
    }
}
_AWAITING: Facts = {
    **_CONSENTS,
    "created_by_org_id": None,
    "participants": {"id": None, "kind": None, "organisation_id": None},
}
_READINESS: Facts = {
    **_CONSENTS,
    "version": None,
    "overall_responsible_org_id": None,
    "follow_up_date": None,
    "relatives_decided_at": None,
    "participants": {
        "id": None,
        "kind": None,
        "organisation_id": None,
        "wanted_by_patient": None,
        "is_coordinator": None,
    },
    "goals": {"id": None, "expressed_by_id": None},
    "actions": {"id": None, "responsible_org_id": None, "responsible_participant_id": None, "status": None},
    "meetings": {
        "purpose": None,
        "status": None,
        "attendances": {"participant_id": None},
        "invitations": {"participant_id": None},
    },
    "approvals": {"plan_version": None},
    "organisation_kinds": {"id": None, "kind": None},
}


def _readiness(plan: Any, rt: Runtime) -> rules.Readiness:
    needed = service.organisation_ids_of(plan)
    kinds = {o.id: o.kind for o in plan.organisation_kinds if o.id in needed}
    return service.evaluate(plan, kinds, rt.today)


def _approval(plan: Any, rt: Runtime) -> Any:
    """As PlanType.approval: the approval of this version."""
    return next((a for a in plan.approvals if a.plan_version == plan.version), None)


_MESSAGE: Facts = {attr: None for attr in ("status", "channel", "attempts", "last_error", "next_attempt_at", "sent_at")}


def _delivery(invitation: Any, rt: Runtime) -> Any:
    """As InvitationType.delivery: the last message, the participant's kind, waiting for consent."""
    plan = rt.plan
    kinds = {p.id: p.kind for p in plan.participants}  # not the removed: they keep their invitation
    waiting = invitation.participant_id in service.staff_awaiting_consent(plan, rt.today)
    message = invitation.messages[-1] if invitation.messages else None
    return delivery(message, invitation.channel, kinds.get(invitation.participant_id), waiting)


_CITIZEN: Facts = {"id": None, "protected_identity": None, "care_plans": {"created_by_org_id": None}}


def _care(c: Any) -> set[uuid.UUID]:
    return {p.created_by_org_id for p in c.care_plans}


def _personal_number(c: Any, rt: Runtime) -> str:
    shown = policy.sees_personal_number(rt.principal, c.id, _care(c))
    return str(c.personal_number if shown else mask(c.personal_number))


def _contact(attr: str) -> Callable[[Any, Runtime], Any]:
    def contact(c: Any, rt: Runtime) -> Any:
        return getattr(c, attr) if policy.sees_contact(rt.principal, c.id, c.protected_identity, _care(c)) else None

    return contact


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
            "readiness": Computed(_READINESS, _readiness, "Readiness"),
            "organisationsAwaitingConsent": Computed(
                _AWAITING, lambda p, rt: service.organisations_awaiting_consent(p, rt.today)
            ),
            "patient": Ref("patient_id", "Citizen"),
            "createdByOrganisation": Ref("created_by_org_id", "Organisation"),
            "overallResponsibleOrganisation": Ref("overall_responsible_org_id", "Organisation"),
            "participants": Many("participants", "Participant"),
            "removedParticipants": Many("removed_participants", "Participant"),
            "goals": Many("goals", "Goal"),
            "actions": Many("actions", "Action"),
            "consent": Pick("consents", "Consent", _CONSENTS, lambda p, rt: service.active_consent(p, rt.today)),
            "consents": Many("consents", "Consent"),
            "approval": Pick(
                "approvals", "Approval", {"version": None, "approvals": {"plan_version": None}}, _approval
            ),
            "meetings": Many("meetings", "Meeting"),
            "revisions": Many("revisions", "Revision"),
            "followUps": Many("follow_ups", "FollowUp"),
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
    # The personal number and contact details are masked per reader, as CitizenType masks them.
    "Citizen": ObjectType(
        Citizen,
        {
            **_attrs(id="id", name="name", protectedIdentity="protected_identity", language="language"),
            "personalNumber": Computed({**_CITIZEN, "personal_number": None}, _personal_number),
            "phone": Computed({**_CITIZEN, "phone": None}, _contact("phone")),
            "email": Computed({**_CITIZEN, "email": None}, _contact("email")),
        },
    ),
    "Goal": ObjectType(
        Goal,
        {
            **_attrs(id="id", text="text", targetDate="target_date", expressedById="expressed_by_id"),
            "levels": Same("GasLevels"),
            "ratings": Many("ratings", "GoalRating"),
        },
    ),
    "GasLevels": ObjectType(
        Goal,
        _attrs(
            muchLess="gas_much_less",
            less="gas_less",
            expected="gas_expected",
            more="gas_more",
            muchMore="gas_much_more",
        ),
    ),
    "GoalRating": ObjectType(
        GoalRating,
        {
            **_attrs(goalId="goal_id", followUpId="follow_up_id", score="score", patientWords="patient_words"),
            "heldOn": Expr(lambda r: _follow_up_of(r, "held_on"), FollowUp.__table__.c.held_on.type),
            "attainment": Computed({"score": None}, lambda r, rt: attainment.Attainment.of(r.score)),
        },
    ),
    "Action": ObjectType(
        Action,
        {
            **_attrs(
                id="id",
                description="description",
                status="status",
                responsiblePerson="responsible_person",
                responsibleParticipantId="responsible_participant_id",
                goalId="goal_id",
                startDate="start_date",
                dueDate="due_date",
            ),
            "responsibleOrganisation": Ref("responsible_org_id", "Organisation"),
        },
    ),
    "Consent": ObjectType(
        Consent,
        {
            **_attrs(
                id="id",
                method="method",
                givenById="given_by_id",
                givenAt="given_at",
                validUntil="valid_until",
                exclusions="exclusions",
                withdrawnAt="withdrawn_at",
            ),
            "recordedBy": Ref("recorded_by_staff_id", "StaffMember"),
            "organisations": Many("covered", "Organisation"),
        },
    ),
    "Approval": ObjectType(
        Approval, _attrs(planVersion="plan_version", approvedById="approved_by_id", approvedAt="approved_at")
    ),
    "Meeting": ObjectType(
        Meeting,
        {
            **_attrs(
                id="id",
                version="version",
                kind="kind",
                purpose="purpose",
                status="status",
                startsAt="starts_at",
                endsAt="ends_at",
                location="location",
                agenda="agenda",
            ),
            "invitations": Many("invitations", "Invitation"),
            "attendances": Many("attendances", "Attendance"),
            "inviteLinks": Pick(
                "invite_links",
                "InviteLinkStatus",
                {"invite_links": {"revoked_at": None, "expires_at": None}},
                lambda m, rt: [link for link in m.invite_links if invites.is_active(link, rt.now)],
                many=True,
            ),
        },
    ),
    "Invitation": ObjectType(
        Invitation,
        {
            **_attrs(participantId="participant_id", channel="channel", invitedAt="invited_at"),
            "delivery": Computed(
                {"channel": None, "participant_id": None, "messages": _MESSAGE},
                _delivery,
                "Delivery",
                plan_facts=_AWAITING,
            ),
        },
    ),
    "InviteLinkStatus": ObjectType(
        InviteLink,
        _attrs(
            participantId="participant_id",
            issuedAt="issued_at",
            validFrom="valid_from",
            expiresAt="expires_at",
            lastUsedAt="last_used_at",
        ),
    ),
    "Attendance": ObjectType(
        Attendance,
        {
            **_attrs(participantId="participant_id", method="method", joinedAt="joined_at", leftAt="left_at"),
            "attestedBy": Ref("attested_by_staff_id", "StaffMember"),
        },
    ),
    "Revision": ObjectType(
        Revision,
        {
            **_attrs(number="number", planVersion="plan_version", finalizedAt="finalized_at", approvedAt="approved_at"),
            "finalizedBy": Ref("finalized_by_staff_id", "StaffMember"),
            "snapshot": Json("snapshot"),
        },
    ),
    "FollowUp": ObjectType(
        FollowUp,
        {
            **_attrs(
                id="id",
                heldOn="held_on",
                dueOn="due_on",
                nextFollowUpDate="next_follow_up_date",
                summary="summary",
                recordedAt="recorded_at",
            ),
            "recordedBy": Ref("recorded_by_staff_id", "StaffMember"),
            "meeting": Ref("meeting_id", "Meeting"),
            "ratings": Many("ratings", "GoalRating"),
            "actionReviews": Many("action_reviews", "ActionReview"),
        },
    ),
    "ActionReview": ObjectType(ActionReview, _attrs(actionId="action_id", outcome="outcome", note="note")),
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


__all__ = [
    "RELATIONS",
    "SHAPES",
    "TYPES",
    "Computed",
    "Expr",
    "Get",
    "Json",
    "Many",
    "ObjectType",
    "Pick",
    "Ref",
    "Runtime",
    "Same",
]
