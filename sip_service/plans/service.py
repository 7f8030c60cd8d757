"""Plan use cases. Each takes the session of the caller's unit of work and never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from sip_service.auth.principal import Principal, StaffPrincipal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import Forbidden, Invalid, NotFound, VersionConflict
from sip_service.models.identity import Citizen, Organisation, OrganisationKind, StaffMember
from sip_service.models.meetings import MeetingPurpose, MeetingStatus
from sip_service.models.plans import (
    Action,
    ActionStatus,
    Approval,
    CloseReason,
    Consent,
    ConsentMethod,
    ConsentOrganisation,
    Goal,
    Participant,
    ParticipantKind,
    Plan,
    PlanStatus,
    RepresentativeKind,
    Revision,
)
from sip_service.plans import policy, rules
from sip_service.plans import repository as repo
from sip_service.plans.repository import FOLLOW_UP_WINDOW, Attention

MAX_NAME = 200


class Keep:
    """Marks an edit field the caller left out (as opposed to setting it to nothing)."""


KEEP = Keep()


# ---- input checks -------------------------------------------------------------------------


def personal_number(value: str) -> str:
    digits = value.replace("-", "").replace("+", "").strip()
    if len(digits) != 12 or not digits.isdigit():
        raise Invalid("a personal identity number has 12 digits (ÅÅÅÅMMDDNNNN)", field="personalNumber")
    return digits


def _check_version(kind: str, obj_id: uuid.UUID, actual: int, expected: int) -> None:
    if actual != expected:
        raise VersionConflict(kind, obj_id, expected, actual)


async def editable_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int) -> Plan:
    """Load a plan the principal can see, at the version they saw, that is still open."""
    plan = await repo.get_aggregate(session, principal, clock.today(), plan_id)
    _check_version("Plan", plan.id, plan.version, expected_version)
    if plan.status is PlanStatus.CLOSED:
        raise Invalid("the plan is closed and can no longer be changed")
    return plan


def touch(plan: Plan) -> None:
    """Record a content edit: the version moves on (so the approval no longer matches), and an
    ACTIVE plan goes into revision, which must be ready again before it is finalized."""
    if plan.status is PlanStatus.ACTIVE:
        plan.status = PlanStatus.REVISING
    plan.updated_at = clock.now()


def _participant(plan: Plan, participant_id: uuid.UUID) -> Participant:
    for p in plan.participants:
        if p.id == participant_id:
            return p
    raise NotFound("Participant", participant_id)


def _child(items: Sequence[Any], kind: str, item_id: uuid.UUID) -> Any:
    for item in items:
        if item.id == item_id:
            return item
    raise NotFound(kind, item_id)


async def plan_of(
    session: AsyncSession,
    principal: Principal,
    model: type[repo.PlanChild],
    object_id: uuid.UUID,
    expected_version: int,
) -> Plan:
    """The editable plan an object belongs to; not found if the principal cannot see that plan."""
    plan_id = await repo.plan_id_of(session, model, object_id)
    if plan_id is None:
        raise NotFound(model.__name__, object_id)
    try:
        return await editable_plan(session, principal, plan_id, expected_version)
    except NotFound:
        raise NotFound(model.__name__, object_id) from None


# ---- plan ---------------------------------------------------------------------------------


async def create_plan(
    session: AsyncSession,
    principal: Principal,
    *,
    patient_id: uuid.UUID,
    background: str = "",
    follow_up_date: date | None = None,
    discharge_ready_at: datetime | None = None,
    allow_another_open_plan: bool = False,
) -> Plan:
    """A new DRAFT plan, with the patient and the creating staff member (its coordinator).

    A patient normally has one open plan (`rules.another_open_plan`): a second one is refused
    (OPEN_PLAN_EXISTS, naming the open plan if the caller may see it) unless the caller says
    `allow_another_open_plan=True`, as the person can in the API, for every entry point alike.
    """
    staff = policy.require_staff(principal)
    if await session.get(Citizen, patient_id) is None:
        raise NotFound("Citizen", patient_id)
    if not allow_another_open_plan:
        open_plans = await repo.open_plans_of(session, principal, clock.today(), patient_id)
        refusal = rules.another_open_plan(open_plans, allowed=False)
        if refusal is not None:
            raise rules.Refused(refusal)
    member = await session.get(StaffMember, staff.staff_id)
    now = clock.now()
    plan = Plan(
        id=uuid.uuid4(),
        patient_id=patient_id,
        status=PlanStatus.DRAFT,
        background=text(background, "background", required=False),
        follow_up_date=follow_up_date,
        discharge_ready_at=discharge_ready_at,
        created_by_org_id=staff.organisation_id,
        created_by_staff_id=staff.staff_id,
        created_at=now,
        updated_at=now,
        participants=[
            Participant(kind=ParticipantKind.PATIENT, citizen_id=patient_id, role="Patient", created_at=now),
            Participant(
                kind=ParticipantKind.STAFF,
                staff_member_id=staff.staff_id,
                organisation_id=staff.organisation_id,
                role=member.title if member else "",
                is_coordinator=True,
                created_at=now,
            ),
        ],
        goals=[],
        actions=[],
        consents=[],
        approvals=[],
        revisions=[],
        meetings=[],
    )
    session.add(plan)
    return plan


@dataclass
class PlanEdits:
    background: str | Keep = KEEP
    follow_up_date: date | Keep | None = KEEP
    discharge_ready_at: datetime | Keep | None = KEEP


async def update_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int, edits: PlanEdits
) -> Plan:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_plan_staff(principal, plan)
    if not isinstance(edits.background, Keep):
        plan.background = text(edits.background, "background", required=False)
    if not isinstance(edits.follow_up_date, Keep):
        plan.follow_up_date = edits.follow_up_date
    if not isinstance(edits.discharge_ready_at, Keep):
        plan.discharge_ready_at = edits.discharge_ready_at
    touch(plan)
    return plan


# ---- participants -------------------------------------------------------------------------


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
    participant = _participant(plan, participant_id)
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


# ---- goals --------------------------------------------------------------------------------


async def add_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    expected_version: int,
    *,
    goal_text: str,
    expressed_by_id: uuid.UUID | None = None,
    target_date: date | None = None,
) -> Goal:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_editor(principal, plan)
    own = policy.patient_side_participant(principal, plan)
    if own is not None:
        # The patient writes their own goals; they cannot put words in somebody else's mouth.
        expressed_by_id = own.id
    if expressed_by_id is None:
        raise Invalid("say who expressed the goal", field="expressedById")
    _participant(plan, expressed_by_id)
    goal = Goal(
        text=text(goal_text, "text"), expressed_by_id=expressed_by_id, target_date=target_date, created_at=clock.now()
    )
    plan.goals.append(goal)
    touch(plan)
    return goal


async def update_goal(
    session: AsyncSession,
    principal: Principal,
    goal_id: uuid.UUID,
    expected_version: int,
    *,
    goal_text: str | Keep = KEEP,
    target_date: date | Keep | None = KEEP,
) -> Goal:
    plan = await plan_of(session, principal, Goal, goal_id, expected_version)
    policy.require_editor(principal, plan)
    goal: Goal = _child(plan.goals, "Goal", goal_id)
    if not isinstance(goal_text, Keep):
        goal.text = text(goal_text, "text")
    if not isinstance(target_date, Keep):
        goal.target_date = target_date
    touch(plan)
    return goal


async def remove_goal(session: AsyncSession, principal: Principal, goal_id: uuid.UUID, expected_version: int) -> Plan:
    plan = await plan_of(session, principal, Goal, goal_id, expected_version)
    policy.require_editor(principal, plan)
    plan.goals.remove(_child(plan.goals, "Goal", goal_id))
    touch(plan)
    return plan


# ---- actions ------------------------------------------------------------------------------


@dataclass
class ActionDetails:
    description: str | Keep = KEEP
    responsible_org_id: uuid.UUID | Keep | None = KEEP
    responsible_participant_id: uuid.UUID | Keep | None = KEEP
    responsible_person: str | Keep | None = KEEP
    goal_id: uuid.UUID | Keep | None = KEEP
    start_date: date | Keep | None = KEEP
    due_date: date | Keep | None = KEEP
    status: ActionStatus | Keep = KEEP


def _require_responsible_takes_part(plan: Plan, action: Action) -> None:
    if action.responsible_org_id is not None and action.responsible_org_id not in policy.participating_organisations(
        plan
    ):
        raise Invalid("the responsible organisation does not take part in the plan", field="responsibleOrganisationId")
    if action.responsible_participant_id is not None:
        party = _participant(plan, action.responsible_participant_id)
        if party.kind not in (ParticipantKind.EXTERNAL, ParticipantKind.RELATIVE):
            raise Invalid(
                "staff act through their organisation; name the organisation as responsible",
                field="responsibleParticipantId",
            )


def _apply_action(plan: Plan, action: Action, d: ActionDetails) -> None:
    if not isinstance(d.description, Keep):
        action.description = text(d.description, "description")
    if not isinstance(d.responsible_org_id, Keep):
        action.responsible_org_id = d.responsible_org_id
    if not isinstance(d.responsible_participant_id, Keep):
        action.responsible_participant_id = d.responsible_participant_id
    if not isinstance(d.responsible_person, Keep):
        action.responsible_person = (
            text(d.responsible_person or "", "responsiblePerson", max_len=MAX_NAME, required=False) or None
        )
    if not isinstance(d.goal_id, Keep):
        if d.goal_id is not None:
            _child(plan.goals, "Goal", d.goal_id)
        action.goal_id = d.goal_id
    if not isinstance(d.start_date, Keep):
        action.start_date = d.start_date
    if not isinstance(d.due_date, Keep):
        action.due_date = d.due_date
    if not isinstance(d.status, Keep):
        action.status = d.status
    # One responsible party that takes part: a participating organisation or a participant.
    if (action.responsible_org_id is None) == (action.responsible_participant_id is None):
        raise Invalid("give exactly one responsible party: an organisation or a participant", field="responsible")
    # Who is responsible must take part; a finished action keeps the party it had, even one who
    # has since been removed from the plan (history), until someone changes it or reopens it.
    responsible_changed = not (
        isinstance(d.responsible_org_id, Keep) and isinstance(d.responsible_participant_id, Keep)
    )
    if responsible_changed or action.status not in (ActionStatus.DONE, ActionStatus.CANCELLED):
        _require_responsible_takes_part(plan, action)
    if action.start_date and action.due_date and action.due_date < action.start_date:
        raise Invalid("the due date is before the start date", field="dueDate")


async def add_action(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, expected_version: int, details: ActionDetails
) -> Action:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_plan_staff(principal, plan)
    action = Action(description="", status=ActionStatus.PLANNED, created_at=clock.now())
    _apply_action(plan, action, details)
    plan.actions.append(action)
    touch(plan)
    return action


def _require_action_owner(principal: Principal, plan: Plan, action: Action) -> None:
    """An organisation's actions are edited by that organisation; others' by any plan staff."""
    staff = policy.require_plan_staff(principal, plan)
    if action.responsible_org_id is not None and action.responsible_org_id != staff.organisation_id:
        raise Forbidden("only the responsible organisation can change this action")


async def update_action(
    session: AsyncSession, principal: Principal, action_id: uuid.UUID, expected_version: int, details: ActionDetails
) -> Action:
    plan = await plan_of(session, principal, Action, action_id, expected_version)
    action: Action = _child(plan.actions, "Action", action_id)
    _require_action_owner(principal, plan, action)
    _apply_action(plan, action, details)
    touch(plan)
    return action


async def remove_action(
    session: AsyncSession, principal: Principal, action_id: uuid.UUID, expected_version: int
) -> Plan:
    plan = await plan_of(session, principal, Action, action_id, expected_version)
    action: Action = _child(plan.actions, "Action", action_id)
    _require_action_owner(principal, plan, action)
    plan.actions.remove(action)
    touch(plan)
    return plan


# ---- consent, relatives, approval ---------------------------------------------------------


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
        given_by = _participant(plan, given_by_id)
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
        if _participant(plan, rid).kind is not ParticipantKind.RELATIVE:
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


# ---- readiness, finalization, life cycle --------------------------------------------------


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
