"""The staff inbox ("Att göra"): what the signed-in staff member has to do, and what they have seen.

Use cases take the caller's session and never commit. What a staff member may see is the plans'
readable scope (`plans.repository.readable_condition`): an organisation the patient's consent does
not cover yet finds nothing here, and the moment consent covers it, its staff in the plan find it
as a new plan.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import Principal, StaffPrincipal
from sip_service.identity import repository as identity_repo
from sip_service.inbox import repository as repo
from sip_service.inbox import rules
from sip_service.inbox.rules import Item, ItemKind
from sip_service.kit.errors import NotFound
from sip_service.models.identity import Organisation, StaffMember
from sip_service.models.plans import Plan
from sip_service.plans import policy
from sip_service.plans import repository as plans_repo
from sip_service.plans import service as plans_service


@dataclass(frozen=True)
class Inbox:
    items: list[Item]

    @property
    def counts(self) -> list[rules.Count]:
        return rules.counts(self.items)

    @property
    def unread(self) -> int:
        return sum(1 for i in self.items if not i.read)


async def inbox(session: AsyncSession, principal: Principal, today: date, now: datetime) -> Inbox:
    """Everything the staff member has to do now, in `rules.ORDER`, each marked read or new."""
    staff = policy.require_staff(principal)
    items: list[Item] = []
    for plan_id, patient_id, name, participation_id in await repo.new_plans(session, staff, today):
        items.append(Item(ItemKind.NEW_PLAN, participation_id, "", plan_id, patient_id, name, read=False))
    for plan_id, patient_id, name, action_id, text, person, due, seen in await repo.actions_due(session, staff, today):
        stamp = rules.action_stamp(due, today)
        items.append(
            Item(
                ItemKind.ACTION,
                action_id,
                stamp,
                plan_id,
                patient_id,
                name,
                read=rules.is_read(seen, stamp),
                due_date=due,
                overdue=due < today,
                action_description=text,
                responsible_person=person,
            )
        )
    for plan_id, patient_id, name, meeting_id, kind, starts, seq, seen in await repo.meetings_ahead(
        session, staff, today, now
    ):
        stamp = rules.meeting_stamp(seq)
        items.append(
            Item(
                ItemKind.MEETING,
                meeting_id,
                stamp,
                plan_id,
                patient_id,
                name,
                read=rules.is_read(seen, stamp),
                due_at=starts,
                meeting_id=meeting_id,
                meeting_kind=kind.value,
            )
        )
    items += await _ready_to_finalize(session, principal, today)
    for plan_id, patient_id, name, ready_at, seen in await repo.discharges(session, staff, today):
        stamp, deadline = rules.discharge_stamp(ready_at), rules.discharge_deadline(ready_at)
        items.append(
            Item(
                ItemKind.DISCHARGE,
                plan_id,
                stamp,
                plan_id,
                patient_id,
                name,
                read=rules.is_read(seen, stamp),
                due_at=deadline,
                overdue=deadline < now,
            )
        )
    for plan_id, patient_id, name, follow_up, seen in await repo.follow_ups(session, staff, today):
        stamp = rules.follow_up_stamp(follow_up)
        items.append(
            Item(
                ItemKind.FOLLOW_UP_DUE,
                plan_id,
                stamp,
                plan_id,
                patient_id,
                name,
                read=rules.is_read(seen, stamp),
                due_date=follow_up,
                overdue=follow_up < today,
            )
        )
    return Inbox(rules.ordered(items))


async def _ready_to_finalize(session: AsyncSession, principal: Principal, today: date) -> list[Item]:
    """The approved plans I coordinate that the readiness rules find ready, loaded whole in one
    batch (a fixed number of statements however many there are)."""
    staff = policy.require_staff(principal)
    approved = await repo.approved_plans(session, staff, today)
    if not approved:
        return []
    plans = await plans_repo.load_aggregates(session, principal, today, [row[0] for row in approved])
    org_ids = {o for p in plans.values() for o in plans_service.organisation_ids_of(p)}
    orgs = await identity_repo.by_ids(session, Organisation, list(org_ids))
    kinds = {o.id: o.kind for o in orgs.values()}
    out = []
    for plan_id, patient_id, name, version, seen in approved:
        plan = plans.get(plan_id)
        if plan is None or not plans_service.evaluate(plan, kinds, today).ready:
            continue
        stamp = rules.finalize_stamp(version)
        out.append(
            Item(ItemKind.TO_FINALIZE, plan_id, stamp, plan_id, patient_id, name, read=rules.is_read(seen, stamp))
        )
    return out


async def mark_read(
    session: AsyncSession, principal: Principal, keys: Sequence[str], today: date, now: datetime
) -> Inbox:
    """Mark items read, each as the caller saw it (its key holds its stamp: an item that changed
    since stays new). Only items in the caller's inbox now; any other is not found. Returns the
    inbox as it is afterwards (a new plan marked read leaves it)."""
    staff = policy.require_staff(principal)
    wanted = [(rules.parse_key(k), k) for k in keys]
    current = await inbox(session, principal, today, now)
    present = {(i.kind, i.subject_id) for i in current.items}
    for (kind, subject, _), key in wanted:
        if (kind, subject) not in present:
            raise NotFound("InboxItem", key)
    marks = [parsed for parsed, _ in wanted]
    await repo.mark(session, staff.staff_id, marks, now)
    seen = {(kind, subject): stamp for kind, subject, stamp in marks}
    after = []
    for item in current.items:
        mark = seen.get((item.kind, item.subject_id))
        if mark is None:
            after.append(item)
        elif item.kind is not ItemKind.NEW_PLAN:  # a new plan seen is no longer new, nor to do
            after.append(dataclasses.replace(item, read=item.read or mark == item.stamp))
        elif mark != item.stamp:
            after.append(item)
    return Inbox(after)


def participation_of(principal: Principal, plan: Plan) -> uuid.UUID | None:
    """The staff member's own participation in a plan loaded whole, if they take part now."""
    if not isinstance(principal, StaffPrincipal):
        return None
    return next((p.id for p in plan.participants if p.staff_member_id == principal.staff_id), None)


async def note_opened(session: AsyncSession, opened: Iterable[tuple[Principal, uuid.UUID]], now: datetime) -> None:
    """Staff members opened plans they take part in (`participation_of`; principal and participation
    each): no longer new to them. One statement for all (the audit writer's batch)."""
    marks = ((policy.require_staff(p).staff_id, ItemKind.NEW_PLAN, pid, "") for p, pid in opened)
    await repo.mark_all(session, marks, now, keep=True)


# ---- the daily e-mail digest: each staff member's own setting -------------------------------


@dataclass(frozen=True)
class DigestSetting:
    email: str | None  # their work e-mail, where a digest goes
    opted_out: bool

    @property
    def receives(self) -> bool:
        return bool(self.email) and not self.opted_out


async def _me(session: AsyncSession, principal: Principal) -> StaffMember:
    staff = policy.require_staff(principal)
    me = (await identity_repo.by_ids(session, StaffMember, [staff.staff_id])).get(staff.staff_id)
    if me is None:
        raise NotFound("StaffMember", staff.staff_id)
    return me


async def digest_setting(session: AsyncSession, principal: Principal) -> DigestSetting:
    me = await _me(session, principal)
    return DigestSetting(me.email, me.digest_opt_out)


async def set_digest(session: AsyncSession, principal: Principal, *, receive: bool) -> DigestSetting:
    """A staff member says whether they want the daily e-mail about their inbox (their own only)."""
    me = await _me(session, principal)
    me.digest_opt_out = not receive
    return DigestSetting(me.email, me.digest_opt_out)
