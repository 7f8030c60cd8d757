"""The GraphQL schema, composed from the per-domain parts, with the hardening extensions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import strawberry
from graphql import ASTValidationRule, DirectiveNode, DocumentNode, GraphQLError, Node
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from sip_service.api.audit import AuditQuery
from sip_service.api.context import record_reads_or_withhold
from sip_service.api.identity import IdentityQuery
from sip_service.api.inbox import InboxMutation, InboxQuery
from sip_service.api.live import LiveMeetingMutation, LiveMeetingQuery, LiveMeetingSubscription
from sip_service.api.meetings import MeetingMutation
from sip_service.api.operations import KnownOperationsOnly
from sip_service.api.plan_live import PlanSubscription
from sip_service.api.plans import PlanMutation, PlanQuery
from sip_service.api.stats import StatisticsMutation, StatisticsQuery
from sip_service.kit.outage import is_broker_outage, is_outage
from sip_service.settings import Settings

logger = logging.getLogger(__name__)


@strawberry.type
class Query(IdentityQuery, PlanQuery, InboxQuery, AuditQuery, LiveMeetingQuery, StatisticsQuery):
    pass


@strawberry.type
class Mutation(PlanMutation, MeetingMutation, LiveMeetingMutation, InboxMutation, StatisticsMutation):
    pass


@strawberry.type
class Subscription(LiveMeetingSubscription, PlanSubscription):
    pass


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask what went wrong while resolving fields, unless it carries one of our stable codes.
    Errors about the request itself (syntax, validation, variable types) have no path: they help
    the caller and reveal nothing about the server."""
    if error.original_error is None or error.path is None:
        return False
    original = error.original_error
    return not (isinstance(original, GraphQLError) and (original.extensions or {}).get("code"))


class AuditReadsExtension(SchemaExtension):
    """Write the request's reads to the audit trail before the answer leaves; if that fails, the
    answer is withheld: nobody reads plan data without a trace. The plans a staff member opened
    are marked seen in their inbox in the same transaction."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        try:
            yield
        finally:
            await ctx.read_session.close()  # the answer is complete: give the connection back now
        if (withheld := await record_reads_or_withhold(ctx)) is not None:
            result = self.execution_context.result
            assert result is not None
            # Changed in place: strawberry returns this same object.
            result.data = None
            result.errors = [withheld]


class Schema(strawberry.Schema):
    """Errors are logged as strawberry logs them, except the database (or Redis, for what needs it)
    being unreachable: that is noted on the request's context (`Context.outage`) for the router to
    answer with 503 (a websocket: closed 1013), and logged once per outage (kit.outage)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        others = []
        for error in errors:
            outage = is_outage(error.original_error) or is_broker_outage(error.original_error)
            if outage and execution_context is not None:
                execution_context.context.outage = error.original_error
            else:
                others.append(error)
        super().process_errors(others, execution_context)


def _count_directives(document: DocumentNode) -> int:
    count, stack = 0, [document]
    while stack:
        node: Any = stack.pop()
        if isinstance(node, Node):
            count += isinstance(node, DirectiveNode)
            stack.extend(getattr(node, key) for key in node.keys if key != "loc")
        elif isinstance(node, tuple | list):
            stack.extend(node)
    return count


def directive_limit(limit: int) -> type[ASTValidationRule]:
    """At most `limit` directives (@include, @skip, unknown ones …) in a document, counted before any
    other rule looks at them: one error with a stable code, and validation ends there (otherwise 900
    repeated unknown directives are 900 errors, and known ones are work for each)."""

    class DirectiveLimit(ASTValidationRule):
        def enter_document(self, node: DocumentNode, *_: object) -> None:
            if _count_directives(node) > limit:
                raise ValidationAbortedError(  # ends validation with this error alone
                    f"Högst {limit} direktiv per dokument. / At most {limit} directives per document.",
                    extensions={"code": "TOO_MANY_DIRECTIVES"},
                )

    return DirectiveLimit


def limit_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    return [
        directive_limit(settings.max_directives),
        depth_validator(settings.max_query_depth, None, None),
        alias_validator(settings.max_aliases),
    ]


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limit rules are built once, so that the validation cache can recognise a query it has
    # already checked (rules made afresh per request would never match the cache key).
    limits = limit_rules(settings)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: AddValidationRules(limits),
        lambda: ValidationCache(maxsize=256),
        AuditReadsExtension,
        lambda: MaskErrors(
            should_mask_error=_is_unexpected, error_message="Ett oväntat fel inträffade. / Unexpected error."
        ),
    ]
    if settings.is_production:
        extensions += [DisableIntrospection, KnownOperationsOnly]
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
    )
