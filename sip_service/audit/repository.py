"""Reading the audit trail: the patient's own extract, and an auditor's review."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.models.audit import AuditEvent


async def for_plan(session: AsyncSession, plan_id: uuid.UUID, limit: int) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.plan_id == plan_id).order_by(AuditEvent.seq.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def for_organisations(
    session: AsyncSession, organisation_ids: Collection[uuid.UUID], start: datetime, end: datetime, limit: int
) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(
            AuditEvent.organisation_id.in_(organisation_ids),
            AuditEvent.occurred_at >= start,
            AuditEvent.occurred_at < end,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    return list(await session.scalars(stmt))
