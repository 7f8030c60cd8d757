"""Claim mapping: SITHS- and BankID-style claim names onto the names the service reads."""

from __future__ import annotations

import pytest

from sip_service.auth.claims import normalize_claims
from sip_service.settings import Settings

SWEDISH = Settings(
    oidc_claim_hsa_id="employeeHsaId",
    oidc_claim_personal_number="https://id.oidc.se/claim/personalIdentityNumber",
    oidc_claim_organisation="healthCareProviderHsaId",
    oidc_claim_commission="commissionHsaId",
    oidc_claim_roles="groups",
)


def test_defaults_match_the_development_provider() -> None:
    staff = {
        "iss": "i",
        "sub": "staff-anna",
        "aud": "sip-service",
        "name": "Anna Lind",
        "hsa_id": "SE2321000016-A001",
        "organisation_hsa_id": "SE2321000016-VCN",
        "sip_roles": ["auditor"],
        "title": "Distriktssköterska",
    }
    assert normalize_claims(staff, Settings()) == {
        "iss": "i",
        "sub": "staff-anna",
        "name": "Anna Lind",
        "hsa_id": "SE2321000016-A001",
        "organisation_hsa_id": "SE2321000016-VCN",
        "sip_roles": ["auditor"],
    }
    citizen = {"sub": "c", "personal_number": "194003122388", "name": "Elsa Andersson"}
    assert normalize_claims(citizen, Settings()) == citizen


def test_siths_style_staff() -> None:
    claims = {
        "sub": "x",
        "employeeHsaId": " SE2321000016-A001 ",
        "healthCareProviderHsaId": "SE2321000016-0001",
        "commissionHsaId": "SE2321000016-U1",
        "groups": "auditor other",
        "hsa_id": "SE-SOMEONE-ELSE",  # not the mapped claim: ignored
    }
    assert normalize_claims(claims, SWEDISH) == {
        "sub": "x",
        "hsa_id": "SE2321000016-A001",
        "organisation_hsa_id": "SE2321000016-0001",
        "commission": "SE2321000016-U1",
        "sip_roles": ["auditor", "other"],
    }


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("194003122388", "194003122388"),
        ("19400312-2388", "194003122388"),
        ("4003122388", None),  # ten digits: the century would be a guess
        ("19400312238", None),
        ("19400312238X", None),
        (194003122388, None),
    ],
)
def test_bankid_style_personal_number(sent: object, kept: str | None) -> None:
    out = normalize_claims({"https://id.oidc.se/claim/personalIdentityNumber": sent}, SWEDISH)
    assert out.get("personal_number") == kept


def test_odd_values_are_dropped() -> None:
    out = normalize_claims({"hsa_id": ["a"], "name": "", "sip_roles": [1, "auditor"], "sub": 5}, Settings())
    assert out == {"sip_roles": ["auditor"]}


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_OIDC_CLAIM_HSA_ID", "employeeHsaId")
    monkeypatch.setenv("SIP_OIDC_CLAIM_PERSONAL_NUMBER", "https://id.oidc.se/claim/personalIdentityNumber")
    settings = Settings()
    assert normalize_claims({"employeeHsaId": "H"}, settings)["hsa_id"] == "H"
