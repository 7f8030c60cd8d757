"""GraphQL: who has looked at my plan (patients), and access review (auditors)."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import query_error
from sip_service.api.identity import OrganisationType, organisation
from sip_service.api.plans import aggregate
from sip_service.audit import service as audit
from sip_service.kit.errors import DomainError
from sip_service.models import audit as models

AuditAccess = strawberry.enum(models.AuditAccess)
MAX_ENTRIES = 500


@strawberry.type(name="AuditEntry", description="Someone read or changed plan data.")
class AuditEntryType:
    _e: strawberry.Private[models.AuditEvent]

    def __init__(self, event: models.AuditEvent) -> None:
        self._e = event

    @strawberry.field
    def occurred_at(self) -> datetime:
        return self._e.occurred_at

    @strawberry.field(description="STAFF or CITIZEN.")
    def actor_kind(self) -> str:
        return self._e.actor_kind

    @strawberry.field
    def actor_name(self) -> str:
        return self._e.actor_name

    @strawberry.field
    async def organisation(self, info: Info[Context, None]) -> OrganisationType | None:
        return await organisation(info, self._e.organisation_id)

    @strawberry.field
    def access(self) -> AuditAccess:  # type: ignore[valid-type]
        return self._e.access

    @strawberry.field(description="What was done, e.g. plan.read or addGoal.")
    def action(self) -> str:
        return self._e.action

    @strawberry.field(description="How the person was signed in.")
    def auth_method(self) -> str:
        return self._e.auth_method

    @strawberry.field
    def plan_id(self) -> uuid.UUID | None:
        return self._e.plan_id


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Who has read or changed this plan, newest first: for the patient or representative.")
    async def plan_access_log(self, info: Info[Context, None], plan_id: uuid.UUID) -> list[AuditEntryType]:
        plan = await aggregate(info, plan_id)
        try:
            async with info.context.read_session.session() as session:
                events = await audit.access_log(session, info.context.principal, plan, MAX_ENTRIES)
        except DomainError as exc:
            raise query_error(exc) from None
        return [AuditEntryType(e) for e in events]

    @strawberry.field(
        description="Auditors: access by people of an organisation within their own care giver, in a period."
    )
    async def audit_events(
        self, info: Info[Context, None], organisation_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[AuditEntryType]:
        try:
            async with info.context.read_session.session() as session:
                events = await audit.review(session, info.context.principal, organisation_id, start, end, MAX_ENTRIES)
        except DomainError as exc:
            raise query_error(exc) from None
        return [AuditEntryType(e) for e in events]
