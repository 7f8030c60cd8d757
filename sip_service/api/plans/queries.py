"""GraphQL queries for plans: one plan, and the paged, filtered list."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import (
    query_error,
)
from sip_service.api.plans.types import AttentionReason, PlanStatus, PlanType, aggregate
from sip_service.inbox import service as inbox
from sip_service.kit.errors import DomainError, Invalid
from sip_service.plans import repository as repo


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class PlanConnection:
    nodes: list[PlanType]
    page_info: PageInfo


@strawberry.input
class PlanFilterInput:
    statuses: list[PlanStatus] | None = None  # type: ignore[valid-type]
    organisation_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    needs_attention: list[AttentionReason] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Plans that need attention for any of these reasons."
    )


@strawberry.type
class PlanQuery:
    @strawberry.field(
        description="One plan, if you may see it. Staff who take part in it have it no longer new in their inbox."
    )
    async def plan(self, info: Info[Context, None], id: uuid.UUID) -> PlanType:
        plan = await aggregate(info, id)
        if (mine := inbox.participation_of(info.context.principal, plan)) is not None:
            info.context.reads.opened.add(mine)
        return PlanType(plan)

    @strawberry.field(
        description="Plans you may see, a page at a time: those that need attention first, then other open "
        "plans, closed plans last; newest first within each."
    )
    async def plans(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        filter: PlanFilterInput | None = None,
    ) -> PlanConnection:
        ctx = info.context
        if not 1 <= first <= ctx.settings.max_page_size:
            raise query_error(Invalid(f"first must be between 1 and {ctx.settings.max_page_size}", "first"))
        f = filter or PlanFilterInput()
        flt = repo.PlanFilter(
            statuses=f.statuses or (),
            organisation_id=f.organisation_id,
            patient_id=f.patient_id,
            attention=f.needs_attention or (),
        )
        try:
            async with ctx.read_session.session() as session:
                plans, more = await repo.page(session, ctx.principal, ctx.today, flt, first, after)
        except DomainError as exc:
            raise query_error(exc) from None
        ctx.reads.plans(plans)  # a list shows who the patients are: that is a read too
        return PlanConnection(
            nodes=[PlanType(p) for p in plans],
            page_info=PageInfo(has_next_page=more, end_cursor=repo.encode_cursor(plans[-1]) if plans else None),
        )
