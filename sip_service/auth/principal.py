"""Who is asking: the principal every service call acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

AUDITOR = "auditor"  # may review the audit trail of their own organisation
MANAGER = "manager"  # sees the statistics of their own care giver (aggregates only, stats/)
STEERING = "steering"  # sees the joint statistics of their care giver's steering group


class AuthMethod(StrEnum):
    OIDC = "OIDC"
    INVITE_LINK = "INVITE_LINK"
    SYSTEM = "SYSTEM"
    CLIENT_CREDENTIALS = "CLIENT_CREDS"  # a record system's OAuth2 client-credentials token (16 chars: the column)


@dataclass(frozen=True, slots=True)
class StaffPrincipal:
    staff_id: uuid.UUID
    organisation_id: uuid.UUID
    hsa_id: str
    name: str
    method: AuthMethod = AuthMethod.OIDC
    roles: frozenset[str] = frozenset()

    @property
    def is_auditor(self) -> bool:
        return AUDITOR in self.roles


@dataclass(frozen=True, slots=True)
class CitizenPrincipal:
    """A patient, relative or legal representative signed in as themselves."""

    citizen_id: uuid.UUID
    name: str
    method: AuthMethod = AuthMethod.OIDC


@dataclass(frozen=True, slots=True)
class GuestPrincipal:
    """Someone without an account, let in by a personal invite link: one participant, one meeting.

    Made only from a meeting token (`meetings.invites.guest_principal_from_meeting_token`); sees no
    plan through the readable scope. `link_id` lets a check see at once that the link was revoked.
    """

    citizen_id: uuid.UUID | None  # None for an external party, who is not a citizen in the service
    participant_id: uuid.UUID
    meeting_id: uuid.UUID
    plan_id: uuid.UUID
    name: str
    link_id: uuid.UUID
    method: AuthMethod = AuthMethod.INVITE_LINK


@dataclass(frozen=True, slots=True)
class SystemPrincipal:
    """A record system (OAuth2 client credentials, SMART Backend Services style), bound to one
    organisation by its token. It reads what that organisation's staff may read (the readable scope
    treats it as that organisation's staff), and only through /fhir and only the resource types its
    `system/...` scopes name; it is no staff member, so no write rule (`policy.require_staff`) lets
    it in, and GraphQL refuses it."""

    client_id: str
    organisation_id: uuid.UUID
    organisation_hsa_id: str
    name: str  # the client id: the audit trail's actor name
    scopes: frozenset[str]
    method: AuthMethod = AuthMethod.CLIENT_CREDENTIALS

    def may(self, resource_type: str, access: str = "read") -> bool:
        """A SMART scope grants `access` ("read" or "write") to the type: `system/<Type|*>.<access>`
        (SMART v1), or for reads also v2's `system/<Type|*>.rs`."""
        wanted = {f"system/{t}.{access}" for t in (resource_type, "*")}
        if access == "read":
            wanted |= {f"system/{t}.rs" for t in (resource_type, "*")}
        return bool(wanted & self.scopes)


Principal = StaffPrincipal | CitizenPrincipal | GuestPrincipal | SystemPrincipal


def reading_organisation(principal: Principal) -> uuid.UUID | None:
    """The organisation whose staff's read rules apply: a staff member's own, a system client's
    bound one (for reads only: write rules ask for a StaffPrincipal)."""
    if isinstance(principal, StaffPrincipal | SystemPrincipal):
        return principal.organisation_id
    return None
