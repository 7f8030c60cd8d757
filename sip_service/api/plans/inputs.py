"""GraphQL inputs of the plan mutations, and their translation into the use cases' own types."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import strawberry

from sip_service.api.plans.types import ActionStatus, ParticipantKind, RepresentativeKind, keep
from sip_service.plans import service
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


@strawberry.input
class GoalInput:
    text: str
    expressed_by_id: uuid.UUID | None = strawberry.field(
        default=None, description="Staff say who expressed it; a patient's own goals are theirs."
    )
    target_date: date | None = None


@strawberry.input
class UpdateGoalInput:
    text: str | None = strawberry.UNSET
    target_date: date | None = strawberry.UNSET


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
