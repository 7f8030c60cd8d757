"""All SQL of the inbox. Every read of plan data goes through `plans.repository.readable_condition`:
a plan the staff member's organisation may not see (no consent covers it yet) gives no item.

One statement per kind of item, whatever the number of plans (`tests/inbox/test_inbox.py` counts
them); only the items ready to finalize need their plans loaded whole, for readiness.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Date, Executable, Row, Select, Uuid, and_, bindparam, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from sip_service.auth.principal import StaffPrincipal
from sip_service.inbox.rules import ACTION_WINDOW, ItemKind
from sip_service.kit.db import UTCDateTime
from sip_service.models.identity import Citizen
from sip_service.models.inbox import InboxRead
from sip_service.models.meetings import Invitation, Meeting, MeetingStatus
from sip_service.models.plans import Action, ActionStatus, Approval, Participant, ParticipantKind, Plan, PlanStatus
from sip_service.plans.repository import PARAMETERS, READER, Attention, Day, attention_condition, readable_for

AnyRow = Row[*tuple[Any, ...]]  # each query's docstring names its columns, in order
AnySelect = Select[*tuple[Any, ...]]


# Each statement is built once, with the staff member, their organisation and the dates as
# parameters (`_params`): building them anew (six aliased joins and the access rule) cost more
# than running them.
_STAFF = bindparam("staff_id", type_=Uuid)


def _params(staff: StaffPrincipal, today: date, **more: Any) -> dict[str, Any]:
    return {"staff_id": staff.staff_id, "reader": staff.organisation_id, **Day.values(today), **more}


def _in_my_plans() -> ColumnElement[bool]:
    """Open plans this staff member's organisation may see (`readable_condition`, as parameters)."""
    return and_(readable_for("organisation", READER, PARAMETERS), Plan.status != PlanStatus.CLOSED)


def _me(*, coordinator: bool = False) -> tuple[type[Participant], ColumnElement[bool]]:
    """This staff member as a participant who takes part now, joined to the plan."""
    me = aliased(Participant)
    on = and_(
        me.plan_id == Plan.id,
        me.kind == ParticipantKind.STAFF,
        me.staff_member_id == _STAFF,
        me.removed_at.is_(None),
    )
    return me, (and_(on, me.is_coordinator.is_(True)) if coordinator else on)


def _seen(kind: ItemKind, subject: QueryableAttribute[uuid.UUID]) -> tuple[type[InboxRead], ColumnElement[bool]]:
    seen = aliased(InboxRead)
    on = and_(seen.staff_member_id == _STAFF, seen.kind == kind, seen.subject_id == subject)
    return seen, on


async def _rows(session: AsyncSession, stmt: Executable, params: dict[str, Any]) -> Sequence[AnyRow]:
    return (await session.execute(stmt, params)).all()


@cache
def _new_plans() -> AnySelect:
    me, on_me = _me()
    seen, on_seen = _seen(ItemKind.NEW_PLAN, me.id)
    stmt = (select(Plan.id, Plan.patient_id, Citizen.name, me.id).join(me, on_me)).join(
        Citizen, Citizen.id == Plan.patient_id
    )
    return stmt.outerjoin(seen, on_seen).where(
        _in_my_plans(),
        or_(Plan.created_by_staff_id.is_(None), Plan.created_by_staff_id != _STAFF),  # None: a notice made it
        seen.subject_id.is_(None),
    )


async def new_plans(session: AsyncSession, staff: StaffPrincipal, today: date) -> Sequence[AnyRow]:
    """(plan id, patient id, patient name, my participation id) for the plans I take part in and
    have not opened since I was added; not those I made myself."""
    return await _rows(session, _new_plans(), _params(staff, today))


@cache
def _actions_due() -> AnySelect:
    seen, on_seen = _seen(ItemKind.ACTION, Action.id)
    stmt = select(
        Plan.id,
        Plan.patient_id,
        Citizen.name,
        Action.id,
        Action.description,
        Action.responsible_person,
        Action.due_date,
        seen.stamp,
    ).join(Plan, Plan.id == Action.plan_id)
    stmt = (stmt).join(Citizen, Citizen.id == Plan.patient_id).outerjoin(seen, on_seen)
    return stmt.where(
        _in_my_plans(),
        Action.responsible_org_id == READER,
        Action.status.in_([ActionStatus.PLANNED, ActionStatus.ONGOING]),
        Action.due_date <= bindparam("action_due_by", type_=Date),
    )


async def actions_due(session: AsyncSession, staff: StaffPrincipal, today: date) -> Sequence[AnyRow]:
    """(plan id, patient id, patient name, action id, description, responsible person, due date,
    seen stamp) for my organisation's planned or ongoing actions due within the window or late."""
    return await _rows(session, _actions_due(), _params(staff, today, action_due_by=today + ACTION_WINDOW))


@cache
def _meetings_ahead() -> AnySelect:
    me, on_me = _me()
    seen, on_seen = _seen(ItemKind.MEETING, Meeting.id)
    stmt = select(
        Plan.id,
        Plan.patient_id,
        Citizen.name,
        Meeting.id,
        Meeting.kind,
        Meeting.starts_at,
        Meeting.sequence,
        seen.stamp,
    ).join(Plan, Plan.id == Meeting.plan_id)
    stmt = (
        (stmt)
        .join(Citizen, Citizen.id == Plan.patient_id)
        .join(me, on_me)
        .join(Invitation, and_(Invitation.meeting_id == Meeting.id, Invitation.participant_id == me.id))
    )
    return stmt.outerjoin(seen, on_seen).where(
        _in_my_plans(),
        Meeting.status == MeetingStatus.SCHEDULED,
        Meeting.ends_at > bindparam("now", type_=UTCDateTime()),
    )


async def meetings_ahead(session: AsyncSession, staff: StaffPrincipal, today: date, now: datetime) -> Sequence[AnyRow]:
    """(plan id, patient id, patient name, meeting id, kind, starts at, sequence, seen stamp) for the
    meetings I am invited to that have not ended and are not cancelled."""
    return await _rows(session, _meetings_ahead(), _params(staff, today, now=now))


@cache
def _approved_plans() -> AnySelect:
    me, on_me = _me(coordinator=True)
    seen, on_seen = _seen(ItemKind.TO_FINALIZE, Plan.id)
    approved = exists().where(Approval.plan_id == Plan.id, Approval.plan_version == Plan.version)
    stmt = (select(Plan.id, Plan.patient_id, Citizen.name, Plan.version, seen.stamp).join(me, on_me)).join(
        Citizen, Citizen.id == Plan.patient_id
    )
    return stmt.outerjoin(seen, on_seen).where(
        _in_my_plans(), Plan.status.in_([PlanStatus.DRAFT, PlanStatus.REVISING]), approved
    )


async def approved_plans(session: AsyncSession, staff: StaffPrincipal, today: date) -> Sequence[AnyRow]:
    """(plan id, patient id, patient name, version, seen stamp) for the plans I coordinate whose
    current version the patient side approved, not yet finalized. Whether each is ready is the
    rules' to say (the service loads these whole)."""
    return await _rows(session, _approved_plans(), _params(staff, today))


@cache
def _discharges() -> AnySelect:
    me, on_me = _me()
    seen, on_seen = _seen(ItemKind.DISCHARGE, Plan.id)
    colleague = aliased(Participant)
    unclaimed = and_(  # made by my organisation (a discharge notice's plan) and none of us has joined it
        Plan.created_by_org_id == READER,
        ~exists().where(
            colleague.plan_id == Plan.id,
            colleague.kind == ParticipantKind.STAFF,
            colleague.organisation_id == READER,
            colleague.removed_at.is_(None),
        ),
    )
    stmt = (
        select(Plan.id, Plan.patient_id, Citizen.name, Plan.discharge_ready_at, seen.stamp).outerjoin(me, on_me)
    ).join(Citizen, Citizen.id == Plan.patient_id)
    return stmt.outerjoin(seen, on_seen).where(
        _in_my_plans(),
        attention_condition(Attention.DISCHARGE_MEETING_NOT_CALLED, PARAMETERS),
        or_(me.id.is_not(None), unclaimed),
    )


async def discharges(session: AsyncSession, staff: StaffPrincipal, today: date) -> Sequence[AnyRow]:
    """(plan id, patient id, patient name, discharge ready at, seen stamp) for the plans with a
    discharge notice and no meeting called since (`Attention.DISCHARGE_MEETING_NOT_CALLED`) that I
    take part in, or that my organisation made and none of its staff has joined yet: a plan a
    discharge notice started for my unit waits in every inbox of the unit until someone takes it on
    (`plans.service.discharge`)."""
    return await _rows(session, _discharges(), _params(staff, today))


@cache
def _follow_ups() -> AnySelect:
    me, on_me = _me()
    seen, on_seen = _seen(ItemKind.FOLLOW_UP_DUE, Plan.id)
    stmt = (select(Plan.id, Plan.patient_id, Citizen.name, Plan.follow_up_date, seen.stamp).join(me, on_me)).join(
        Citizen, Citizen.id == Plan.patient_id
    )
    return stmt.outerjoin(seen, on_seen).where(_in_my_plans(), attention_condition(Attention.FOLLOW_UP_DUE, PARAMETERS))


async def follow_ups(session: AsyncSession, staff: StaffPrincipal, today: date) -> Sequence[AnyRow]:
    """(plan id, patient id, patient name, follow-up date, seen stamp) for the active plans I take
    part in whose follow-up is near or past (`Attention.FOLLOW_UP_DUE`)."""
    return await _rows(session, _follow_ups(), _params(staff, today))


async def mark(
    session: AsyncSession,
    staff_id: uuid.UUID,
    marks: Iterable[tuple[ItemKind, uuid.UUID, str]],
    now: datetime,
    *,
    keep: bool = False,
) -> None:
    """Record that the staff member saw these items, each as its stamp says (`mark_all`)."""
    await mark_all(session, ((staff_id, kind, subject, stamp) for kind, subject, stamp in marks), now, keep=keep)


async def mark_all(
    session: AsyncSession,
    marks: Iterable[tuple[uuid.UUID, ItemKind, uuid.UUID, str]],
    now: datetime,
    *,
    keep: bool = False,
) -> None:
    """Record that staff members saw items, (staff member, kind, subject, stamp) each: one statement,
    and a mark made again (the plan opened twice, two tabs) replaces the one before. `keep`: a mark
    that is there already stays as it is, without a write or a row lock (a plan opened again is no
    newer than the first time: every read of a plan page would otherwise write, and wait for the
    others)."""
    latest = {(staff_id, kind, subject): stamp for staff_id, kind, subject, stamp in marks}  # a row changes once
    rows = [
        {"staff_member_id": staff_id, "kind": kind, "subject_id": subject, "stamp": stamp, "read_at": now}
        for (staff_id, kind, subject), stamp in latest.items()
    ]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(InboxRead).values(rows)
    key = [InboxRead.staff_member_id, InboxRead.kind, InboxRead.subject_id]
    if keep:
        await session.execute(stmt.on_conflict_do_nothing(index_elements=key))
        return
    set_ = {"stamp": stmt.excluded.stamp, "read_at": stmt.excluded.read_at}
    await session.execute(stmt.on_conflict_do_update(index_elements=key, set_=set_))
