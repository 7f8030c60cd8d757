"""GraphQL types and queries for organisations, staff members and citizens."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import query_error
from sip_service.auth.principal import CitizenPrincipal, StaffPrincipal
from sip_service.identity import repository as identity_repo
from sip_service.kit.errors import DomainError, Forbidden, NotFound
from sip_service.models import identity as models
from sip_service.plans import policy
from sip_service.plans.service import personal_number as parse_personal_number

OrganisationKind = strawberry.enum(models.OrganisationKind)


@strawberry.type(name="Organisation")
class OrganisationType:
    _org: strawberry.Private[models.Organisation]
    id: uuid.UUID
    kind: models.OrganisationKind
    name: str
    hsa_id: str
    phone: str | None = strawberry.field(description="The switchboard or reception number.")

    def __init__(self, org: models.Organisation) -> None:
        self._org = org
        self.id, self.kind, self.name, self.hsa_id, self.phone = org.id, org.kind, org.name, org.hsa_id, org.phone

    @strawberry.field
    async def parent(self, info: Info[Context, None]) -> OrganisationType | None:
        return await organisation(info, self._org.parent_id)


@strawberry.type(name="StaffMember")
class StaffMemberType:
    _staff: strawberry.Private[models.StaffMember]
    id: uuid.UUID
    name: str
    title: str
    hsa_id: str
    # Work contact details are given to the patients and relatives of their plans, so whoever sees
    # the staff member (through a plan they may see) sees them too.
    phone: str | None = strawberry.field(description="Work phone.")
    email: str | None = strawberry.field(description="Work e-mail.")

    def __init__(self, staff: models.StaffMember) -> None:
        self._staff = staff
        self.id, self.name, self.title, self.hsa_id = staff.id, staff.name, staff.title, staff.hsa_id
        self.phone, self.email = staff.phone, staff.email

    @strawberry.field
    async def organisation(self, info: Info[Context, None]) -> OrganisationType:
        org = await organisation(info, self._staff.organisation_id)
        assert org is not None
        return org


def mask(personal_number: str) -> str:
    return f"{personal_number[:8]}-XXXX"


@strawberry.type(name="Citizen", description="A patient, relative or legal representative.")
class CitizenType:
    _citizen: strawberry.Private[models.Citizen]
    id: uuid.UUID
    name: str
    protected_identity: bool
    language: models.Language = strawberry.field(description="The language the person reads messages in.")

    def __init__(self, citizen: models.Citizen) -> None:
        self._citizen = citizen
        self.id, self.name, self.protected_identity = citizen.id, citizen.name, citizen.protected_identity
        self.language = citizen.language

    async def _care(self, info: Info[Context, None]) -> set[uuid.UUID]:
        return await info.context.loaders.care_organisations.load(self._citizen.id) or set()

    @strawberry.field(description="In full to the person and to their own care; masked for other organisations.")
    async def personal_number(self, info: Info[Context, None]) -> str:
        c = self._citizen
        shown = policy.sees_personal_number(info.context.principal, c.id, await self._care(info))
        return c.personal_number if shown else mask(c.personal_number)

    @strawberry.field(description="Hidden from other organisations when the person has a protected identity.")
    async def phone(self, info: Info[Context, None]) -> str | None:
        return self._citizen.phone if await self._contact_visible(info) else None

    @strawberry.field(description="Hidden from other organisations when the person has a protected identity.")
    async def email(self, info: Info[Context, None]) -> str | None:
        return self._citizen.email if await self._contact_visible(info) else None

    async def _contact_visible(self, info: Info[Context, None]) -> bool:
        c = self._citizen
        return policy.sees_contact(info.context.principal, c.id, c.protected_identity, await self._care(info))


async def organisation(info: Info[Context, None], org_id: uuid.UUID | None) -> OrganisationType | None:
    if org_id is None:
        return None
    org = await info.context.loaders.organisation.load(org_id)
    return OrganisationType(org) if org else None


async def staff_member(info: Info[Context, None], staff_id: uuid.UUID | None) -> StaffMemberType | None:
    if staff_id is None:
        return None
    staff = await info.context.loaders.staff_member.load(staff_id)
    return StaffMemberType(staff) if staff else None


async def citizen(info: Info[Context, None], citizen_id: uuid.UUID | None) -> CitizenType | None:
    if citizen_id is None:
        return None
    found = await info.context.loaders.citizen.load(citizen_id)
    return CitizenType(found) if found else None


@strawberry.type(description="The person signed in.")
class Me:
    kind: str
    name: str
    staff_member: StaffMemberType | None
    citizen: CitizenType | None


@strawberry.type
class IdentityQuery:
    @strawberry.field
    async def me(self, info: Info[Context, None]) -> Me:
        p = info.context.principal
        if isinstance(p, StaffPrincipal):
            return Me(kind="STAFF", name=p.name, staff_member=await staff_member(info, p.staff_id), citizen=None)
        if isinstance(p, CitizenPrincipal):
            return Me(kind="CITIZEN", name=p.name, staff_member=None, citizen=await citizen(info, p.citizen_id))
        return Me(kind="GUEST", name=p.name, staff_member=None, citizen=None)

    @strawberry.field(description="The organisations that can take part in plans.")
    async def organisations(self, info: Info[Context, None]) -> list[OrganisationType]:
        async with info.context.read_session.session() as session:
            return [OrganisationType(o) for o in await identity_repo.organisations(session)]

    @strawberry.field(description="Staff members of an organisation, to add to a plan.")
    async def staff_members(self, info: Info[Context, None], organisation_id: uuid.UUID) -> list[StaffMemberType]:
        if not isinstance(info.context.principal, StaffPrincipal):
            raise query_error(Forbidden("only staff can list staff members"))
        async with info.context.read_session.session() as session:
            return [StaffMemberType(s) for s in await identity_repo.staff_of(session, organisation_id)]

    @strawberry.field(description="Staff find a patient by personal identity number (12 digits) to start a plan.")
    async def patient(self, info: Info[Context, None], personal_number: str) -> CitizenType:
        p = info.context.principal
        try:
            number = parse_personal_number(personal_number)
            if isinstance(p, CitizenPrincipal):
                raise Forbidden("only staff can look people up")
            async with info.context.read_session.session() as session:
                found = await identity_repo.citizen_by_personal_number(session, number)
            if found is None:
                raise NotFound("Citizen", mask(number))
        except DomainError as exc:
            raise query_error(exc) from None
        info.context.reads.add("patient.lookup", None, found.id)
        return CitizenType(found)
