"""Readiness, attention, finalization (with its revision snapshot), revision and closing. Never commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal, StaffPrincipal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.kit.errors import Invalid
from sip_service.models.identity import Citizen, Organisation, OrganisationKind, StaffMember
from sip_service.models.meetings import MeetingPurpose, MeetingStatus
from sip_service.models.plans import (
    ActionStatus,
    Approval,
    CloseReason,
    Participant,
    Plan,
    PlanStatus,
    Revision,
)
from sip_service.plans import events, policy, rules
from sip_service.plans.repository import FOLLOW_UP_WINDOW, Attention
from sip_service.plans.service.common import editable_plan, touch
from sip_service.plans.service.consent import active_consent, consented_organisations


def plan_facts(plan: Plan, org_kinds: dict[uuid.UUID, OrganisationKind], today: date) -> rules.PlanFacts:
    planning = [
        m for m in plan.meetings if m.purpose is MeetingPurpose.PLANNING and m.status is not MeetingStatus.CANCELLED
    ]
    return rules.PlanFacts(
        version=plan.version,
        participants=tuple(
            rules.ParticipantFacts(p.id, p.kind, p.organisation_id, p.wanted_by_patient, p.is_coordinator)
            for p in plan.participants
        ),
        organisation_kinds=org_kinds,
        consented_organisations=consented_organisations(plan, today),
        overall_responsible_org_id=plan.overall_responsible_org_id,
        goals=tuple(rules.GoalFacts(g.id, g.expressed_by_id) for g in plan.goals),
        actions=tuple(
            rules.ActionFacts(
                a.id, a.responsible_org_id, a.responsible_participant_id, a.status is not ActionStatus.DONE
            )
            for a in plan.actions
            if a.status is not ActionStatus.CANCELLED
        ),
        follow_up_date=plan.follow_up_date,
        attended=frozenset(a.participant_id for m in planning for a in m.attendances),
        invited=frozenset(i.participant_id for m in planning for i in m.invitations),
        relatives_decided=plan.relatives_decided_at is not None,
        approved_versions=frozenset(a.plan_version for a in plan.approvals),
    )


def organisation_ids_of(plan: Plan) -> set[uuid.UUID]:
    """Organisations readiness needs to know the kind of."""
    ids = {p.organisation_id for p in plan.participants if p.organisation_id is not None}
    if plan.overall_responsible_org_id is not None:
        ids.add(plan.overall_responsible_org_id)
    return ids


def evaluate(plan: Plan, org_kinds: dict[uuid.UUID, OrganisationKind], today: date) -> rules.Readiness:
    return rules.readiness(plan_facts(plan, org_kinds, today), today)


async def readiness(session: AsyncSession, plan: Plan) -> rules.Readiness:
    orgs = await identity_repo.by_ids(session, Organisation, list(organisation_ids_of(plan)))
    return evaluate(plan, {o.id: o.kind for o in orgs.values()}, clock.today())


def attention(plan: Plan, today: date) -> list[Attention]:
    """Why a plan needs staff attention; the same as `repository.attention_condition` in SQL."""
    live = [m for m in plan.meetings if m.status is not MeetingStatus.CANCELLED]
    out = []
    if plan.status is not PlanStatus.CLOSED and not live:
        out.append(Attention.NO_MEETING)
    if (
        plan.status is PlanStatus.ACTIVE
        and plan.follow_up_date is not None
        and plan.follow_up_date <= today + FOLLOW_UP_WINDOW
    ):
        out.append(Attention.FOLLOW_UP_DUE)
    if (
        plan.status is not PlanStatus.CLOSED
        and plan.discharge_ready_at is not None
        and not any(m.created_at >= plan.discharge_ready_at for m in live)
    ):
        out.append(Attention.DISCHARGE_MEETING_NOT_CALLED)
    if plan.status in (PlanStatus.DRAFT, PlanStatus.REVISING) and not any(
        a.plan_version == plan.version for a in plan.approvals
    ):
        out.append(Attention.AWAITING_PATIENT_APPROVAL)
    return out


async def _snapshot(session: AsyncSession, plan: Plan) -> dict[str, Any]:
    staff = await identity_repo.by_ids(
        session, StaffMember, [p.staff_member_id for p in plan.participants if p.staff_member_id]
    )
    citizens = await identity_repo.by_ids(session, Citizen, [p.citizen_id for p in plan.participants if p.citizen_id])
    orgs = await identity_repo.by_ids(session, Organisation, list(organisation_ids_of(plan)))

    def name(p: Participant) -> str:
        if p.staff_member_id:
            return staff[p.staff_member_id].name
        if p.citizen_id:
            return citizens[p.citizen_id].name
        return p.external_name or ""

    def org_name(org_id: uuid.UUID | None) -> str | None:
        return orgs[org_id].name if org_id in orgs else None

    consent = active_consent(plan, clock.today())
    return {
        "background": plan.background,
        "followUpDate": plan.follow_up_date.isoformat() if plan.follow_up_date else None,
        "overallResponsibility": org_name(plan.overall_responsible_org_id),
        "participants": [
            {
                "id": str(p.id),
                "kind": p.kind.value,
                "name": name(p),
                "role": p.role,
                "organisation": org_name(p.organisation_id),
                "coordinator": p.is_coordinator,
                "wantedByPatient": p.wanted_by_patient,
            }
            for p in plan.participants
        ],
        "goals": [
            {"id": str(g.id), "text": g.text, "targetDate": g.target_date.isoformat() if g.target_date else None}
            for g in plan.goals
        ],
        "actions": [
            {
                "id": str(a.id),
                "description": a.description,
                "status": a.status.value,
                "responsibleOrganisation": org_name(a.responsible_org_id),
                "responsibleParticipant": str(a.responsible_participant_id) if a.responsible_participant_id else None,
                "responsiblePerson": a.responsible_person,
                "goal": str(a.goal_id) if a.goal_id else None,
                "startDate": a.start_date.isoformat() if a.start_date else None,
                "dueDate": a.due_date.isoformat() if a.due_date else None,
            }
            for a in plan.actions
        ],
        "consent": None
        if consent is None
        else {
            "method": consent.method.value,
            "givenAt": consent.given_at.isoformat(),
            "organisations": sorted(org_name(o.organisation_id) or "" for o in consent.organisations),
            "validUntil": consent.valid_until.isoformat() if consent.valid_until else None,
            "exclusions": consent.exclusions,
        },
    }


async def finalize_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int) -> Plan:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    staff: StaffPrincipal = policy.require_coordinator(principal, plan)
    if plan.status is PlanStatus.ACTIVE:
        raise Invalid("the plan is already finalized")
    result = await readiness(session, plan)
    if not result.ready:
        raise rules.NotReady(result.blockers)
    approval = next(a for a in plan.approvals if a.plan_version == plan.version)
    number = (await session.scalar(select(func.max(Revision.number)).where(Revision.plan_id == plan.id)) or 0) + 1
    now = clock.now()
    session.add(
        Revision(
            plan_id=plan.id,
            number=number,
            plan_version=plan.version,
            snapshot=await _snapshot(session, plan),
            finalized_at=now,
            finalized_by_staff_id=staff.staff_id,
            approved_by_id=approval.approved_by_id,
            approved_at=approval.approved_at,
        )
    )
    plan.status, plan.finalized_at, plan.updated_at = PlanStatus.ACTIVE, now, now
    events.note_finalized(session, plan.id)  # record systems' subscriptions are told (usecases.run)
    # Finalizing changes the status, not the content: the approval carries over to the version
    # the status change makes, so an ACTIVE plan does not read as unapproved.
    plan.approvals.append(
        Approval(
            plan_version=plan.version + 1, approved_by_id=approval.approved_by_id, approved_at=approval.approved_at
        )
    )
    return plan


async def revise_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int) -> Plan:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_plan_staff(principal, plan)
    if plan.status is not PlanStatus.ACTIVE:
        raise Invalid("only a finalized (active) plan can be revised")
    touch(plan)
    return plan


async def close_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int, reason: CloseReason
) -> Plan:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_coordinator(principal, plan)
    if reason is CloseReason.CONSENT_WITHDRAWN:
        raise Invalid("record the withdrawal of consent instead; that closes the plan", field="reason")
    now = clock.now()
    plan.status, plan.close_reason, plan.closed_at, plan.updated_at = PlanStatus.CLOSED, reason, now, now
    return plan
