"""Who is asking: the principal every service call acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

AUDITOR = "auditor"  # may review the audit trail of their own organisation


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


Principal = StaffPrincipal | CitizenPrincipal
