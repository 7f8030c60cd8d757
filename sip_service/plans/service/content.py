"""Content use cases: the patient's goals and the actions. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import Forbidden, Invalid
from sip_service.models.plans import (
    Action,
    ActionStatus,
    Goal,
    ParticipantKind,
    Plan,
)
from sip_service.plans import policy
from sip_service.plans.attainment import Levels
from sip_service.plans.service.common import (
    KEEP,
    MAX_NAME,
    Keep,
    child_in,
    editable_plan,
    participant_in,
    plan_of,
    touch,
)
from sip_service.plans.service.followup import clean_levels, set_levels


async def add_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    expected_version: int,
    *,
    goal_text: str,
    expressed_by_id: uuid.UUID | None = None,
    target_date: date | None = None,
    levels: Levels | None = None,
) -> Goal:
    plan = await editable_plan(session, principal, plan_id, expected_version)
    policy.require_editor(principal, plan)
    own = policy.patient_side_participant(principal, plan)
    if own is not None:
        # The patient writes their own goals; they cannot put words in somebody else's mouth.
        expressed_by_id = own.id
    if expressed_by_id is None:
        raise Invalid("say who expressed the goal", field="expressedById")
    participant_in(plan, expressed_by_id)
    goal = Goal(
        text=text(goal_text, "text"), expressed_by_id=expressed_by_id, target_date=target_date, created_at=clock.now()
    )
    set_levels(goal, clean_levels(levels or Levels()))
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
    levels: Levels | Keep = KEEP,
) -> Goal:
    plan = await plan_of(session, principal, Goal, goal_id, expected_version)
    policy.require_editor(principal, plan)
    goal: Goal = child_in(plan.goals, "Goal", goal_id)
    if not isinstance(goal_text, Keep):
        goal.text = text(goal_text, "text")
    if not isinstance(target_date, Keep):
        goal.target_date = target_date
    if not isinstance(levels, Keep):
        # The goal's scale (Goal Attainment Scaling) as a whole: a level left empty is not described.
        set_levels(goal, clean_levels(levels))
    touch(plan)
    return goal


async def remove_goal(session: AsyncSession, principal: Principal, goal_id: uuid.UUID, expected_version: int) -> Plan:
    plan = await plan_of(session, principal, Goal, goal_id, expected_version)
    policy.require_editor(principal, plan)
    plan.goals.remove(child_in(plan.goals, "Goal", goal_id))
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
        party = participant_in(plan, action.responsible_participant_id)
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
            child_in(plan.goals, "Goal", d.goal_id)
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
    action: Action = child_in(plan.actions, "Action", action_id)
    _require_action_owner(principal, plan, action)
    _apply_action(plan, action, details)
    touch(plan)
    return action


async def remove_action(
    session: AsyncSession, principal: Principal, action_id: uuid.UUID, expected_version: int
) -> Plan:
    plan = await plan_of(session, principal, Action, action_id, expected_version)
    action: Action = child_in(plan.actions, "Action", action_id)
    _require_action_owner(principal, plan, action)
    plan.actions.remove(action)
    touch(plan)
    return plan
