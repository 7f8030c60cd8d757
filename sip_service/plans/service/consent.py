"""Consent, the patient side's choice of relatives, and approval. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import Invalid, NotFound
from sip_service.models.identity import Organisation
from sip_service.models.plans import (
    Approval,
    CloseReason,
    Consent,
    ConsentMethod,
    ConsentOrganisation,
    ParticipantKind,
    Plan,
    PlanStatus,
)
from sip_service.plans import policy, rules
from sip_service.plans.service.common import editable_plan, participant_in, touch


def active_consent(plan: Plan, today: date) -> Consent | None:
    for c in reversed(plan.consents):
        if c.withdrawn_at is None and c.replaced_at is None and (c.valid_until is None or c.valid_until >= today):
            return c
    return None


def consented_organisations(plan: Plan, today: date) -> frozenset[uuid.UUID] | None:
    """The organisations the patient's active consent covers; None when there is none."""
    consent = active_consent(plan, today)
    return frozenset(o.organisation_id for o in consent.organisations) if consent is not None else None


def organisations_awaiting_consent(plan: Plan, today: date) -> list[uuid.UUID]:
    """Participating organisations whose staff wait for the patient's consent to cover them
    (`rules.awaiting_consent`), from the plan as loaded (participants, consents)."""
    return rules.awaiting_consent(
        (rules.ParticipantFacts(p.id, p.kind, p.organisation_id) for p in plan.participants),
        consented_organisations(plan, today),
        plan.created_by_org_id,
    )


def staff_awaiting_consent(plan: Plan, today: date) -> frozenset[uuid.UUID]:
    """Ids of the participating staff whose organisation awaits the patient's consent."""
    awaiting = set(organisations_awaiting_consent(plan, today))
    return frozenset(
        p.id for p in plan.participants if p.kind is ParticipantKind.STAFF and p.organisation_id in awaiting
    )


async def record_consent(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    expected_version: int,
    *,
    organisation_ids: Sequence[uuid.UUID],
    valid_until: date | None = None,
    exclusions: str = "",
    given_by_id: uuid.UUID | None = None,
) -> Consent:
    """Digitally by the patient side, or orally and written down by a named staff member."""
    plan = await editable_plan(session, principal, plan_id, expected_version)
    own = policy.patient_side_participant(principal, plan)
    if own is not None:
        given_by, method, recorder = own, ConsentMethod.DIGITAL, None
    else:
        staff = policy.require_plan_staff(principal, plan)
        if given_by_id is None:
            raise Invalid("say who gave the consent: the patient or their representative", field="givenById")
        given_by = participant_in(plan, given_by_id)
        if given_by.kind not in rules.PATIENT_SIDE:
            raise Invalid("only the patient or their legal representative can consent", field="givenById")
        method, recorder = ConsentMethod.ORAL, staff.staff_id
    orgs = list(dict.fromkeys(organisation_ids))
    if not orgs:
        raise Invalid("choose at least one organisation", field="organisationIds")
    found = await identity_repo.by_ids(session, Organisation, orgs)
    if missing := [o for o in orgs if o not in found]:
        raise NotFound("Organisation", missing[0])
    today, now = clock.today(), clock.now()
    if valid_until is not None and valid_until < today:
        raise Invalid("the consent would already have ended", field="validUntil")
    previous = active_consent(plan, today)
    if previous is not None:
        previous.replaced_at = now
    consent = Consent(
        given_by_id=given_by.id,
        method=method,
        recorded_by_staff_id=recorder,
        given_at=now,
        valid_until=valid_until,
        exclusions=text(exclusions, "exclusions", required=False),
        organisations=[ConsentOrganisation(organisation_id=o) for o in orgs],
    )
    plan.consents.append(consent)
    touch(plan)
    return consent


async def withdraw_consent(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int
) -> Plan:
    """Withdrawal stops sharing at once and closes the plan."""
    plan = await editable_plan(session, principal, plan_id, expected_version)
    if policy.patient_side_participant(principal, plan) is None:
        policy.require_plan_staff(principal, plan)  # staff may record an oral withdrawal
    now = clock.now()
    for c in plan.consents:
        if c.withdrawn_at is None:
            c.withdrawn_at = now
    plan.status, plan.close_reason, plan.closed_at, plan.updated_at = (
        PlanStatus.CLOSED,
        CloseReason.CONSENT_WITHDRAWN,
        now,
        now,
    )
    return plan


async def record_relatives_decision(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    expected_version: int,
    wanted_relative_ids: Sequence[uuid.UUID],
) -> Plan:
    """The patient's own choice of relatives (an empty list: none). Staff cannot make it for them."""
    plan = await editable_plan(session, principal, plan_id, expected_version)
    me = policy.require_patient_side(principal, plan)
    wanted = set(wanted_relative_ids)
    for rid in wanted:
        if participant_in(plan, rid).kind is not ParticipantKind.RELATIVE:
            raise Invalid("only relatives can be chosen here", field="relativeIds")
    for p in plan.participants:
        if p.kind is ParticipantKind.RELATIVE:
            p.wanted_by_patient = p.id in wanted
    plan.relatives_decided_at, plan.relatives_decided_by_id = clock.now(), me.id
    touch(plan)
    return plan


async def approve_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int) -> Plan:
    """Approve exactly the version the patient saw. It is not an edit, so the version stays."""
    plan = await editable_plan(session, principal, plan_id, expected_version)
    me = policy.require_patient_side(principal, plan)
    if plan.status is PlanStatus.ACTIVE:
        raise Invalid("the plan is already finalized; nothing waits for approval")
    if not any(a.plan_version == plan.version for a in plan.approvals):
        plan.approvals.append(Approval(plan_version=plan.version, approved_by_id=me.id, approved_at=clock.now()))
    return plan
