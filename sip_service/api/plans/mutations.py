"""GraphQL mutations of plans: each hands one use case to `mutate` (the use-case runner) and shapes
its result or typed error."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import (
    AnyError,
    FollowUpRefusedError,
    OpenPlanExistsError,
    ParticipantNotRemovableError,
    capped,
    follow_up_refused,
    mutate,
    not_removable,
    open_plan_exists,
)
from sip_service.api.plans.inputs import (
    ActionInput,
    AddParticipantInput,
    ConsentInput,
    CreatePlanInput,
    FollowUpInput,
    GoalInput,
    UpdateGoalInput,
    UpdatePlanInput,
    action_details,
    ratings,
    reviews,
)
from sip_service.api.plans.types import ActionType, CloseReason, ConsentType, GoalType, ParticipantType, PlanType, keep
from sip_service.models import plans as models
from sip_service.plans import service
from sip_service.plans.attainment import Levels
from sip_service.plans.service import KEEP

PlanResult = Annotated[PlanType | AnyError, strawberry.union("PlanResult")]
CreatePlanResult = Annotated[PlanType | AnyError | OpenPlanExistsError, strawberry.union("CreatePlanResult")]
RecordFollowUpResult = Annotated[PlanType | AnyError | FollowUpRefusedError, strawberry.union("RecordFollowUpResult")]
RemoveParticipantResult = Annotated[
    PlanType | AnyError | ParticipantNotRemovableError, strawberry.union("RemoveParticipantResult")
]


@strawberry.type
class ParticipantAdded:
    plan: PlanType
    _plan_id: strawberry.Private[uuid.UUID]
    _participant_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def participant(self, info: Info[Context, None]) -> ParticipantType:
        roster = await info.context.loaders.participants.load(self._plan_id)
        named = roster.current if roster else []
        return next(ParticipantType(n) for n in named if n.participant.id == self._participant_id)


@strawberry.type
class GoalSaved:
    goal: GoalType
    plan: PlanType


@strawberry.type
class ActionSaved:
    action: ActionType
    plan: PlanType


@strawberry.type
class ConsentRecorded:
    consent: ConsentType
    plan: PlanType


ParticipantResult = Annotated[ParticipantAdded | AnyError, strawberry.union("ParticipantResult")]
GoalResult = Annotated[GoalSaved | AnyError, strawberry.union("GoalResult")]
ActionResult = Annotated[ActionSaved | AnyError, strawberry.union("ActionResult")]
ConsentResult = Annotated[ConsentRecorded | AnyError, strawberry.union("ConsentResult")]


def _plan(p: models.Plan) -> PlanType:
    return PlanType(p)


@strawberry.type
class PlanMutation:
    @strawberry.mutation
    async def create_plan(self, info: Info[Context, None], input: CreatePlanInput) -> CreatePlanResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: service.create_plan(
                s,
                p,
                patient_id=input.patient_id,
                background=input.background,
                follow_up_date=input.follow_up_date,
                discharge_ready_at=input.discharge_ready_at,
                allow_another_open_plan=input.allow_another_open_plan,
            ),
            _plan,
            open_plan_exists,
        )

    @strawberry.mutation
    async def update_plan(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, input: UpdatePlanInput
    ) -> PlanResult:
        edits = service.PlanEdits(
            background=KEEP if input.background in (strawberry.UNSET, None) else input.background,
            follow_up_date=keep(input.follow_up_date),
            discharge_ready_at=keep(input.discharge_ready_at),
        )
        p = info.context.principal
        return await mutate(info, lambda s: service.update_plan(s, p, plan_id, expected_version, edits), _plan)

    @strawberry.mutation
    async def add_participant(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, input: AddParticipantInput
    ) -> ParticipantResult:
        nc = input.new_citizen
        new = service.NewParticipant(
            kind=input.kind,
            staff_member_id=input.staff_member_id,
            citizen_id=input.citizen_id,
            citizen=service.NewCitizen(nc.personal_number, nc.name, nc.phone, nc.email) if nc else None,
            external_name=input.external_name,
            role=input.role,
            is_coordinator=input.is_coordinator,
            representative_kind=input.representative_kind,
        )
        p = info.context.principal
        return await mutate(
            info,
            lambda s: service.add_participant(s, p, plan_id, expected_version, new),
            lambda part: ParticipantAdded(plan=PlanType(part.plan), _plan_id=part.plan_id, _participant_id=part.id),
        )

    @strawberry.mutation(
        description="The participant no longer takes part (nor has access, nor a working invite link); what they "
        "did stays in the plan's history (see `removedParticipants`). Refused with "
        "ParticipantNotRemovableError where the plan cannot do without them yet."
    )
    async def remove_participant(
        self, info: Info[Context, None], participant_id: uuid.UUID, expected_version: int
    ) -> RemoveParticipantResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: service.remove_participant(s, p, participant_id, expected_version),
            _plan,
            not_removable,
        )

    @strawberry.mutation
    async def set_overall_responsibility(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, organisation_id: uuid.UUID
    ) -> PlanResult:
        p = info.context.principal
        return await mutate(
            info, lambda s: service.set_overall_responsibility(s, p, plan_id, expected_version, organisation_id), _plan
        )

    @strawberry.mutation
    async def add_goal(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, input: GoalInput
    ) -> GoalResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: _with_plan(
                s,
                plan_id,
                service.add_goal(
                    s,
                    p,
                    plan_id,
                    expected_version,
                    goal_text=input.text,
                    expressed_by_id=input.expressed_by_id,
                    target_date=input.target_date,
                    levels=input.levels.levels() if input.levels else None,
                ),
            ),
            lambda pair: GoalSaved(goal=GoalType(pair[1]), plan=PlanType(pair[0])),
        )

    @strawberry.mutation
    async def update_goal(
        self, info: Info[Context, None], goal_id: uuid.UUID, expected_version: int, input: UpdateGoalInput
    ) -> PlanResult:
        p = info.context.principal
        goal_text = KEEP if input.text in (strawberry.UNSET, None) else input.text
        return await mutate(
            info,
            lambda s: _plan_after(
                s,
                service.update_goal(
                    s,
                    p,
                    goal_id,
                    expected_version,
                    goal_text=goal_text,
                    target_date=keep(input.target_date),
                    levels=KEEP
                    if input.levels is strawberry.UNSET
                    else (input.levels.levels() if input.levels else Levels()),
                ),
            ),
            _plan,
        )

    @strawberry.mutation
    async def remove_goal(self, info: Info[Context, None], goal_id: uuid.UUID, expected_version: int) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.remove_goal(s, p, goal_id, expected_version), _plan)

    @strawberry.mutation
    async def add_action(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, input: ActionInput
    ) -> ActionResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: _with_plan(
                s, plan_id, service.add_action(s, p, plan_id, expected_version, action_details(input))
            ),
            lambda pair: ActionSaved(action=ActionType(pair[1]), plan=PlanType(pair[0])),
        )

    @strawberry.mutation
    async def update_action(
        self, info: Info[Context, None], action_id: uuid.UUID, expected_version: int, input: ActionInput
    ) -> PlanResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: _plan_after(s, service.update_action(s, p, action_id, expected_version, action_details(input))),
            _plan,
        )

    @strawberry.mutation
    async def remove_action(self, info: Info[Context, None], action_id: uuid.UUID, expected_version: int) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.remove_action(s, p, action_id, expected_version), _plan)

    @strawberry.mutation(
        description="Record a follow-up of an ACTIVE or REVISING plan (staff who may edit it): every goal rated with "
        "the patient on its scale (or explicitly not rated), every planned or ongoing action reviewed (DONE marks it "
        "done; CHANGED puts an ACTIVE plan into revision, to be approved and finalized again), and the next "
        "follow-up date, which becomes the plan's. Refused with FollowUpRefusedError; nothing is written then."
    )
    async def record_follow_up(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, input: FollowUpInput
    ) -> RecordFollowUpResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: _with_plan(
                s,
                plan_id,
                service.record_follow_up(
                    s,
                    p,
                    plan_id,
                    expected_version,
                    held_on=input.held_on,
                    next_follow_up_date=input.next_follow_up_date,
                    ratings=capped(ratings(input)),
                    reviews=capped(reviews(input)),
                    meeting_id=input.meeting_id,
                    summary=input.summary,
                ),
            ),
            lambda pair: PlanType(pair[0]),
            follow_up_refused,
        )

    @strawberry.mutation(description="The patient gives consent; or staff write down an oral consent.")
    async def record_consent(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, input: ConsentInput
    ) -> ConsentResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: _with_plan(
                s,
                plan_id,
                service.record_consent(
                    s,
                    p,
                    plan_id,
                    expected_version,
                    organisation_ids=capped(input.organisation_ids),
                    valid_until=input.valid_until,
                    exclusions=input.exclusions,
                    given_by_id=input.given_by_id,
                ),
            ),
            lambda pair: ConsentRecorded(consent=ConsentType(pair[1]), plan=PlanType(pair[0])),
        )

    @strawberry.mutation(description="Withdrawing consent stops all sharing at once and closes the plan.")
    async def withdraw_consent(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int
    ) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.withdraw_consent(s, p, plan_id, expected_version), _plan)

    @strawberry.mutation(description="The patient's own choice of relatives to take part; an empty list means none.")
    async def record_relatives_decision(
        self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int, relative_ids: list[uuid.UUID]
    ) -> PlanResult:
        p = info.context.principal
        return await mutate(
            info,
            lambda s: service.record_relatives_decision(s, p, plan_id, expected_version, capped(relative_ids)),
            _plan,
        )

    @strawberry.mutation(description="The patient (or representative) approves exactly this version.")
    async def approve_plan(self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.approve_plan(s, p, plan_id, expected_version), _plan)

    @strawberry.mutation(description="Make the plan ACTIVE; refused with the readiness blockers until it is ready.")
    async def finalize_plan(self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.finalize_plan(s, p, plan_id, expected_version), _plan)

    @strawberry.mutation(description="Start revising an ACTIVE plan; it must be ready again to be finalized.")
    async def revise_plan(self, info: Info[Context, None], plan_id: uuid.UUID, expected_version: int) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.revise_plan(s, p, plan_id, expected_version), _plan)

    @strawberry.mutation
    async def close_plan(
        self,
        info: Info[Context, None],
        plan_id: uuid.UUID,
        expected_version: int,
        reason: CloseReason,  # type: ignore[valid-type]
    ) -> PlanResult:
        p = info.context.principal
        return await mutate(info, lambda s: service.close_plan(s, p, plan_id, expected_version, reason), _plan)


async def _with_plan(session: Any, plan_id: uuid.UUID, made: Any) -> tuple[models.Plan, Any]:
    """Await a use case that makes a child, and hand back the (changed) plan beside it."""
    child = await made
    plan = await session.get(models.Plan, plan_id)
    return plan, child


async def _plan_after(session: Any, changed: Any) -> models.Plan:
    child = await changed
    plan: models.Plan = await session.get(models.Plan, child.plan_id)
    return plan
