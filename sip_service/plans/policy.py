"""Who may do what to a plan. Pure checks over a loaded plan; reads are scoped in the repository.

Written out for people in auth/ACCESS.md. An object the principal may not *see* is reported as
not found by the repository; these checks answer Forbidden for what they may see but not do.
"""

from __future__ import annotations

import uuid

from sip_service.auth.principal import (
    CitizenPrincipal,
    Principal,
    StaffPrincipal,
    SystemPrincipal,
    reading_organisation,
)
from sip_service.kit.errors import Forbidden
from sip_service.models.plans import Participant, ParticipantKind, Plan
from sip_service.plans.rules import PATIENT_SIDE


def require_staff(principal: Principal) -> StaffPrincipal:
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("only staff can do this")
    return principal


def require_system_writer(principal: Principal, resource_type: str) -> SystemPrincipal:
    """A record system whose token's scopes let it write this FHIR type (`system/<Type|*>.write`).
    The only thing a system client writes is a discharge notice (plans.service.discharge)."""
    if not (isinstance(principal, SystemPrincipal) and principal.may(resource_type, "write")):
        raise Forbidden(f"only a record system with the scope system/{resource_type}.write can do this")
    return principal


def participating_organisations(plan: Plan) -> set[object]:
    return {p.organisation_id for p in plan.participants if p.kind is ParticipantKind.STAFF}


def require_plan_staff(principal: Principal, plan: Plan) -> StaffPrincipal:
    """Staff of an organisation that takes part in the plan (or created it) may edit it."""
    staff = require_staff(principal)
    if staff.organisation_id != plan.created_by_org_id and staff.organisation_id not in participating_organisations(
        plan
    ):
        raise Forbidden("your organisation does not take part in this plan")
    return staff


def require_coordinator(principal: Principal, plan: Plan) -> StaffPrincipal:
    staff = require_staff(principal)
    if not any(p.staff_member_id == staff.staff_id and p.is_coordinator for p in plan.participants):
        raise Forbidden("only the plan's coordinator can do this")
    return staff


def patient_side_participant(principal: Principal, plan: Plan) -> Participant | None:
    """The participant through whom a citizen acts as the patient: themselves or as representative."""
    if not isinstance(principal, CitizenPrincipal):
        return None
    for p in plan.participants:
        if p.citizen_id == principal.citizen_id and p.kind in PATIENT_SIDE:
            return p
    return None


def require_patient_side(principal: Principal, plan: Plan) -> Participant:
    participant = patient_side_participant(principal, plan)
    if participant is None:
        raise Forbidden("only the patient or their legal representative can do this")
    return participant


def require_editor(principal: Principal, plan: Plan) -> Principal:
    """Plan content is edited by its staff, or by the patient side (their own goals)."""
    if isinstance(principal, StaffPrincipal):
        return require_plan_staff(principal, plan)
    require_patient_side(principal, plan)
    return principal


def is_own_care(principal: Principal, citizen_id: object, care_organisations: set[uuid.UUID]) -> bool:
    """The person themselves, or staff (or a system client) of an organisation that has them as its own patient."""
    if isinstance(principal, CitizenPrincipal):
        return principal.citizen_id == citizen_id
    org = reading_organisation(principal)
    return org is not None and org in care_organisations


def sees_personal_number(principal: Principal, citizen_id: object, care_organisations: set[uuid.UUID]) -> bool:
    return is_own_care(principal, citizen_id, care_organisations)


def sees_contact(
    principal: Principal, citizen_id: object, protected_identity: bool, care_organisations: set[uuid.UUID]
) -> bool:
    """Protected identity (skyddad identitet) hides contact details from every other organisation."""
    if is_own_care(principal, citizen_id, care_organisations):
        return True
    return reading_organisation(principal) is not None and not protected_identity


def require_auditor(principal: Principal) -> StaffPrincipal:
    if not (isinstance(principal, StaffPrincipal) and principal.is_auditor):
        raise Forbidden("only auditors can review the audit trail")
    return principal
