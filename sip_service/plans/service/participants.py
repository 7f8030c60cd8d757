"""Participant use cases: add (a person, staff or external party), remove, overall responsibility.
Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from sip_service.auth.principal import Principal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import Invalid, NotFound
from sip_service.models.identity import Citizen, Organisation, OrganisationKind, StaffMember
from sip_service.models.plans import (
    Participant,
    ParticipantKind,
    Plan,
    RepresentativeKind,
)
from sip_service.plans import policy, rules
from sip_service.plans import repository as repo
from sip_service.plans.service.common import MAX_NAME, editable_plan, participant_in, personal_number, plan_of, touch
from sip_service.plans.service.lifecycle import plan_facts


@dataclass
class NewCitizen:
    personal_number: str
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass
class NewParticipant:
    kind: ParticipantKind
    staff_member_id: uuid.UUID | None = None
    citizen_id: uuid.UUID | None = None
    citizen: NewCitizen | None = None
    external_name: str | None = None
    role: str = ""
    is_coordinator: bool = False
    representative_kind: RepresentativeKind | None = None


async def _citizen_for(session: AsyncSession, new: NewParticipant) -> Citizen:
    if (new.citizen_id is None) == (new.citizen is None):
        raise Invalid("give either an existing citizen or a new person's details", field="citizen")
    if new.citizen_id is not None:
        found = await session.get(Citizen, new.citizen_id)
        if found is None:
            raise NotFound("Citizen", new.citizen_id)
        return found
    assert new.citizen is not None
    number = personal_number(new.citizen.personal_number)
    existing = await identity_repo.citizen_by_personal_number(session, number)
    if existing is not None:
        return existing
    citizen = Citizen(
        id=uuid.uuid4(),
        personal_number=number,
        name=text(new.citizen.name, "name", max_len=MAX_NAME),
        phone=text(new.citizen.phone or "", "phone", max_len=32, required=False) or None,
        email=text(new.citizen.email or "", "email", max_len=254, required=False) or None,
    )
    session.add(citizen)
    return citizen


async def add_participant(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int, new: NewParticipant
) -> Participant:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_plan_staff(principal, plan)
    participant = Participant(
        kind=new.kind, role=text(new.role, "role", max_len=MAX_NAME, required=False), created_at=clock.now()
    )
    if new.kind is ParticipantKind.PATIENT:
        raise Invalid("the patient takes part from the start", field="kind")
    if new.is_coordinator and new.kind is not ParticipantKind.STAFF:
        raise Invalid("only staff can coordinate a plan", field="isCoordinator")
    if new.kind is ParticipantKind.STAFF:
        if new.staff_member_id is None:
            raise Invalid("choose the staff member", field="staffMemberId")
        member = await session.get(StaffMember, new.staff_member_id)
        if member is None:
            raise NotFound("StaffMember", new.staff_member_id)
        if any(p.staff_member_id == member.id for p in plan.participants):
            raise Invalid(f"{member.name} already takes part", field="staffMemberId")
        participant.staff_member_id = member.id
        participant.organisation_id = member.organisation_id
        participant.is_coordinator = new.is_coordinator
        participant.role = participant.role or member.title
    elif new.kind is ParticipantKind.EXTERNAL:
        participant.external_name = text(new.external_name or "", "externalName", max_len=MAX_NAME)
    else:
        citizen = await _citizen_for(session, new)
        if citizen.id == plan.patient_id:
            raise Invalid("the patient already takes part as the patient", field="citizen")
        if any(p.citizen_id == citizen.id for p in plan.participants):
            raise Invalid(f"{citizen.name} already takes part", field="citizen")
        participant.citizen_id = citizen.id
        if new.kind is ParticipantKind.REPRESENTATIVE:
            if new.representative_kind is None:
                raise Invalid(
                    "say what kind of representative (guardian, god man, förvaltare)", field="representativeKind"
                )
            participant.representative_kind = new.representative_kind
    plan.participants.append(participant)
    touch(plan)
    return participant


async def remove_participant(
    session: AsyncSession, principal: Principal, participant_id: uuid.UUID, expected_version: int
) -> Plan:
    """The participant no longer takes part: marked removed (when, by whom), never deleted, so
    that what they did stays in the plan's history (attendance, approvals, consent, goals,
    invitations). From now on they count for nothing: not for readiness, not for access (nor
    does their organisation, through them), and their invite links stop working. Refused where
    the plan cannot do without them (`rules.removal_refusal`)."""
    plan = await plan_of(session, principal, Participant, participant_id, expected_version)
    staff = policy.require_plan_staff(principal, plan)
    participant = participant_in(plan, participant_id)
    refusal = rules.removal_refusal(plan_facts(plan, {}, clock.today()), participant.id)
    if refusal is not None:
        raise rules.Refused(refusal)
    now = clock.now()
    participant.removed_at, participant.removed_by_staff_id = now, staff.staff_id
    # Out of the list of those who take part, as a reload would show it; the row is kept
    # (taken out this way, the list's delete-orphan cascade does not delete it).
    set_committed_value(plan, "participants", [p for p in plan.participants if p is not participant])
    await repo.end_participation(session, participant.id, now)
    touch(plan)
    return plan


async def set_overall_responsibility(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int, organisation_id: uuid.UUID
) -> Plan:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_plan_staff(principal, plan)
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("Organisation", organisation_id)
    if org.id not in policy.participating_organisations(plan):
        raise Invalid(f"{org.name} does not take part in the plan", field="organisationId")
    if org.kind is OrganisationKind.OTHER:
        raise Invalid("overall responsibility lies with a region or a municipality", field="organisationId")
    plan.overall_responsible_org_id = org.id
    touch(plan)
    return plan
