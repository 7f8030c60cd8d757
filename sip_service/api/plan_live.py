"""Live plan pages: a subscription that tells when a plan someone has open was changed (by anyone),
so that the page reads it again. Access is checked at the start and again at every change: whoever
loses access to the plan (consent withdrawn) stops hearing about it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import query_error
from sip_service.kit import clock, errors
from sip_service.plans import events
from sip_service.plans import repository as plans_repo


@strawberry.type(name="PlanChange", description="The plan changed: read it again (PlanDetail).")
class PlanChangeType:
    plan_id: uuid.UUID
    version: int = strawberry.field(description="The plan's version after the change.")
    change: str = strawberry.field(description="Which operation changed it, e.g. addGoal.")


async def _readable(ctx: Context, plan_id: uuid.UUID) -> bool:
    async with ctx.db.read() as session:
        return await plans_repo.is_readable(session, ctx.principal, clock.today(), plan_id)


@strawberry.type
class PlanSubscription:
    @strawberry.subscription(description="Changes to a plan you can read, as they are committed.")
    async def plan_changes(self, info: Info[Context, None], plan_id: uuid.UUID) -> AsyncGenerator[PlanChangeType, None]:
        ctx = info.context
        async with ctx.live.broker.subscribe(events.channel(plan_id)) as changes:
            if not await _readable(ctx, plan_id):  # after subscribing: no change falls in between
                raise query_error(errors.NotFound("Plan", plan_id))
            async for e in changes:
                if not await _readable(ctx, plan_id):
                    return
                yield PlanChangeType(plan_id=plan_id, version=int(e["version"]), change=str(e["change"]))
