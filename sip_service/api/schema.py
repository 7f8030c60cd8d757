"""The GraphQL schema, composed from the per-domain parts, with the hardening extensions."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig

from graphql import GraphQLError
from sip_service.api.identity import IdentityQuery
from sip_service.api.meetings import MeetingMutation
from sip_service.api.plans import PlanMutation, PlanQuery
from sip_service.settings import Settings


@strawberry.type
class Query(IdentityQuery, PlanQuery):
    pass


@strawberry.type
class Mutation(PlanMutation, MeetingMutation):
    pass


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask what went wrong while resolving fields, unless it carries one of our stable codes.
    Errors about the request itself (syntax, validation, variable types) have no path: they help
    the caller and reveal nothing about the server."""
    if error.original_error is None or error.path is None:
        return False
    original = error.original_error
    return not (isinstance(original, GraphQLError) and (original.extensions or {}).get("code"))


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: MaskErrors(
            should_mask_error=_is_unexpected, error_message="Ett oväntat fel inträffade. / Unexpected error."
        ),
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
    )
