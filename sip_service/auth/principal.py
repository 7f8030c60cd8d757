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


Principal = StaffPrincipal | CitizenPrincipal | GuestPrincipal
