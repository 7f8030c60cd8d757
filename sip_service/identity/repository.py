"""All SQL about organisations, staff members and citizens."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.models.identity import Citizen, Organisation, StaffMember

T = TypeVar("T", Organisation, StaffMember, Citizen)


async def by_ids(session: AsyncSession, model: type[T], ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, T]:
    rows = await session.scalars(select(model).where(model.id.in_(ids)))
    return {row.id: row for row in rows}


async def organisations(session: AsyncSession) -> list[Organisation]:
    return list(await session.scalars(select(Organisation).order_by(Organisation.name)))


async def citizen_by_personal_number(session: AsyncSession, personal_number: str) -> Citizen | None:
    return await session.scalar(select(Citizen).where(Citizen.personal_number == personal_number))


async def staff_of(session: AsyncSession, organisation_id: uuid.UUID) -> list[StaffMember]:
    stmt = select(StaffMember).where(StaffMember.organisation_id == organisation_id).order_by(StaffMember.name)
    return list(await session.scalars(stmt))


async def _parents(session: AsyncSession) -> dict[uuid.UUID, uuid.UUID | None]:
    return {o.id: o.parent_id for o in await session.scalars(select(Organisation))}


def _below(parents: Mapping[uuid.UUID, uuid.UUID | None], root: uuid.UUID) -> set[uuid.UUID]:
    tree, grew = {root}, True
    while grew:
        more = {o for o, p in parents.items() if p in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


async def units_of(session: AsyncSession, organisation_id: uuid.UUID) -> set[uuid.UUID]:
    """The organisation and every unit below it."""
    return _below(await _parents(session), organisation_id)


async def care_giver_of(session: AsyncSession, organisation_id: uuid.UUID) -> set[uuid.UUID]:
    """The whole care giver the organisation belongs to: its top organisation and all units."""
    parents = await _parents(session)
    top = organisation_id
    while (up := parents.get(top)) is not None:
        top = up
    return _below(parents, top)


async def organisation_by_hsa_id(session: AsyncSession, hsa_id: str) -> Organisation | None:
    return await session.scalar(select(Organisation).where(Organisation.hsa_id == hsa_id))
