"""GraphQL for the staff inbox ("Att göra"). No rules here: they live in inbox/."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import AnyError, capped, query_error, to_graphql
from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.inbox import rules, service
from sip_service.kit import clock
from sip_service.kit.errors import DomainError
from sip_service.models import meetings as meeting_models
from sip_service.models.audit import AuditAccess

InboxItemKind = strawberry.enum(
    rules.ItemKind,
    name="InboxItemKind",
    description="NEW_PLAN: a plan you take part in and have not opened since you were added (or since "
    "the patient's consent let your organisation see it). ACTION: your organisation's planned or ongoing "
    "action, due within 7 days or late. MEETING: a meeting you are invited to that has not ended. "
    "TO_FINALIZE: a plan you coordinate that the patient approved and that is ready. DISCHARGE: a "
    "discharge notice with no SIP meeting called yet (due within 3 days of the notice). FOLLOW_UP_DUE: an "
    "active plan whose follow-up date is within 7 days or past.",
)


@strawberry.type(name="InboxItem", description="One thing to do, about one plan.")
class InboxItemType:
    id: str = strawberry.field(description="Names the item as it stands now; pass it to markInboxRead.")
    kind: rules.ItemKind
    read: bool = strawberry.field(description="You have seen it as it stands now (a change makes it new again).")
    plan_id: uuid.UUID
    patient_name: str
    due_date: date | None = strawberry.field(description="ACTION: its due date; FOLLOW_UP_DUE: the follow-up date.")
    due_at: datetime | None = strawberry.field(
        description="MEETING: when it starts; DISCHARGE: when the three days after the notice run out."
    )
    overdue: bool = strawberry.field(description="The date or deadline has passed.")
    action_id: uuid.UUID | None
    action_description: str | None
    responsible_person: str | None
    meeting_id: uuid.UUID | None
    meeting_kind: meeting_models.MeetingKind | None

    def __init__(self, item: rules.Item) -> None:
        self.id, self.kind, self.read, self.plan_id = item.key, item.kind, item.read, item.plan_id
        self.patient_name, self.due_date, self.due_at, self.overdue = (
            item.patient_name,
            item.due_date,
            item.due_at,
            item.overdue,
        )
        self.action_id = item.subject_id if item.kind is rules.ItemKind.ACTION else None
        self.action_description, self.responsible_person = item.action_description, item.responsible_person
        self.meeting_id = item.meeting_id
        self.meeting_kind = meeting_models.MeetingKind(item.meeting_kind) if item.meeting_kind else None


@strawberry.type(name="InboxCount")
class InboxCountType:
    kind: rules.ItemKind
    total: int
    unread: int


@strawberry.type(
    name="InboxDigest",
    description="The daily e-mail about your inbox: counts of what is new and a link, never a patient's name.",
)
class InboxDigestType:
    email: str | None = strawberry.field(description="Your work e-mail, where it goes (none: it cannot be sent).")
    receives: bool = strawberry.field(description="You get it: you have a work e-mail and have not turned it off.")
    opted_out: bool = strawberry.field(description="You turned it off.")
    sends_at: str = strawberry.field(description="From what time of day (HH:MM, Stockholm) it is sent.")

    @classmethod
    def of(cls, setting: service.DigestSetting, info: Info[Context, None]) -> InboxDigestType:
        at = info.context.settings.digest_at.strftime("%H:%M")
        return cls(email=setting.email, receives=setting.receives, opted_out=setting.opted_out, sends_at=at)


@strawberry.type(name="Inbox", description="What you have to do, across the plans you may see.")
class InboxType:
    _inbox: strawberry.Private[service.Inbox]
    unread: int = strawberry.field(description="How many items are new to you.")
    total: int
    counts: list[InboxCountType] = strawberry.field(description="Per kind, always all six, in the order shown.")

    def __init__(self, inbox: service.Inbox) -> None:
        self._inbox, self.unread, self.total = inbox, inbox.unread, len(inbox.items)
        self.counts = [InboxCountType(kind=c.kind, total=c.total, unread=c.unread) for c in inbox.counts]

    @strawberry.field(description="Most urgent kind first, then soonest first.")
    def items(self, info: Info[Context, None]) -> list[InboxItemType]:
        # the items name patients: a read of each plan, audited as a list of plans is (the counts are not)
        for item in self._inbox.items:
            info.context.reads.add("inbox.read", item.plan_id, item.patient_id)
        return [InboxItemType(i) for i in self._inbox.items]

    @strawberry.field(description="Your daily e-mail about what is new here.")
    async def digest(self, info: Info[Context, None]) -> InboxDigestType:
        ctx = info.context
        async with ctx.read_session.session() as session:
            setting = await service.digest_setting(session, ctx.principal)
        return InboxDigestType.of(setting, info)


@strawberry.type
class InboxQuery:
    @strawberry.field(description="Staff only: what you have to do now (`Att göra`).")
    async def inbox(self, info: Info[Context, None]) -> InboxType:
        ctx = info.context
        try:
            async with ctx.read_session.session() as session:
                found = await service.inbox(session, ctx.principal, ctx.today, clock.now())
        except DomainError as exc:
            raise query_error(exc) from None
        return InboxType(found)


InboxResult = Annotated[InboxType | AnyError, strawberry.union("InboxResult")]
InboxDigestResult = Annotated[InboxDigestType | AnyError, strawberry.union("InboxDigestResult")]


@strawberry.type
class InboxMutation:
    @strawberry.mutation(
        description="Mark items of your inbox read (ids from `inbox.items`, at most 100 at a time). An item "
        "that changed since you saw it stays new; one not in your inbox is not found, and nothing is marked."
    )
    async def mark_inbox_read(self, info: Info[Context, None], item_ids: list[str]) -> InboxResult:
        ctx = info.context
        try:
            async with ctx.db.write() as session:
                found = await service.mark_read(session, ctx.principal, capped(item_ids), ctx.today, clock.now())
                # a write like any other, though of no plan's data: who marked what is theirs alone
                await audit.append(session, ctx.principal, [Access(AuditAccess.WRITE, info.field_name, None, None)])
        except DomainError as exc:
            return to_graphql(exc)
        await ctx.after_write()
        return InboxType(found)

    @strawberry.mutation(description="Whether you want the daily e-mail about what is new in your inbox.")
    async def set_inbox_digest(self, info: Info[Context, None], receive: bool) -> InboxDigestResult:
        ctx = info.context
        try:
            async with ctx.db.write() as session:
                setting = await service.set_digest(session, ctx.principal, receive=receive)
                await audit.append(session, ctx.principal, [Access(AuditAccess.WRITE, info.field_name, None, None)])
        except DomainError as exc:
            return to_graphql(exc)
        await ctx.after_write()
        return InboxDigestType.of(setting, info)
