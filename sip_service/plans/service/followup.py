"""The follow-up use case: each goal rated with the patient (Goal Attainment Scaling), each open action
reviewed, the next follow-up date set. The checks are pure, in `plans.attainment`. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.kit.checks import text
from sip_service.kit.errors import NotFound
from sip_service.models.meetings import MeetingPurpose, MeetingStatus
from sip_service.models.plans import (
    ActionOutcome,
    ActionReview,
    ActionStatus,
    Approval,
    FollowUp,
    Goal,
    GoalRating,
    PlanStatus,
)
from sip_service.plans import attainment, policy
from sip_service.plans import repository as repo
from sip_service.plans.rules import Refused
from sip_service.plans.service.common import check_version, touch

MAX_LEVEL = 1000


@dataclass(frozen=True)
class Rating:
    """One goal at a follow-up: a score -2 ... +2 (None: explicitly not rated this time), the
    patient's own words, and levels of the goal's scale to describe where none is described yet."""

    goal_id: uuid.UUID
    score: int | None
    patient_words: str = ""
    levels: attainment.Levels = field(default_factory=attainment.Levels)


@dataclass(frozen=True)
class Review:
    action_id: uuid.UUID
    outcome: ActionOutcome
    note: str = ""


def levels_of(goal: Goal) -> attainment.Levels:
    return attainment.Levels(goal.gas_much_less, goal.gas_less, goal.gas_expected, goal.gas_more, goal.gas_much_more)


def clean_levels(levels: attainment.Levels) -> attainment.Levels:
    """Levels as input: trimmed, an empty one is not described."""

    def one(value: str | None, name: str) -> str | None:
        return text(value or "", name, max_len=MAX_LEVEL, required=False) or None

    return attainment.Levels(
        one(levels.much_less, "muchLess"),
        one(levels.less, "less"),
        one(levels.expected, "expected"),
        one(levels.more, "more"),
        one(levels.much_more, "muchMore"),
    )


def set_levels(goal: Goal, levels: attainment.Levels) -> None:
    goal.gas_much_less, goal.gas_less, goal.gas_expected, goal.gas_more, goal.gas_much_more = (
        levels.much_less,
        levels.less,
        levels.expected,
        levels.more,
        levels.much_more,
    )


async def record_follow_up(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    expected_version: int,
    *,
    held_on: date,
    next_follow_up_date: date,
    ratings: Sequence[Rating],
    reviews: Sequence[Review],
    meeting_id: uuid.UUID | None = None,
    summary: str = "",
) -> FollowUp:
    """Record a follow-up of an ACTIVE or REVISING plan, by staff who may edit it. Every goal is
    rated or explicitly not rated, every open action gets an outcome (DONE marks it done; CHANGED
    puts an ACTIVE plan into revision), and `next_follow_up_date` becomes the plan's follow-up date.
    All of it or nothing: a refusal (`Refused` with an `attainment.FollowUpRefusal`) writes nothing."""
    plan = await repo.get_aggregate(session, principal, clock.today(), plan_id)
    check_version("Plan", plan.id, plan.version, expected_version)
    staff = policy.require_plan_staff(principal, plan)
    goals = {g.id: g for g in plan.goals}
    actions = {a.id: a for a in plan.actions}
    for r in ratings:
        if r.goal_id not in goals:
            raise NotFound("Goal", r.goal_id)
    for v in reviews:
        if v.action_id not in actions:
            raise NotFound("Action", v.action_id)
    meeting = None
    if meeting_id is not None:
        meeting = next((m for m in plan.meetings if m.id == meeting_id), None)
        if meeting is None:
            raise NotFound("Meeting", meeting_id)
    history = await repo.follow_up_history(session, plan.id, meeting_id)
    ratings = [
        Rating(r.goal_id, r.score, text(r.patient_words, "patientWords", required=False), clean_levels(r.levels))
        for r in ratings
    ]
    facts = attainment.FollowUpFacts(
        status=plan.status,
        last_held_on=history.last_held_on,
        goals={g.id: levels_of(g) for g in plan.goals},
        open_actions=frozenset(a.id for a in plan.actions if a.status in (ActionStatus.PLANNED, ActionStatus.ONGOING)),
        closed_actions=frozenset(a.id for a in plan.actions if a.status in (ActionStatus.DONE, ActionStatus.CANCELLED)),
        meeting=None
        if meeting is None
        else attainment.MeetingFacts(
            meeting.id,
            follow_up=meeting.purpose is MeetingPurpose.FOLLOW_UP,
            cancelled=meeting.status is MeetingStatus.CANCELLED,
            day=meeting.starts_at.astimezone(clock.STOCKHOLM).date(),
            already_followed_up=history.meeting_followed_up,
        ),
    )
    entry = attainment.FollowUpEntry(
        held_on,
        next_follow_up_date,
        [attainment.RatingEntry(r.goal_id, r.score, r.levels) for r in ratings],
        [(v.action_id, v.outcome) for v in reviews],
    )
    refused = attainment.refusal(facts, entry, clock.today())
    if refused is not None:
        raise Refused(refused)

    now = clock.now()
    for r in ratings:
        goal = goals[r.goal_id]
        set_levels(goal, levels_of(goal).filled_from(r.levels))
    follow_up = FollowUp(
        plan_id=plan.id,
        meeting_id=meeting_id,
        held_on=held_on,
        due_on=plan.follow_up_date,
        next_follow_up_date=next_follow_up_date,
        summary=text(summary, "summary", required=False),
        recorded_by_staff_id=staff.staff_id,
        recorded_at=now,
        ratings=[
            GoalRating(goal_id=r.goal_id, score=r.score, patient_words=r.patient_words, created_at=now)
            for r in ratings
            if r.score is not None
        ],
        action_reviews=[
            ActionReview(action_id=v.action_id, outcome=v.outcome, note=text(v.note, "note", required=False))
            for v in reviews
        ],
    )
    session.add(follow_up)
    for v in reviews:
        if v.outcome is ActionOutcome.DONE:
            actions[v.action_id].status = ActionStatus.DONE
    plan.follow_up_date = next_follow_up_date
    if attainment.revises_plan(entry.reviews):
        touch(plan)  # ACTIVE → REVISING: the changed plan is approved and finalized again
    elif plan.status is PlanStatus.ACTIVE:
        # The plan stays in force: the follow-up was held with the patient, and it records what
        # happened and the next date, not a new plan. As at finalization, the patient's approval
        # carries over to the version this change makes, so an active plan does not read as
        # unapproved. (A REVISING plan's approval is voided, as by any edit.)
        plan.updated_at = now
        approval = next((a for a in plan.approvals if a.plan_version == plan.version), None)
        if approval is not None:
            plan.approvals.append(
                Approval(
                    plan_version=plan.version + 1,
                    approved_by_id=approval.approved_by_id,
                    approved_at=approval.approved_at,
                )
            )
    else:
        touch(plan)
    return follow_up
