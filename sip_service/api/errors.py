"""Typed GraphQL errors, and the one place mutations turn domain errors into them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.readiness import BlockerType
from sip_service.audit import service as audit
from sip_service.audit.models import AuditAccess
from sip_service.audit.service import Access
from sip_service.kit import errors
from sip_service.plans import events as plan_events
from sip_service.plans.models import Plan

T = TypeVar("T")
R = TypeVar("R")


@strawberry.interface(description="Something the request asked for could not be done; `code` is stable.")
class Error:
    code: str
    message: str


@strawberry.type(description="The object does not exist, or you may not see it.")
class NotFoundError(Error):
    kind: str
    id: str


@strawberry.type(description="You may see the object, but not do this to it.")
class ForbiddenError(Error):
    pass


@strawberry.type(description="The input breaks a rule; `field` names the input.")
class ValidationError(Error):
    field: str | None


@strawberry.type(description="Someone else changed it first; reload and try again.")
class VersionConflictError(Error):
    expected_version: int | None
    actual_version: int | None


@strawberry.type(description="The plan cannot be finalized yet; the blockers say why.")
class NotReadyError(Error):
    blockers: list[BlockerType]


# Every mutation result is what it made or changed, or one of these.
AnyError = NotFoundError | ForbiddenError | ValidationError | VersionConflictError | NotReadyError


def to_graphql(exc: errors.DomainError) -> AnyError:
    if isinstance(exc, errors.NotFound):
        return NotFoundError(code=exc.code, message=exc.message, kind=exc.kind, id=exc.id)
    if isinstance(exc, errors.Invalid):
        return ValidationError(code=exc.code, message=exc.message, field=exc.field)
    if isinstance(exc, errors.VersionConflict):
        return VersionConflictError(
            code=exc.code, message=exc.message, expected_version=exc.expected, actual_version=exc.actual
        )
    if isinstance(exc, errors.NotReady):
        return NotReadyError(code=exc.code, message=exc.message, blockers=[BlockerType(b) for b in exc.blockers])
    return ForbiddenError(code=exc.code, message=exc.message)


async def mutate(
    info: Info[Context, None], change: Callable[[AsyncSession], Awaitable[T]], present: Callable[[T], R]
) -> R | AnyError:
    """Run one use case in its own transaction: all of it is written, or none of it."""
    ctx = info.context
    try:
        async with ctx.db.write() as session:
            result = await change(session)
            await session.flush()  # new parts get their plan ids
            plan = await _plan_changed(session, result)
            write = Access(AuditAccess.WRITE, info.field_name, plan.id, plan.patient_id)
            await audit.append(session, ctx.principal, [write])  # in the same transaction
            news = plan_events.changed(plan.id, plan.version, info.field_name)
    except errors.DomainError as exc:
        return to_graphql(exc)
    await ctx.after_write()
    await ctx.live.broker.publish(plan_events.channel(plan.id), news)  # committed: others read it again
    return present(result)


MAX_IDS = 100


def capped(ids: Sequence[T], limit: int = MAX_IDS) -> Sequence[T]:
    """Input lists are capped, so one request cannot ask for unbounded work."""
    if len(ids) > limit:
        raise errors.Invalid(f"at most {limit} at a time")
    return ids


async def _plan_changed(session: AsyncSession, result: object) -> Plan:
    """The plan a use case changed: it returns the plan, a part of it, or (plan, part)."""
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, Plan):
        return result
    plan = await session.get(Plan, result.plan_id)  # type: ignore[attr-defined]  # already in the session
    assert plan is not None
    return plan


def query_error(exc: errors.DomainError) -> GraphQLError:
    """For queries: a GraphQL error carrying the stable code, which error masking lets through."""
    return GraphQLError(exc.message, extensions={"code": exc.code})
