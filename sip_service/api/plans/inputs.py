"""GraphQL inputs of the plan mutations, and their translation into the use cases' own types."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import strawberry

from sip_service.api.plans.types import ActionOutcome, ActionStatus, ParticipantKind, RepresentativeKind, keep
from sip_service.plans import service
from sip_service.plans.attainment import Levels
from sip_service.plans.service import KEEP


@strawberry.input
class CreatePlanInput:
    patient_id: uuid.UUID
    background: str = ""
    follow_up_date: date | None = None
    discharge_ready_at: datetime | None = None
    allow_another_open_plan: bool = strawberry.field(
        default=False,
        description="Create the plan although the patient already has an open one (refused with "
        "OpenPlanExistsError unless this is true). Rarely right: usually carry on with the open plan.",
    )


@strawberry.input
class UpdatePlanInput:
    background: str | None = strawberry.UNSET
    follow_up_date: date | None = strawberry.UNSET
    discharge_ready_at: datetime | None = strawberry.UNSET


@strawberry.input
class NewCitizenInput:
    personal_number: str
    name: str
    phone: str | None = None
    email: str | None = None


@strawberry.input
class AddParticipantInput:
    kind: ParticipantKind  # type: ignore[valid-type]
    staff_member_id: uuid.UUID | None = None
    citizen_id: uuid.UUID | None = None
    new_citizen: NewCitizenInput | None = None
    external_name: str | None = None
    role: str = ""
    is_coordinator: bool = False
    representative_kind: RepresentativeKind | None = None  # type: ignore[valid-type]


@strawberry.input(
    description="A goal's scale (Goal Attainment Scaling), each level in plain words; leave a level out or empty "
    "where it is not described yet."
)
class GasLevelsInput:
    much_less: str | None = None
    less: str | None = None
    expected: str | None = None
    more: str | None = None
    much_more: str | None = None

    def levels(self) -> Levels:
        return Levels(self.much_less, self.less, self.expected, self.more, self.much_more)


@strawberry.input
class GoalInput:
    text: str
    expressed_by_id: uuid.UUID | None = strawberry.field(
        default=None, description="Staff say who expressed it; a patient's own goals are theirs."
    )
    target_date: date | None = None
    levels: GasLevelsInput | None = strawberry.field(default=None, description="The goal's scale, if known now.")


@strawberry.input
class UpdateGoalInput:
    text: str | None = strawberry.UNSET
    target_date: date | None = strawberry.UNSET
    levels: GasLevelsInput | None = strawberry.field(
        default=strawberry.UNSET, description="The goal's whole scale; a level left out is not described."
    )


@strawberry.input(description="Exactly one of responsibleOrganisationId and responsibleParticipantId.")
class ActionInput:
    description: str | None = strawberry.UNSET
    responsible_organisation_id: uuid.UUID | None = strawberry.UNSET
    responsible_participant_id: uuid.UUID | None = strawberry.UNSET
    responsible_person: str | None = strawberry.UNSET
    goal_id: uuid.UUID | None = strawberry.UNSET
    start_date: date | None = strawberry.UNSET
    due_date: date | None = strawberry.UNSET
    status: ActionStatus | None = strawberry.UNSET  # type: ignore[valid-type]


def action_details(i: ActionInput) -> service.ActionDetails:
    return service.ActionDetails(
        description=keep(i.description),
        responsible_org_id=keep(i.responsible_organisation_id),
        responsible_participant_id=keep(i.responsible_participant_id),
        responsible_person=keep(i.responsible_person),
        goal_id=keep(i.goal_id),
        start_date=keep(i.start_date),
        due_date=keep(i.due_date),
        status=KEEP if i.status is strawberry.UNSET or i.status is None else i.status,
    )


@strawberry.input
class ConsentInput:
    organisation_ids: list[uuid.UUID]
    valid_until: date | None = None
    exclusions: str = strawberry.field(default="", description="What must not be shared, in plain words.")
    given_by_id: uuid.UUID | None = strawberry.field(
        default=None, description="Staff recording an oral consent: the patient or representative who gave it."
    )


@strawberry.input(description="One goal at a follow-up.")
class GoalRatingInput:
    goal_id: uuid.UUID
    score: int | None = strawberry.field(
        description="-2 ... +2 against the expected level (0); null: explicitly not rated this time."
    )
    patient_words: str = strawberry.field(default="", description="How it went, in the patient's own words.")
    levels: GasLevelsInput | None = strawberry.field(
        default=None, description="Levels of the goal's scale to describe where none is described yet."
    )


@strawberry.input(description="What the follow-up decided about one planned or ongoing action.")
class ActionReviewInput:
    action_id: uuid.UUID
    outcome: ActionOutcome  # type: ignore[valid-type]
    note: str = ""


@strawberry.input(
    description="A follow-up: every goal of the plan rated (or explicitly not rated), every planned or ongoing "
    "action reviewed, and the next follow-up date."
)
class FollowUpInput:
    meeting_id: uuid.UUID | None = strawberry.field(
        default=None, description="The follow-up meeting of the plan; null when held without one in the service."
    )
    held_on: date = strawberry.field(description="The day it was held: today or earlier (its meeting's day).")
    next_follow_up_date: date = strawberry.field(description="After heldOn; becomes the plan's followUpDate.")
    ratings: list[GoalRatingInput]
    action_reviews: list[ActionReviewInput]
    summary: str = ""


def ratings(i: FollowUpInput) -> list[service.Rating]:
    return [
        service.Rating(r.goal_id, r.score, r.patient_words, r.levels.levels() if r.levels else Levels())
        for r in i.ratings
    ]


def reviews(i: FollowUpInput) -> list[service.Review]:
    return [service.Review(v.action_id, v.outcome, v.note) for v in i.action_reviews]
