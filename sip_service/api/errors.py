"""Typed GraphQL errors, and the one place mutations turn domain errors into them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, overload

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from sip_service import usecases
from sip_service.api.context import Context
from sip_service.api.readiness import BlockerType
from sip_service.kit import errors
from sip_service.models.identity import Language
from sip_service.plans import attainment, rules

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E")


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


def _said(refusal: rules.Refusal, language: Language) -> str:
    return refusal.message_en if language is Language.EN else refusal.message_sv


@strawberry.type(
    description="The patient already has an open plan (one that is not closed). `existingPlanId` is that "
    "plan, if you may see it (else null: you are told only that one exists). To create another one "
    "anyway, send the input again with `allowAnotherOpenPlan: true`. `code`: OPEN_PLAN_EXISTS."
)
class OpenPlanExistsError(Error):
    _refusal: strawberry.Private[rules.OpenPlanExists]
    code: str
    existing_plan_id: uuid.UUID | None

    def __init__(self, refusal: rules.OpenPlanExists) -> None:
        self._refusal, self.code, self.existing_plan_id = refusal, refusal.code, refusal.existing_plan_id

    # Error.message, resolved in the language asked for (as a blocker's message is)
    @strawberry.field(description="Plain language; Swedish unless English is asked for.")  # type: ignore[misc]
    def message(self, language: Language = Language.SV) -> str:
        return _said(self._refusal, language)


ParticipantRemovalRefusal = strawberry.enum(rules.RemovalCode, name="ParticipantRemovalRefusal")


@strawberry.type(
    description="The plan cannot do without this participant yet; `reason` (the same as `code`) says why and "
    "the message what to do first. Removing someone never deletes what they did in the plan."
)
class ParticipantNotRemovableError(Error):
    _refusal: strawberry.Private[rules.RemovalRefusal]
    code: str
    reason: rules.RemovalCode
    open_action_ids: list[uuid.UUID] = strawberry.field(
        description="RESPONSIBLE_FOR_OPEN_ACTIONS: the planned or ongoing actions to hand over or finish first."
    )

    def __init__(self, refusal: rules.RemovalRefusal) -> None:
        self._refusal, self.code, self.reason = refusal, refusal.code, refusal.code
        self.open_action_ids = list(refusal.action_ids)

    # Error.message, resolved in the language asked for (as a blocker's message is)
    @strawberry.field(description="Plain language; Swedish unless English is asked for.")  # type: ignore[misc]
    def message(self, language: Language = Language.SV) -> str:
        return _said(self._refusal, language)


FollowUpRefusal = strawberry.enum(attainment.FollowUpCode, name="FollowUpRefusal")


@strawberry.type(
    description="The follow-up cannot be recorded as given; `reason` (the same as `code`) says why, `subjectId` "
    "names the goal, action or meeting and `field` the input. Nothing was written."
)
class FollowUpRefusedError(Error):
    _refusal: strawberry.Private[attainment.FollowUpRefusal]
    code: str
    reason: attainment.FollowUpCode
    subject_id: uuid.UUID | None
    field: str | None

    def __init__(self, refusal: attainment.FollowUpRefusal) -> None:
        self._refusal, self.code, self.reason = refusal, refusal.code, refusal.code
        self.subject_id, self.field = refusal.subject_id, refusal.field

    # Error.message, resolved in the language asked for (as a blocker's message is)
    @strawberry.field(description="Plain language; Swedish unless English is asked for.")  # type: ignore[misc]
    def message(self, language: Language = Language.SV) -> str:
        return _said(self._refusal, language)


def to_graphql(exc: errors.DomainError) -> AnyError:
    if isinstance(exc, errors.NotFound):
        return NotFoundError(code=exc.code, message=exc.message, kind=exc.kind, id=exc.id)
    if isinstance(exc, errors.Invalid):
        return ValidationError(code=exc.code, message=exc.message, field=exc.field)
    if isinstance(exc, errors.VersionConflict):
        return VersionConflictError(
            code=exc.code, message=exc.message, expected_version=exc.expected, actual_version=exc.actual
        )
    if isinstance(exc, rules.NotReady):
        return NotReadyError(code=exc.code, message=exc.message, blockers=[BlockerType(b) for b in exc.blockers])
    if isinstance(exc, rules.Refused):  # a refusal this mutation has no type of its own for
        r = exc.refusal
        return ValidationError(code=r.code, message=f"{r.message_sv} / {r.message_en}", field=None)
    return ForbiddenError(code=exc.code, message=exc.message)


def open_plan_exists(exc: rules.Refused) -> OpenPlanExistsError | AnyError:
    if isinstance(exc.refusal, rules.OpenPlanExists):
        return OpenPlanExistsError(exc.refusal)
    return to_graphql(exc)


def follow_up_refused(exc: rules.Refused) -> FollowUpRefusedError | AnyError:
    if isinstance(exc.refusal, attainment.FollowUpRefusal):
        return FollowUpRefusedError(exc.refusal)
    return to_graphql(exc)


def not_removable(exc: rules.Refused) -> ParticipantNotRemovableError | AnyError:
    if isinstance(exc.refusal, rules.RemovalRefusal):
        return ParticipantNotRemovableError(exc.refusal)
    return to_graphql(exc)


@overload
async def mutate(
    info: Info[Context, None], change: Callable[[AsyncSession], Awaitable[T]], present: Callable[[T], R]
) -> R | AnyError: ...


@overload
async def mutate(
    info: Info[Context, None],
    change: Callable[[AsyncSession], Awaitable[T]],
    present: Callable[[T], R],
    refused: Callable[[rules.Refused], E],
) -> R | AnyError | E: ...


async def mutate(
    info: Info[Context, None],
    change: Callable[[AsyncSession], Awaitable[T]],
    present: Callable[[T], R],
    refused: Callable[[rules.Refused], E] | None = None,
) -> R | AnyError | E:
    """Run one use case through the runner (`usecases.run`: one transaction, the audit write, the
    change event) and answer with its result or a typed error. A mutation with error types of its
    own for refusals (`rules.Refused`) passes `refused` to make them."""
    ctx = info.context
    try:
        result = await usecases.run(
            ctx.db, ctx.principal, info.field_name, change, broker=ctx.live.broker, committed=ctx.after_write
        )
    except rules.Refused as exc:
        return refused(exc) if refused is not None else to_graphql(exc)
    except errors.DomainError as exc:
        return to_graphql(exc)
    return present(result)


MAX_IDS = 100


def capped(ids: Sequence[T], limit: int = MAX_IDS) -> Sequence[T]:
    """Input lists are capped, so one request cannot ask for unbounded work."""
    if len(ids) > limit:
        raise errors.Invalid(f"at most {limit} at a time")
    return ids


def query_error(exc: errors.DomainError) -> GraphQLError:
    """For queries: a GraphQL error carrying the stable code, which error masking lets through."""
    return GraphQLError(exc.message, extensions={"code": exc.code})
