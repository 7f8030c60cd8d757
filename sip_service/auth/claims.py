"""Claim mapping: the identity provider's claim names → the names the service reads.

SITHS identity providers and BankID brokers name the HSA-id and the personal identity number
differently; settings say which claim holds what (see auth/OIDC.md). The defaults are the names
the embedded development provider uses, so without configuration nothing is renamed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import CitizenPrincipal, Principal, StaffPrincipal, SystemPrincipal
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.settings import Settings

_PERSONAL_NUMBER = re.compile(r"\d{12}")


def normalize_claims(claims: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The validated claims under the service's own names, and nothing else.

    Only mapped claims are kept, so a provider's unrelated claim that happens to be called
    `hsa_id` cannot name someone when the mapping says the HSA-id is elsewhere.
    """
    out: dict[str, Any] = {k: claims[k] for k in ("iss", "sub") if isinstance(claims.get(k), str)}
    for name, source in (
        ("name", settings.oidc_claim_name),
        ("hsa_id", settings.oidc_claim_hsa_id),
        ("organisation_hsa_id", settings.oidc_claim_organisation),
        ("commission", settings.oidc_claim_commission),
    ):
        value = claims.get(source)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    if (number := _personal_number(claims.get(settings.oidc_claim_personal_number))) is not None:
        out["personal_number"] = number
    roles = claims.get(settings.oidc_claim_roles)
    if isinstance(roles, str):  # some providers send roles space-separated, like scopes
        roles = roles.split()
    if isinstance(roles, list):
        out["sip_roles"] = [r for r in roles if isinstance(r, str)]
    return out


def _personal_number(value: Any) -> str | None:
    """12 digits (ÅÅÅÅMMDDNNNN), as stored; separators are dropped. A 10-digit number is refused:
    its century cannot be known for sure, and a guess could name the wrong person."""
    if not isinstance(value, str):
        return None
    digits = value.strip().replace("-", "").replace("+", "")
    return digits if _PERSONAL_NUMBER.fullmatch(digits) else None


async def principal_from_claims(session: AsyncSession, claims: Mapping[str, Any]) -> Principal | None:
    """Map validated token claims to a known staff member or citizen; unknown people get nothing."""
    if hsa_id := claims.get("hsa_id"):
        staff = await session.scalar(select(StaffMember).where(StaffMember.hsa_id == hsa_id))
        if staff is not None:
            roles = claims.get("sip_roles") or []
            return StaffPrincipal(
                staff.id,
                staff.organisation_id,
                staff.hsa_id,
                staff.name,
                roles=frozenset(r for r in roles if isinstance(r, str)),
            )
        return None
    if personal_number := claims.get("personal_number"):
        citizen = await session.scalar(select(Citizen).where(Citizen.personal_number == personal_number))
        if citizen is not None:
            return CitizenPrincipal(citizen.id, citizen.name)
    return None


SYSTEM_SCOPE = re.compile(r"system/(\*|[A-Z][A-Za-z]+)\.(read|write|rs)")  # SMART v1, and v2's read-and-search


async def system_principal_from_claims(
    session: AsyncSession, claims: Mapping[str, Any], settings: Settings
) -> SystemPrincipal | None:
    """A record system's access token (OAuth2 client credentials): it names no person (no HSA-id,
    no personal identity number) but names its client (`client_id`) and the organisation it is bound
    to (the organisation claim: an HSA-id in the service's register). Its `system/` scopes say which
    FHIR types it may read or write; without any it is known but may do nothing (403 at /fhir)."""
    if normalize_claims(claims, settings).keys() & {"hsa_id", "personal_number"}:
        return None  # a person's token is a person's, whatever else it carries
    client_id, org_hsa_id = claims.get(settings.oidc_claim_client_id), claims.get(settings.oidc_claim_organisation)
    raw = claims.get(settings.oidc_claim_scope)
    scopes: list[Any] = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    if not (isinstance(client_id, str) and client_id.strip() and isinstance(org_hsa_id, str) and org_hsa_id.strip()):
        return None
    system = frozenset(s for s in scopes if isinstance(s, str) and SYSTEM_SCOPE.fullmatch(s))
    org = await session.scalar(select(Organisation).where(Organisation.hsa_id == org_hsa_id.strip()))
    if org is None:
        return None
    return SystemPrincipal(client_id.strip(), org.id, org.hsa_id, client_id.strip(), system)
