"""All SQL about plans. Every read goes through `readable_plans`, scoped to the principal."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from sip_service.auth.principal import CitizenPrincipal, Principal, reading_organisation
from sip_service.kit.errors import Invalid, NotFound
from sip_service.models.discharge import DischargeNotice
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import InviteLink, Meeting, MeetingAdmission, MeetingStatus, Presence
from sip_service.models.notify import MessageStatus, OutboxMessage
from sip_service.models.plans import (
    Action,
    Approval,
    Consent,
    ConsentOrganisation,
    FollowUp,
    Goal,
    Participant,
    ParticipantKind,
    Plan,
    PlanStatus,
    Revision,
    participant_order,
)
from sip_service.plans.rules import OpenPlan

PlanChild = Participant | Goal | Action | Meeting | Consent | Revision

# An id or a date in a condition: a value, or a parameter of a statement built once (`Day`, `reader`).
Id = uuid.UUID | ColumnElement[uuid.UUID]
Dated = date | ColumnElement[date]


@dataclass(frozen=True)
class Day:
    """The dates the rules compare with, in SQL: today and the last follow-up date that counts as
    due. `Day.of(today)` gives them as values (a statement built per request); `PARAMETERS` as
    parameters, for a statement built once and run with `Day.values(today)` (building the access
    rule and the queue's rank costs about half a millisecond; the statement itself, run, less)."""

    today: Dated
    follow_up_due_by: Dated

    @staticmethod
    def of(today: date) -> Day:
        return Day(today, today + FOLLOW_UP_WINDOW)

    @staticmethod
    def values(today: date) -> dict[str, date]:
        return {"today": today, "follow_up_due_by": today + FOLLOW_UP_WINDOW}


Reader = Literal["organisation", "citizen"]


def reader(principal: Principal) -> tuple[Reader, uuid.UUID] | None:
    """Which read rule applies to the principal and whose id it takes (`readable_condition`)."""
    if (org := reading_organisation(principal)) is not None:
        return "organisation", org
    if isinstance(principal, CitizenPrincipal):
        return "citizen", principal.citizen_id
    return None


def _day(today: date | Day) -> Day:
    return Day.of(today) if isinstance(today, date) else today


def _active_consent_covering(org_id: Id, today: Dated) -> ColumnElement[bool]:
    return (
        exists()
        .where(
            Consent.plan_id == Plan.id,
            Consent.withdrawn_at.is_(None),
            Consent.replaced_at.is_(None),
            or_(Consent.valid_until.is_(None), Consent.valid_until >= today),
            ConsentOrganisation.consent_id == Consent.id,
            ConsentOrganisation.organisation_id == org_id,
        )
        .correlate(Plan)
    )


def _has_participant(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """Someone who takes part now (not removed) matches the conditions."""
    # Correlated to plans only, so the condition also works inside queries of participants.
    return exists().where(Participant.plan_id == Plan.id, Participant.removed_at.is_(None), *conditions).correlate(Plan)


def readable_condition(principal: Principal, today: date) -> ColumnElement[bool]:
    """The plans this principal may see (ARCHITECTURE.md, "Access, sign-in and audit").

    Staff: their organisation created the plan, or takes part and the patient's active consent
    covers it; a system client bound to an organisation reads as its staff (reads only). Citizens:
    their own plans, plans where they represent the patient, and plans where the patient wants them
    as a relative.
    """
    found = reader(principal)
    return false() if found is None else readable_for(found[0], found[1], today)


def readable_for(kind: Reader, me: Id, today: Dated | Day) -> ColumnElement[bool]:
    """`readable_condition` for a reader of this kind, with values or with parameters (`PARAMETERS`)."""
    if kind == "organisation":
        return or_(
            Plan.created_by_org_id == me,
            and_(
                _has_participant(Participant.organisation_id == me),
                _active_consent_covering(me, today.today if isinstance(today, Day) else today),
            ),
        )
    return or_(
        Plan.patient_id == me,
        _has_participant(Participant.citizen_id == me, Participant.kind == ParticipantKind.REPRESENTATIVE),
        _has_participant(
            Participant.citizen_id == me,
            Participant.kind == ParticipantKind.RELATIVE,
            Participant.wanted_by_patient.is_(True),
        ),
    )


# The parameters of a statement built once: run it with {"reader": id, **Day.values(today), …}.
READER = bindparam("reader", type_=Uuid)
PARAMETERS = Day(bindparam("today", type_=Date), bindparam("follow_up_due_by", type_=Date))


def readable_plans(principal: Principal, today: date) -> Select[Plan]:
    return select(Plan).where(readable_condition(principal, today))


async def on_a_readable_team(session: AsyncSession, principal: Principal, today: date, staff_id: uuid.UUID) -> bool:
    """Whether the staff member takes part now in a plan this principal may read (FHIR's Practitioner)."""
    stmt = readable_plans(principal, today).where(
        _has_participant(Participant.kind == ParticipantKind.STAFF, Participant.staff_member_id == staff_id)
    )
    return await session.scalar(stmt.with_only_columns(Plan.id).limit(1)) is not None


_AGGREGATE = (
    selectinload(Plan.participants),
    selectinload(Plan.goals),
    selectinload(Plan.actions),
    selectinload(Plan.consents).selectinload(Consent.organisations),
    selectinload(Plan.approvals),
    selectinload(Plan.meetings).selectinload(Meeting.invitations),
    selectinload(Plan.meetings).selectinload(Meeting.attendances),
)


async def is_readable(session: AsyncSession, principal: Principal, today: date, plan_id: uuid.UUID) -> bool:
    stmt = readable_plans(principal, today).where(Plan.id == plan_id).with_only_columns(Plan.id)
    return await session.scalar(stmt) is not None


async def readable_by(
    session: AsyncSession, principals: Sequence[Principal], today: date, plan_id: uuid.UUID
) -> list[bool]:
    """For each principal, whether they may read the plan now: one statement however many there are
    (the live pages of a plan are told of a change after one look, `api.plan_live`)."""
    if not principals:
        return []
    checks = [
        exists(select(Plan.id).where(Plan.id == plan_id, readable_condition(p, today))).label(f"r{i}")
        for i, p in enumerate(principals)
    ]
    return [bool(v) for v in (await session.execute(select(*checks))).one()]


async def load_aggregates(
    session: AsyncSession, principal: Principal, today: date, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Plan]:
    """Plans with everything readiness needs, in a fixed number of statements for any batch."""
    stmt = readable_plans(principal, today).where(Plan.id.in_(ids)).options(*_AGGREGATE)
    return {p.id: p for p in (await session.scalars(stmt)).all()}


@dataclass(frozen=True)
class NamedParticipant:
    participant: Participant
    name: str


@dataclass
class Roster:
    """Who takes part in a plan now, and who took part and was removed (their history stays)."""

    current: list[NamedParticipant] = field(default_factory=list)
    removed: list[NamedParticipant] = field(default_factory=list)


async def participants_of(
    session: AsyncSession, principal: Principal, today: date, plan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Roster]:
    """The participants with their names, in one statement, split into those who take part now
    (what lists show) and those removed (what the plan's history shows)."""
    out: dict[uuid.UUID, Roster] = {pid: Roster() for pid in plan_ids}
    readable = readable_plans(principal, today).where(Plan.id.in_(plan_ids)).with_only_columns(Plan.id)
    name = func.coalesce(StaffMember.name, Citizen.name, Participant.external_name, "")
    stmt = (
        select(Participant, name)
        .outerjoin(StaffMember, StaffMember.id == Participant.staff_member_id)
        .outerjoin(Citizen, Citizen.id == Participant.citizen_id)
        .where(Participant.plan_id.in_(readable))
        .order_by(*participant_order(Participant))
    )
    for p, n in await session.execute(stmt):
        roster = out[p.plan_id]
        (roster.current if p.removed_at is None else roster.removed).append(NamedParticipant(p, n))
    return out


async def open_plans_of(
    session: AsyncSession, principal: Principal, today: date, patient_id: uuid.UUID
) -> list[OpenPlan]:
    """The patient's plans that are not closed, newest first, each with whether this principal may
    see it (the readable scope, as a column): what the rule about a second open plan needs."""
    visible = readable_condition(principal, today).label("visible")
    stmt = (
        select(Plan.id, visible)
        .where(Plan.patient_id == patient_id, Plan.status != PlanStatus.CLOSED)
        .order_by(Plan.created_at.desc(), Plan.id.desc())
    )
    return [OpenPlan(pid, bool(v)) for pid, v in await session.execute(stmt)]


async def end_participation(session: AsyncSession, participant_id: uuid.UUID, now: datetime) -> None:
    """What a removed participant leaves behind stops working: their invite links are revoked,
    messages not yet sent to them are not sent, and they are out of any meeting room (they would
    have to be admitted again, and no longer can be). Their history is left as it is."""
    await session.execute(
        update(InviteLink)
        .where(InviteLink.participant_id == participant_id, InviteLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.participant_id == participant_id, OutboxMessage.status == MessageStatus.PENDING)
        .values(status=MessageStatus.FAILED, last_error=NOT_SENT_REMOVED)
    )
    await session.execute(
        update(MeetingAdmission)
        .where(MeetingAdmission.participant_id == participant_id)
        .values(presence=Presence.AWAY, admitted_at=None, admitted_by_staff_id=None, updated_at=now)
    )


NOT_SENT_REMOVED = (
    "Inte skickat: deltagaren togs bort ur planen. / Not sent: the participant was removed from the plan."
)


async def get_aggregate(session: AsyncSession, principal: Principal, today: date, plan_id: uuid.UUID) -> Plan:
    plan = (await load_aggregates(session, principal, today, [plan_id])).get(plan_id)
    if plan is None:
        raise NotFound("Plan", plan_id)
    return plan


async def plan_id_of(session: AsyncSession, model: type[PlanChild], object_id: uuid.UUID) -> uuid.UUID | None:
    """The plan an object belongs to; the caller then loads the plan through the readable scope."""
    plan_id: uuid.UUID | None = await session.scalar(select(model.plan_id).where(model.id == object_id))
    return plan_id


async def revisions_of(session: AsyncSession, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Revision]]:
    """Revisions of plans the caller has already read through the readable scope."""
    out: dict[uuid.UUID, list[Revision]] = {pid: [] for pid in plan_ids}
    rows = await session.scalars(
        select(Revision).where(Revision.plan_id.in_(plan_ids)).order_by(Revision.plan_id, Revision.number)
    )
    for r in rows:
        out[r.plan_id].append(r)
    return out


async def follow_ups_of(session: AsyncSession, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[FollowUp]]:
    """Follow-ups (with their ratings and action reviews) of plans the caller has already read through
    the readable scope, oldest first: three statements for any number of plans and follow-ups."""
    out: dict[uuid.UUID, list[FollowUp]] = {pid: [] for pid in plan_ids}
    rows = await session.scalars(
        select(FollowUp)
        .where(FollowUp.plan_id.in_(plan_ids))
        .options(selectinload(FollowUp.ratings), selectinload(FollowUp.action_reviews))
        .order_by(FollowUp.plan_id, FollowUp.held_on, FollowUp.recorded_at, FollowUp.id)
    )
    for f in rows:
        out[f.plan_id].append(f)
    return out


@dataclass(frozen=True)
class FollowUpHistory:
    last_held_on: date | None  # the plan's latest follow-up
    meeting_followed_up: bool  # a follow-up was recorded for the meeting asked about


async def follow_up_history(session: AsyncSession, plan_id: uuid.UUID, meeting_id: uuid.UUID | None) -> FollowUpHistory:
    """What a new follow-up of a plan (already read through the scope) must fit after, in one statement."""
    used = exists().where(FollowUp.meeting_id == meeting_id) if meeting_id is not None else false()
    last, meeting_used = (
        await session.execute(
            select(select(func.max(FollowUp.held_on)).where(FollowUp.plan_id == plan_id).scalar_subquery(), used)
        )
    ).one()
    return FollowUpHistory(last, bool(meeting_used))


class Attention(StrEnum):
    NO_MEETING = "NO_MEETING"
    FOLLOW_UP_DUE = "FOLLOW_UP_DUE"
    DISCHARGE_MEETING_NOT_CALLED = "DISCHARGE_MEETING_NOT_CALLED"
    AWAITING_PATIENT_APPROVAL = "AWAITING_PATIENT_APPROVAL"


FOLLOW_UP_WINDOW = timedelta(days=7)


def _live_meeting(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Meeting.plan_id == Plan.id, Meeting.status != MeetingStatus.CANCELLED, *conditions)


def attention_condition(reason: Attention, today: date | Day) -> ColumnElement[bool]:
    """SQL for one reason a plan needs attention; `plans.service.attention` is the same in Python."""
    open_ = Plan.status != PlanStatus.CLOSED
    if reason is Attention.NO_MEETING:
        return and_(open_, ~_live_meeting())
    if reason is Attention.FOLLOW_UP_DUE:
        return and_(Plan.status == PlanStatus.ACTIVE, Plan.follow_up_date <= _day(today).follow_up_due_by)
    if reason is Attention.DISCHARGE_MEETING_NOT_CALLED:
        return and_(
            open_,
            Plan.discharge_ready_at.is_not(None),
            ~_live_meeting(Meeting.created_at >= Plan.discharge_ready_at),
        )
    return and_(
        Plan.status.in_([PlanStatus.DRAFT, PlanStatus.REVISING]),
        ~exists().where(Approval.plan_id == Plan.id, Approval.plan_version == Plan.version),
    )


@dataclass(frozen=True)
class PlanFilter:
    statuses: Sequence[PlanStatus] = ()
    organisation_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    attention: Sequence[Attention] = ()
    updated_from: datetime | None = None  # plans last changed at or after this
    updated_before: datetime | None = None  # and before this


def encode_cursor(plan: Plan) -> str:
    return cursor_of(plan.created_at, plan.id)


def cursor_of(created_at: datetime, plan_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{plan_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, pid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(pid)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("the cursor is not one this service gave out", field="after") from exc


def queue_rank(today: date | Day) -> ColumnElement[int]:
    """Where a plan stands in the work queue: 0 needs attention (any reason), 1 other open plans
    (draft, active, revising), 2 closed. A rule of the domain: every list of plans follows it."""
    return case(
        (Plan.status == PlanStatus.CLOSED, 2),
        (or_(*(attention_condition(a, today) for a in Attention)), 0),
        else_=1,
    )


async def page_statement(
    session: AsyncSession | AsyncConnection,
    principal: Principal,
    today: date,
    flt: PlanFilter,
    first: int,
    after: str | None,
) -> Select[Plan]:
    """What needs attention first, then the other open plans, closed plans last (`queue_rank`);
    newest first within each; one more than `first`, to tell whether more follow. Keyset-paginated
    on (rank, created_at, id): the cursor names the last plan shown and its rank is read again (the
    one statement run here), so the next page starts right after it. (A plan whose rank changes
    between two pages may be shown twice or missed, as in any list ordered by something that
    changes.)"""
    rank = queue_rank(today)
    stmt = readable_plans(principal, today)
    if flt.statuses:
        stmt = stmt.where(Plan.status.in_(flt.statuses))
    if flt.organisation_id is not None:
        stmt = stmt.where(_has_participant(Participant.organisation_id == flt.organisation_id))
    if flt.patient_id is not None:
        stmt = stmt.where(Plan.patient_id == flt.patient_id)
    if flt.attention:
        stmt = stmt.where(or_(*(attention_condition(a, today) for a in flt.attention)))
    if flt.updated_from is not None:
        stmt = stmt.where(Plan.updated_at >= flt.updated_from)
    if flt.updated_before is not None:
        stmt = stmt.where(Plan.updated_at < flt.updated_before)
    if after is not None:
        created, pid = decode_cursor(after)
        # scoped like every read: a cursor naming a plan one may not see says nothing about it
        of_cursor = readable_plans(principal, today).where(Plan.id == pid).with_only_columns(rank)
        after_rank = await session.scalar(of_cursor)
        if after_rank is None:
            raise Invalid("the cursor is not one this service gave out", field="after")
        stmt = stmt.where(
            or_(rank > after_rank, and_(rank == after_rank, tuple_(Plan.created_at, Plan.id) < tuple_(created, pid)))
        )
    return stmt.order_by(rank, Plan.created_at.desc(), Plan.id.desc()).limit(first + 1)


def first_page_statement(kind: Reader) -> Select[Plan]:
    """`page_statement` without filter or cursor, built once: run it with {"reader": id,
    **Day.values(today), "limit": first + 1} (the work queue's and the plan list's first page)."""
    rank = queue_rank(PARAMETERS)
    return (
        select(Plan)
        .where(readable_for(kind, READER, PARAMETERS))
        .order_by(rank, Plan.created_at.desc(), Plan.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


async def page(
    session: AsyncSession,
    principal: Principal,
    today: date,
    flt: PlanFilter,
    first: int,
    after: str | None,
) -> tuple[list[Plan], bool]:
    """A page of plans (`page_statement`) and whether more follow."""
    stmt = await page_statement(session, principal, today, flt, first, after)
    plans = list((await session.scalars(stmt)).all())
    return plans[:first], len(plans) > first


async def care_organisations_of(
    session: AsyncSession, citizen_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """For each person, the organisations that made a plan for them as patient: their own care."""
    out: dict[uuid.UUID, set[uuid.UUID]] = {c: set() for c in citizen_ids}
    rows = await session.execute(
        select(Plan.patient_id, Plan.created_by_org_id).where(Plan.patient_id.in_(citizen_ids)).distinct()
    )
    for patient_id, org_id in rows:
        out[patient_id].add(org_id)
    return out


# ---- discharge notices in (plans.service.discharge) ------------------------------------------


async def open_plan_of_organisation(
    session: AsyncSession, patient_id: uuid.UUID, organisation_id: uuid.UUID
) -> uuid.UUID | None:
    """The patient's newest open plan that the organisation takes part in (a staff participant of it
    now) or made. Not through the readable scope: a discharge notice is written for the unit it
    names, not read by the hospital that sends it (the hospital learns only the plan's id)."""
    stmt = (
        select(Plan.id)
        .where(
            Plan.patient_id == patient_id,
            Plan.status != PlanStatus.CLOSED,
            or_(
                Plan.created_by_org_id == organisation_id,
                _has_participant(
                    Participant.kind == ParticipantKind.STAFF, Participant.organisation_id == organisation_id
                ),
            ),
        )
        .order_by(Plan.created_at.desc(), Plan.id.desc())
        .limit(1)
    )
    found: uuid.UUID | None = await session.scalar(stmt)
    return found


async def discharge_notice_by_key(
    session: AsyncSession, poster_org_id: uuid.UUID, system: str, value: str
) -> DischargeNotice | None:
    """A notice the organisation's systems posted before, by its identifier."""
    return await session.scalar(
        select(DischargeNotice).where(
            DischargeNotice.poster_org_id == poster_org_id,
            DischargeNotice.identifier_system == system,
            DischargeNotice.identifier_value == value,
        )
    )


async def discharge_notice_of(
    session: AsyncSession, poster_org_id: uuid.UUID, notice_id: uuid.UUID
) -> DischargeNotice | None:
    """A notice, for the organisation whose systems posted it; for anyone else it is not there."""
    return await session.scalar(
        select(DischargeNotice).where(DischargeNotice.id == notice_id, DischargeNotice.poster_org_id == poster_org_id)
    )
