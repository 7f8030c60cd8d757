"""GraphQL object types of a plan and its parts, with their field resolvers. No rules here: they live in
plans/. `aggregate` loads the whole plan through the request's loaders."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from sqlalchemy import inspect as sa_inspect
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.lazy_type import LazyType

from sip_service.api.context import Context
from sip_service.api.errors import (
    query_error,
)
from sip_service.api.identity import (
    CitizenType,
    OrganisationType,
    StaffMemberType,
    citizen,
    organisation,
    staff_member,
)
from sip_service.api.readiness import ReadinessType
from sip_service.kit.errors import NotFound
from sip_service.models import plans as models
from sip_service.plans import attainment, service
from sip_service.plans import repository as repo
from sip_service.plans.service import KEEP

PlanStatus = strawberry.enum(models.PlanStatus)
CloseReason = strawberry.enum(models.CloseReason)
ParticipantKind = strawberry.enum(models.ParticipantKind)
RepresentativeKind = strawberry.enum(models.RepresentativeKind)
ActionStatus = strawberry.enum(models.ActionStatus)
ConsentMethod = strawberry.enum(models.ConsentMethod)
AttentionReason = strawberry.enum(repo.Attention, name="AttentionReason")
ActionOutcome = strawberry.enum(models.ActionOutcome)
AttainmentLevel = strawberry.enum(
    attainment.Attainment,
    description="A goal's rating in words: MUCH_LESS (-2), LESS (-1), EXPECTED (0, what was hoped for), MORE (+1), "
    "MUCH_MORE (+2).",
)

WHOLE_PLAN = frozenset({"participants", "goals", "actions", "consents", "approvals", "meetings"})
# The type graph is cyclic (Plan.meetings, Meeting.plan); the module graph is not: api.meetings
# imports this module, and this one names MeetingType only through strawberry's lazy reference.
_MEETING_TYPE: LazyType[str, str] = LazyType("MeetingType", "sip_service.api.meetings")
if TYPE_CHECKING:
    MeetingRef = Any  # mypy cannot see through the lazy reference without importing api.meetings
else:
    MeetingRef = Annotated["MeetingType", strawberry.lazy("sip_service.api.meetings")]  # noqa: F821 (lazy)


def keep(value: Any) -> Any:
    """strawberry.UNSET (left out by the client) becomes the service's KEEP."""
    return KEEP if value is strawberry.UNSET else value


async def aggregate(info: Info[Context, None], plan_id: uuid.UUID) -> models.Plan:
    plan = await info.context.loaders.plan.load(plan_id)
    if plan is None:
        raise query_error(NotFound("Plan", plan_id))
    return plan


@strawberry.type(name="Participant")
class ParticipantType:
    """Plain fields, filled once from the row and the name joined to it: lists of participants
    are read on every page, and a plain field costs far less to resolve than a method."""

    _p: strawberry.Private[models.Participant]
    id: uuid.UUID
    kind: models.ParticipantKind
    name: str = strawberry.field(description="The person's or party's name.")
    role: str
    is_coordinator: bool
    wanted_by_patient: bool | None = strawberry.field(
        description="Relatives only: whether the patient wants them to take part (null: not decided)."
    )
    representative_kind: models.RepresentativeKind | None
    removed_at: datetime | None = strawberry.field(
        description="When they were removed from the plan; null while they take part."
    )

    def __init__(self, named: repo.NamedParticipant) -> None:
        p = self._p = named.participant
        self.id, self.kind, self.name, self.role = p.id, p.kind, named.name, p.role
        self.is_coordinator, self.wanted_by_patient, self.representative_kind = (
            p.is_coordinator,
            p.wanted_by_patient,
            p.representative_kind,
        )
        self.removed_at = p.removed_at

    @strawberry.field
    async def organisation(self, info: Info[Context, None]) -> OrganisationType | None:
        return await organisation(info, self._p.organisation_id)

    @strawberry.field
    async def staff_member(self, info: Info[Context, None]) -> StaffMemberType | None:
        return await staff_member(info, self._p.staff_member_id)

    @strawberry.field
    async def citizen(self, info: Info[Context, None]) -> CitizenType | None:
        return await citizen(info, self._p.citizen_id)

    @strawberry.field(description="The staff member who removed them from the plan.")
    async def removed_by(self, info: Info[Context, None]) -> StaffMemberType | None:
        return await staff_member(info, self._p.removed_by_staff_id)


@strawberry.type(
    name="GasLevels",
    description="A goal's scale (Goal Attainment Scaling, målskala): each level in plain words, null where not "
    "described yet. All five are described before the goal is rated.",
)
class GasLevelsType:
    much_less: str | None = strawberry.field(description="-2: much less than hoped for.")
    less: str | None = strawberry.field(description="-1: less than hoped for (often where the patient starts).")
    expected: str | None = strawberry.field(description="0: the expected level, what is hoped for.")
    more: str | None = strawberry.field(description="+1: more than hoped for.")
    much_more: str | None = strawberry.field(description="+2: much more than hoped for.")


@strawberry.type(name="GoalRating", description="A goal rated at a follow-up, with the patient's own words.")
class GoalRatingType:
    goal_id: uuid.UUID
    follow_up_id: uuid.UUID
    held_on: date = strawberry.field(description="The day of the follow-up.")
    score: int = strawberry.field(description="-2 ... +2 against the expected level (0).")
    attainment: AttainmentLevel = strawberry.field(description="The score in words.")  # type: ignore[valid-type]
    patient_words: str = strawberry.field(description="How it went, in the patient's own words.")

    def __init__(self, rating: models.GoalRating, follow_up: models.FollowUp) -> None:
        self.goal_id, self.follow_up_id, self.held_on = rating.goal_id, follow_up.id, follow_up.held_on
        self.score, self.attainment, self.patient_words = (
            rating.score,
            attainment.Attainment.of(rating.score),
            rating.patient_words,
        )


@strawberry.type(name="Goal", description="The patient's own goal, in their own words.")
class GoalType:
    _g: strawberry.Private[models.Goal]
    id: uuid.UUID
    text: str
    target_date: date | None
    expressed_by_id: uuid.UUID | None
    levels: GasLevelsType

    def __init__(self, goal: models.Goal) -> None:
        self._g = goal
        self.id, self.text, self.target_date, self.expressed_by_id = (
            goal.id,
            goal.text,
            goal.target_date,
            goal.expressed_by_id,
        )
        self.levels = GasLevelsType(
            much_less=goal.gas_much_less,
            less=goal.gas_less,
            expected=goal.gas_expected,
            more=goal.gas_more,
            much_more=goal.gas_much_more,
        )

    @strawberry.field(description="How it went: the goal's ratings at the plan's follow-ups, oldest first.")
    async def ratings(self, info: Info[Context, None]) -> list[GoalRatingType]:
        follow_ups = await info.context.loaders.follow_ups.load(self._g.plan_id) or []
        return [GoalRatingType(r, f) for f in follow_ups for r in f.ratings if r.goal_id == self.id]


@strawberry.type(name="Action", description="An intervention (insats/åtgärd) and who is responsible.")
class ActionType:
    """Plain fields, filled once from the row (cheaper to resolve than one method per field)."""

    _a: strawberry.Private[models.Action]
    id: uuid.UUID
    description: str
    status: models.ActionStatus
    responsible_participant_id: uuid.UUID | None
    responsible_person: str | None
    goal_id: uuid.UUID | None
    start_date: date | None
    due_date: date | None

    def __init__(self, action: models.Action) -> None:
        a = self._a = action
        self.id, self.description, self.status = a.id, a.description, a.status
        self.responsible_participant_id, self.responsible_person = a.responsible_participant_id, a.responsible_person
        self.goal_id, self.start_date, self.due_date = a.goal_id, a.start_date, a.due_date

    @strawberry.field
    async def responsible_organisation(self, info: Info[Context, None]) -> OrganisationType | None:
        return await organisation(info, self._a.responsible_org_id)


@strawberry.type(name="Consent")
class ConsentType:
    _c: strawberry.Private[models.Consent]

    def __init__(self, consent: models.Consent) -> None:
        self._c = consent

    @strawberry.field
    def id(self) -> uuid.UUID:
        return self._c.id

    @strawberry.field
    def method(self) -> ConsentMethod:  # type: ignore[valid-type]
        return self._c.method

    @strawberry.field
    def given_by_id(self) -> uuid.UUID:
        return self._c.given_by_id

    @strawberry.field
    async def recorded_by(self, info: Info[Context, None]) -> StaffMemberType | None:
        return await staff_member(info, self._c.recorded_by_staff_id)

    @strawberry.field
    def given_at(self) -> datetime:
        return self._c.given_at

    @strawberry.field
    def valid_until(self) -> date | None:
        return self._c.valid_until

    @strawberry.field
    def exclusions(self) -> str:
        return self._c.exclusions

    @strawberry.field
    def withdrawn_at(self) -> datetime | None:
        return self._c.withdrawn_at

    @strawberry.field
    async def organisations(self, info: Info[Context, None]) -> list[OrganisationType]:
        orgs = await info.context.loaders.organisation.load_many([o.organisation_id for o in self._c.organisations])
        return [OrganisationType(o) for o in orgs if o is not None]


@strawberry.type(name="Approval")
class ApprovalType:
    plan_version: int
    approved_by_id: uuid.UUID
    approved_at: datetime


@strawberry.type(name="Revision", description="An immutable snapshot written when the plan was finalized.")
class RevisionType:
    _r: strawberry.Private[models.Revision]

    def __init__(self, revision: models.Revision) -> None:
        self._r = revision

    @strawberry.field
    def number(self) -> int:
        return self._r.number

    @strawberry.field
    def plan_version(self) -> int:
        return self._r.plan_version

    @strawberry.field
    def finalized_at(self) -> datetime:
        return self._r.finalized_at

    @strawberry.field
    async def finalized_by(self, info: Info[Context, None]) -> StaffMemberType | None:
        return await staff_member(info, self._r.finalized_by_staff_id)

    @strawberry.field
    def approved_at(self) -> datetime | None:
        return self._r.approved_at

    @strawberry.field
    def snapshot(self) -> JSON:
        return cast(JSON, self._r.snapshot)


@strawberry.type(name="ActionReview", description="What a follow-up decided about an action.")
class ActionReviewType:
    action_id: uuid.UUID
    outcome: models.ActionOutcome
    note: str


@strawberry.type(
    name="FollowUp",
    description="A follow-up of the plan: each goal rated with the patient, each open action reviewed.",
)
class FollowUpType:
    _f: strawberry.Private[models.FollowUp]
    id: uuid.UUID
    held_on: date
    due_on: date | None = strawberry.field(description="The plan's follow-up date when this was recorded.")
    next_follow_up_date: date | None
    summary: str
    recorded_at: datetime

    def __init__(self, follow_up: models.FollowUp) -> None:
        f = self._f = follow_up
        self.id, self.held_on, self.due_on, self.next_follow_up_date = f.id, f.held_on, f.due_on, f.next_follow_up_date
        self.summary, self.recorded_at = f.summary, f.recorded_at

    @strawberry.field
    async def recorded_by(self, info: Info[Context, None]) -> StaffMemberType | None:
        return await staff_member(info, self._f.recorded_by_staff_id)

    @strawberry.field(description="The follow-up meeting; null when it was held without one in the service.")
    async def meeting(self, info: Info[Context, None]) -> MeetingRef | None:
        if self._f.meeting_id is None:
            return None
        plan = await aggregate(info, self._f.plan_id)
        found = next((m for m in plan.meetings if m.id == self._f.meeting_id), None)
        return None if found is None else _MEETING_TYPE.resolve_type()(found)

    @strawberry.field(description="The goals rated (a goal not rated this time is not here).")
    def ratings(self) -> list[GoalRatingType]:
        return [GoalRatingType(r, self._f) for r in self._f.ratings]

    @strawberry.field
    def action_reviews(self) -> list[ActionReviewType]:
        return [ActionReviewType(action_id=a.action_id, outcome=a.outcome, note=a.note) for a in self._f.action_reviews]


@strawberry.type(name="Plan", description="A coordinated individual plan (samordnad individuell plan).")
class PlanType:
    """Made only from plans read through the principal's readable scope (or just written by them)."""

    _plan: strawberry.Private[models.Plan]
    id: uuid.UUID
    version: int = strawberry.field(description="Pass this as expectedVersion when you change the plan.")
    status: models.PlanStatus
    background: str
    follow_up_date: date | None
    discharge_ready_at: datetime | None = strawberry.field(
        description="When hospital care said the patient is ready for discharge."
    )
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None
    closed_at: datetime | None
    close_reason: models.CloseReason | None
    relatives_decided_at: datetime | None

    def __init__(self, plan: models.Plan) -> None:
        # Plain fields, filled once: pages list many plans, and a plain field is cheap to resolve.
        p = self._plan = plan
        self.id, self.version, self.status, self.background = p.id, p.version, p.status, p.background
        self.follow_up_date, self.discharge_ready_at = p.follow_up_date, p.discharge_ready_at
        self.created_at, self.updated_at, self.finalized_at = p.created_at, p.updated_at, p.finalized_at
        self.closed_at, self.close_reason, self.relatives_decided_at = (
            p.closed_at,
            p.close_reason,
            p.relatives_decided_at,
        )

    async def _whole(self, info: Info[Context, None]) -> models.Plan:
        """The plan with all its parts: this one if it came loaded whole, else from the loader."""
        if not sa_inspect(self._plan).unloaded & WHOLE_PLAN:
            return self._plan
        return await aggregate(info, self._plan.id)

    @strawberry.field
    async def patient(self, info: Info[Context, None]) -> CitizenType:
        found = await citizen(info, self._plan.patient_id)
        assert found is not None
        return found

    @strawberry.field
    async def created_by_organisation(self, info: Info[Context, None]) -> OrganisationType:
        org = await organisation(info, self._plan.created_by_org_id)
        assert org is not None
        return org

    @strawberry.field
    async def overall_responsible_organisation(self, info: Info[Context, None]) -> OrganisationType | None:
        return await organisation(info, self._plan.overall_responsible_org_id)

    @strawberry.field(description="Those who take part now.")
    async def participants(self, info: Info[Context, None]) -> list[ParticipantType]:
        roster = await info.context.loaders.participants.load(self._plan.id)
        return [ParticipantType(p) for p in roster.current] if roster else []

    @strawberry.field(
        description="Those who took part and were removed. What they did stays in the plan's history "
        "(attendance, approvals, consent, goals, invitations name them by id); they no longer take part."
    )
    async def removed_participants(self, info: Info[Context, None]) -> list[ParticipantType]:
        roster = await info.context.loaders.participants.load(self._plan.id)
        return [ParticipantType(p) for p in roster.removed] if roster else []

    @strawberry.field
    async def goals(self, info: Info[Context, None]) -> list[GoalType]:
        return [GoalType(g) for g in (await self._whole(info)).goals]

    @strawberry.field
    async def actions(self, info: Info[Context, None]) -> list[ActionType]:
        return [ActionType(a) for a in (await self._whole(info)).actions]

    @strawberry.field(description="The consent in force now, if any.")
    async def consent(self, info: Info[Context, None]) -> ConsentType | None:
        found = service.active_consent(await self._whole(info), info.context.today)
        return ConsentType(found) if found else None

    @strawberry.field(description="Every consent given for this plan, oldest first.")
    async def consents(self, info: Info[Context, None]) -> list[ConsentType]:
        return [ConsentType(c) for c in (await self._whole(info)).consents]

    @strawberry.field(description="The patient's approval of this version, if given.")
    async def approval(self, info: Info[Context, None]) -> ApprovalType | None:
        plan = await self._whole(info)
        for a in plan.approvals:
            if a.plan_version == plan.version:
                return ApprovalType(
                    plan_version=a.plan_version, approved_by_id=a.approved_by_id, approved_at=a.approved_at
                )
        return None

    @strawberry.field
    async def meetings(self, info: Info[Context, None]) -> list[MeetingRef]:
        meeting_type = _MEETING_TYPE.resolve_type()
        return [meeting_type(m) for m in (await self._whole(info)).meetings]

    @strawberry.field
    async def revisions(self, info: Info[Context, None]) -> list[RevisionType]:
        return [RevisionType(r) for r in await info.context.loaders.revisions.load(self._plan.id) or []]

    @strawberry.field(description="The plan's follow-ups, oldest first.")
    async def follow_ups(self, info: Info[Context, None]) -> list[FollowUpType]:
        return [FollowUpType(f) for f in await info.context.loaders.follow_ups.load(self._plan.id) or []]

    @strawberry.field(description="May the plan be finalized? If not, what stands in the way.")
    async def readiness(self, info: Info[Context, None]) -> ReadinessType:
        plan = await self._whole(info)
        orgs = await info.context.loaders.organisation.load_many(list(service.organisation_ids_of(plan)))
        kinds = {o.id: o.kind for o in orgs if o is not None}
        return ReadinessType.of(service.evaluate(plan, kinds, info.context.today))

    @strawberry.field(
        description="Ids of the participating organisations whose staff cannot see the plan yet: the patient's "
        "active consent does not cover them (all of them while there is none). Invitations to their staff wait "
        "until it does (delivery WAITING_FOR_CONSENT)."
    )
    async def organisations_awaiting_consent(self, info: Info[Context, None]) -> list[uuid.UUID]:
        return service.organisations_awaiting_consent(await self._whole(info), info.context.today)

    @strawberry.field(description="Why staff should look at this plan now.")
    async def attention(self, info: Info[Context, None]) -> list[AttentionReason]:  # type: ignore[valid-type]
        return service.attention(await self._whole(info), info.context.today)
