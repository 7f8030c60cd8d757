"""The plan and its people as FHIR R4 resources (JSON as dicts). Pure: no I/O, no access decisions.

The router (`http.fhir.router`) loads what a resource needs through the readable scope and decides
what the caller may see (the full personal identity number, contact details: `plans.policy`), and
hands it here as a `PlanView` or a single row. Texts are Swedish (`language: sv`). Identifiers as
HL7 Sweden's base profiles (R4) use them. People and things not served as resources of their own
yet (Practitioner, RelatedPerson outside a CareTeam) are logical references: identifier and display.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sip_service.models.identity import Citizen, Language, Organisation, OrganisationKind, StaffMember
from sip_service.models.meetings import AttendanceMethod, Meeting, MeetingKind, MeetingPurpose, MeetingStatus
from sip_service.models.plans import (
    Action,
    ActionStatus,
    Consent,
    ConsentMethod,
    Goal,
    Participant,
    ParticipantKind,
    Plan,
    PlanStatus,
    RepresentativeKind,
    Revision,
)
from sip_service.plans.participation import takes_part

FHIR_VERSION = "4.0.1"  # R4
MEDIA_TYPE = "application/fhir+json"
PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
HSA_ID = "urn:oid:1.2.752.29.4.19"
# This service's own definitions (one extension so far). A canonical base of the service's own, to be
# registered when the profiles are published; it names no host the service runs on.
CANONICAL = "urn:sip-tjansten:fhir"
OVERALL_RESPONSIBILITY = f"{CANONICAL}:StructureDefinition:overall-responsible-organisation"
ATTENDANCE = f"{CANONICAL}:StructureDefinition:attendance"  # who was there, how that was established
ATTENDANCE_METHOD = f"{CANONICAL}:CodeSystem:attendance-method"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

Json = dict[str, Any]


@dataclass(frozen=True)
class PlanView:
    """One plan read through the readable scope, with the rows its resources name."""

    plan: Plan  # with participants, goals and actions loaded
    patient: Citizen
    names: Mapping[uuid.UUID, str]  # participant id → name (staff, citizen or external party)
    organisations: Mapping[uuid.UUID, Organisation]
    staff: Mapping[uuid.UUID, StaffMember]
    patient_number_shown: bool  # the full personal identity number: the person and their own care only
    people: Mapping[uuid.UUID, Participant]  # every participant, those removed too (history names them)
    revisions: Sequence[Revision]  # the finalized versions, oldest first
    active_consent_id: uuid.UUID | None  # the consent in force today (plans.service.active_consent)
    patient_contact_shown: bool  # the patient's phone and e-mail (plans.policy.sees_contact)


# The plan's life cycle as CarePlan.status. A plan being revised is still in force, and its current
# content (the revision under way) is what is served; a closed plan, whatever the reason, is over.
CAREPLAN_STATUS = {
    PlanStatus.DRAFT: "draft",
    PlanStatus.ACTIVE: "active",
    PlanStatus.REVISING: "active",
    PlanStatus.CLOSED: "completed",
}
GOAL_STATUS = {
    PlanStatus.DRAFT: "proposed",
    PlanStatus.ACTIVE: "active",
    PlanStatus.REVISING: "active",
    PlanStatus.CLOSED: "completed",
}
ACTIVITY_STATUS = {
    ActionStatus.PLANNED: "not-started",
    ActionStatus.ONGOING: "in-progress",
    ActionStatus.DONE: "completed",
    ActionStatus.CANCELLED: "cancelled",
}
STATUS_WORDS = {
    PlanStatus.DRAFT: "Utkast",
    PlanStatus.ACTIVE: "Fastställd",
    PlanStatus.REVISING: "Fastställd, revideras",
    PlanStatus.CLOSED: "Avslutad",
}
ORGANISATION_KIND_WORDS = {
    OrganisationKind.REGION: "Region (hälso- och sjukvård)",
    OrganisationKind.MUNICIPALITY: "Kommun (socialtjänst, hemtjänst)",
    OrganisationKind.OTHER: "Annan organisation",
}
REPRESENTATIVE_WORDS = {
    RepresentativeKind.GUARDIAN: "vårdnadshavare",
    RepresentativeKind.GOD_MAN: "god man",
    RepresentativeKind.FORVALTARE: "förvaltare",
}


def clean(resource: Json) -> Json:
    """FHIR has no empty values: leave out None, "", [] and {} at every depth."""
    out: Json = _clean(resource)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [_clean(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def hsa_identifier(hsa_id: str) -> Json:
    return {"system": HSA_ID, "value": hsa_id}


def personnummer(citizen: Citizen) -> Json:
    return {"system": PERSONNUMMER, "value": citizen.personal_number}


def organisation_ref(org: Organisation | None) -> Json | None:
    if org is None:
        return None
    return {
        "reference": f"Organization/{org.id}",
        "type": "Organization",
        "identifier": hsa_identifier(org.hsa_id),
        "display": org.name,
    }


def practitioner_ref(staff: StaffMember | None) -> Json | None:
    if staff is None:
        return None
    return {
        "type": "Practitioner",
        "identifier": hsa_identifier(staff.hsa_id),
        "display": f"{staff.name}, {staff.title}",
    }


def patient_ref(view: PlanView) -> Json:
    return {
        "reference": f"Patient/{view.patient.id}",
        "type": "Patient",
        "identifier": personnummer(view.patient) if view.patient_number_shown else None,
        "display": view.patient.name,
    }


def practitioner_role_ref(view: PlanView, p: Participant) -> Json | None:
    staff = view.staff.get(p.staff_member_id) if p.staff_member_id else None
    if staff is None:
        return None
    return {
        "reference": f"PractitionerRole/{p.id}",
        "type": "PractitionerRole",
        "display": f"{staff.name}, {staff.title}",
    }


def practitioner(staff: StaffMember) -> Json:
    """A staff member: HSA-id, name, title, and the work contact details that whoever sees a plan of
    theirs sees."""
    return clean(
        {
            "resourceType": "Practitioner",
            "id": str(staff.id),
            "language": "sv",
            "identifier": [hsa_identifier(staff.hsa_id)],
            "active": True,
            "name": [{"text": staff.name}],
            "telecom": [
                {"system": "phone", "value": staff.phone, "use": "work"} if staff.phone else None,
                {"system": "email", "value": staff.email, "use": "work"} if staff.email else None,
            ],
            "qualification": [{"code": {"text": staff.title}}] if staff.title else [],
        }
    )


def practitioner_role(view: PlanView, p: Participant) -> Json:
    """A staff participant of a plan (its id is the participation's): who, for which organisation, in
    which role (coordinator or not) since when. The plan's CareTeam names it."""
    staff = view.staff.get(p.staff_member_id) if p.staff_member_id else None
    return clean(
        {
            "resourceType": "PractitionerRole",
            "id": str(p.id),
            "language": "sv",
            "active": p.removed_at is None,
            "period": {"start": day(p.created_at), "end": day(p.removed_at)},
            "practitioner": {
                "reference": f"Practitioner/{staff.id}",
                "type": "Practitioner",
                "identifier": hsa_identifier(staff.hsa_id),
                "display": staff.name,
            }
            if staff
            else None,
            "organization": organisation_ref(view.organisations.get(p.organisation_id)) if p.organisation_id else None,
            "code": [{"text": role_words(view, p)}],
        }
    )


def staff_roles(view: PlanView) -> list[Participant]:
    """The staff on the plan's CareTeam (those who take part now): its PractitionerRoles."""
    return [p for p in team(view.plan) if p.kind is ParticipantKind.STAFF and p.staff_member_id in view.staff]


def _related_person_id(p: Participant) -> str:
    return f"rp-{p.id}"


def participant_ref(view: PlanView, p: Participant | None, *, contained: bool = False) -> Json | None:
    """Who a participant is, as a reference: the patient, a practitioner (HSA-id), a related person
    (contained in the CareTeam there, elsewhere by name) or an external party (by name)."""
    if p is None:
        return None
    if p.kind is ParticipantKind.PATIENT:
        return patient_ref(view)
    if p.kind is ParticipantKind.STAFF:
        if contained:  # in the CareTeam: the staff member's role in this plan, a resource of its own
            return practitioner_role_ref(view, p)
        return practitioner_ref(view.staff.get(p.staff_member_id)) if p.staff_member_id else None
    name = view.names.get(p.id)
    if p.kind in (ParticipantKind.RELATIVE, ParticipantKind.REPRESENTATIVE):
        if contained:
            return {"reference": f"#{_related_person_id(p)}", "type": "RelatedPerson", "display": name}
        return {"type": "RelatedPerson", "display": name}
    return {"display": name}


def role_words(view: PlanView, p: Participant) -> str:
    """A participant's part in the plan, in Swedish."""
    if p.kind is ParticipantKind.PATIENT:
        return "Patient"
    if p.kind is ParticipantKind.STAFF:
        staff = view.staff.get(p.staff_member_id) if p.staff_member_id else None
        words = p.role or (staff.title if staff else "Personal")
        return f"{words} (samordnare)" if p.is_coordinator else words
    if p.kind is ParticipantKind.RELATIVE:
        return f"Närstående ({p.role})" if p.role else "Närstående"
    if p.kind is ParticipantKind.REPRESENTATIVE:
        kind = REPRESENTATIVE_WORDS.get(p.representative_kind) if p.representative_kind else None
        return f"Företrädare ({kind})" if kind else "Företrädare"
    return p.role or "Annan part"


def team(plan: Plan) -> list[Participant]:
    """Who is on the plan's care team: those who take part now, as the patient decided about relatives."""
    return [p for p in plan.participants if takes_part(p.kind, p.wanted_by_patient)]


def _participants_by_id(plan: Plan) -> dict[uuid.UUID, Participant]:
    return {p.id: p for p in plan.participants}


def action_performers(view: PlanView, action: Action) -> list[Json]:
    """The one responsible party (an organisation, or a participant), then the named person if any."""
    party = (
        organisation_ref(view.organisations.get(action.responsible_org_id))
        if action.responsible_org_id
        else participant_ref(view, _participants_by_id(view.plan).get(action.responsible_participant_id))
        if action.responsible_participant_id
        else None
    )
    person = {"display": action.responsible_person} if action.responsible_person else None
    return [r for r in (party, person) if r]


def author(view: PlanView) -> Json | None:
    """Who made the plan: a staff member, or, for a plan a discharge notice started, the unit it named."""
    plan = view.plan
    if plan.created_by_staff_id is None:
        return organisation_ref(view.organisations.get(plan.created_by_org_id))
    return practitioner_ref(view.staff.get(plan.created_by_staff_id))


def care_plan(view: PlanView) -> Json:
    plan = view.plan
    overall = organisation_ref(view.organisations.get(plan.overall_responsible_org_id))  # type: ignore[arg-type]
    activities = [
        {
            "detail": {
                "status": ACTIVITY_STATUS[a.status],
                "description": a.description,
                "scheduledPeriod": {"start": day(a.start_date), "end": day(a.due_date)},
                "performer": action_performers(view, a),
                "goal": [{"reference": f"Goal/{a.goal_id}"}] if a.goal_id else [],
            }
        }
        for a in plan.actions
    ]
    return clean(
        {
            "resourceType": "CarePlan",
            "id": str(plan.id),
            "meta": {"versionId": current_version(plan), "lastUpdated": instant(plan.updated_at)},
            "language": "sv",
            "text": {"status": "generated", "div": _narrative(view)},
            "extension": [{"url": OVERALL_RESPONSIBILITY, "valueReference": overall}] if overall else [],
            "status": CAREPLAN_STATUS[plan.status],
            "intent": "plan",
            "category": [{"text": "Samordnad individuell plan (SIP)"}],
            "title": "Samordnad individuell plan",
            "description": plan.background,
            "subject": patient_ref(view),
            "period": {"start": day(plan.created_at), "end": day(plan.closed_at)},
            "created": instant(plan.created_at),
            "author": author(view),
            "careTeam": [{"reference": f"CareTeam/{plan.id}"}],
            "goal": [{"reference": f"Goal/{g.id}", "display": g.text} for g in plan.goals],
            "activity": activities + [{"reference": appointment_ref(m)} for m in plan.meetings],
            "supportingInfo": [
                *({"reference": f"Consent/{c.id}", "type": "Consent"} for c in plan.consents),
                *(provenance_ref(r) for r in view.revisions),
            ],
            "note": [{"text": f"Nästa uppföljning: {plan.follow_up_date.isoformat()}"}] if plan.follow_up_date else [],
        }
    )


# Versions. A CarePlan's versionId moves on whenever what it says may have changed: the plan's own
# version (the row's optimistic-lock counter, moved on by every content edit, a finalization, a
# revision or a close) plus the number of its meetings (which the CarePlan names, and which are
# never deleted), so an ETag never answers 304 for changed content. The current version is the plan
# as it is now (a plan being revised: the revision under way). Each finalized revision is a version
# of its own: the plan as finalized, from the revision's snapshot, whose versionId is the one the
# plan had right after that finalization.


def current_version(plan: Plan) -> str:
    return str(plan.version + len(plan.meetings))


def revision_version(plan: Plan, r: Revision) -> str:
    """The versionId the CarePlan had when `r` was finalized: finalizing moved the version on once."""
    met = sum(1 for m in plan.meetings if m.created_at <= r.finalized_at)
    return str(r.plan_version + 1 + met)


def care_plan_version(view: PlanView, vid: str) -> Json | None:
    """The CarePlan as version `vid`: the current one, or a finalized revision; None if neither."""
    if vid == current_version(view.plan):
        return care_plan(view)
    found = next((r for r in view.revisions if revision_version(view.plan, r) == vid), None)
    return finalized_care_plan(view, found) if found else None


def finalized_care_plan(view: PlanView, r: Revision) -> Json:
    """A finalized revision as it was approved and finalized (its snapshot: organisations by name)."""
    plan, snap, esc = view.plan, r.snapshot, html.escape
    goals: list[dict[str, Any]] = snap.get("goals", [])
    actions: list[dict[str, Any]] = snap.get("actions", [])
    named = {p["id"]: p.get("name") for p in snap.get("participants", [])}

    def performers(a: dict[str, Any]) -> list[Json]:
        party = a.get("responsibleOrganisation") or named.get(a.get("responsibleParticipant") or "")
        return [
            x
            for x in ({"display": party} if party else None, {"display": a.get("responsiblePerson")})
            if x and x["display"]
        ]

    activities = [
        {
            "detail": {
                "status": ACTIVITY_STATUS[ActionStatus(a["status"])],
                "description": a["description"],
                "scheduledPeriod": {"start": a.get("startDate"), "end": a.get("dueDate")},
                "performer": performers(a),
                "goal": [{"reference": f"Goal/{a['goal']}"}] if a.get("goal") else [],
            }
        }
        for a in actions
    ]
    overall = snap.get("overallResponsibility")
    follow_up = snap.get("followUpDate")
    goal_lines = "".join(f"<li>{esc(g['text'])}</li>" for g in goals)
    action_lines = "".join(
        f"<li>{esc(a['description'])} — ansvarig: "
        f"{esc(', '.join(x['display'] for x in performers(a)) or 'ingen ansvarig ännu')}</li>"
        for a in actions
    )
    div = (
        '<div xmlns="http://www.w3.org/1999/xhtml">'
        f"<p>Samordnad individuell plan för {esc(view.patient.name)}, version {r.number}, "
        f"fastställd {esc(day(r.finalized_at) or '')}.</p>"
        f"<p>Bakgrund: {esc(snap.get('background') or '–')}</p>"
        f"<p>Patientens mål:</p>{f'<ul>{goal_lines}</ul>' if goal_lines else '<p>Inga.</p>'}"
        f"<p>Insatser och vem som ansvarar för dem:</p>{f'<ul>{action_lines}</ul>' if action_lines else '<p>Inga.</p>'}"
        f"<p>Övergripande ansvar: {esc(overall or 'inte bestämt')}</p>"
        f"<p>Uppföljning: {esc(follow_up or 'inte bestämd')}</p>"
        "</div>"
    )
    return clean(
        {
            "resourceType": "CarePlan",
            "id": str(plan.id),
            "meta": {"versionId": revision_version(plan, r), "lastUpdated": instant(r.finalized_at)},
            "language": "sv",
            "text": {"status": "generated", "div": div},
            "status": "active",
            "intent": "plan",
            "category": [{"text": "Samordnad individuell plan (SIP)"}],
            "title": f"Samordnad individuell plan, version {r.number}",
            "description": snap.get("background"),
            "subject": patient_ref(view),
            "period": {"start": day(plan.created_at)},
            "created": instant(plan.created_at),
            "author": author(view),
            "careTeam": [{"reference": f"CareTeam/{plan.id}"}],
            "goal": [{"reference": f"Goal/{g['id']}", "display": g["text"]} for g in goals],
            "activity": activities
            + [{"reference": appointment_ref(m)} for m in plan.meetings if m.created_at <= r.finalized_at],
            "supportingInfo": [
                *(
                    {"reference": f"Consent/{c.id}", "type": "Consent"}
                    for c in plan.consents
                    if c.given_at <= r.finalized_at
                ),
                *(provenance_ref(x) for x in view.revisions if x.number <= r.number),
            ],
            "note": [{"text": f"Nästa uppföljning: {follow_up}"}] if follow_up else [],
        }
    )


def _narrative(view: PlanView) -> str:
    """What a person reads first: the plan's legal contents in Swedish (SoL 2:7, HSL 16:4)."""
    plan, esc = view.plan, html.escape
    overall = view.organisations.get(plan.overall_responsible_org_id) if plan.overall_responsible_org_id else None

    def action_line(a: Action) -> str:
        who = ", ".join(r.get("display", "") for r in action_performers(view, a)) or "ingen ansvarig ännu"
        return f"<li>{esc(a.description)} — ansvarig: {esc(who)}</li>"

    def items(lines: Iterable[str]) -> str:
        joined = "".join(lines)
        return f"<ul>{joined}</ul>" if joined else "<p>Inga ännu.</p>"

    return (
        '<div xmlns="http://www.w3.org/1999/xhtml">'
        f"<p>Samordnad individuell plan för {esc(view.patient.name)} ({esc(STATUS_WORDS[plan.status])}).</p>"
        f"<p>Bakgrund: {esc(plan.background or '–')}</p>"
        f"<p>Patientens mål:</p>{items(f'<li>{esc(g.text)}</li>' for g in plan.goals)}"
        f"<p>Insatser och vem som ansvarar för dem:</p>{items(action_line(a) for a in plan.actions)}"
        f"<p>Övergripande ansvar: {esc(overall.name if overall else 'inte bestämt ännu')}</p>"
        f"<p>Uppföljning: {esc(plan.follow_up_date.isoformat() if plan.follow_up_date else 'inte bestämd ännu')}</p>"
        "</div>"
    )


def _related_person(view: PlanView, p: Participant) -> Json:
    return {
        "resourceType": "RelatedPerson",
        "id": _related_person_id(p),
        "patient": patient_ref(view),
        "relationship": [{"text": role_words(view, p)}],
        "name": [{"text": view.names.get(p.id)}],
    }


def care_team(view: PlanView) -> Json:
    plan, members = view.plan, team(view.plan)
    related = [p for p in members if p.kind in (ParticipantKind.RELATIVE, ParticipantKind.REPRESENTATIVE)]
    overall = organisation_ref(view.organisations.get(plan.overall_responsible_org_id))  # type: ignore[arg-type]
    return clean(
        {
            "resourceType": "CareTeam",
            "id": str(plan.id),
            "meta": {"lastUpdated": instant(plan.updated_at)},
            "language": "sv",
            "contained": [_related_person(view, p) for p in related],
            "status": "inactive" if plan.status is PlanStatus.CLOSED else "active",
            "category": [{"text": "Samordnad individuell plan (SIP)"}],
            "name": f"SIP-team för {view.patient.name}",
            "subject": patient_ref(view),
            "period": {"start": day(plan.created_at), "end": day(plan.closed_at)},
            "participant": [
                {
                    "role": [{"text": role_words(view, p)}],
                    "member": participant_ref(view, p, contained=True),
                    "onBehalfOf": organisation_ref(view.organisations.get(p.organisation_id))
                    if p.kind is ParticipantKind.STAFF and p.organisation_id
                    else None,
                }
                for p in members
            ],
            "managingOrganization": [overall] if overall else [],
        }
    )


def goal(view: PlanView, g: Goal) -> Json:
    plan = view.plan
    expressed = _participants_by_id(plan).get(g.expressed_by_id) if g.expressed_by_id else None
    expressed_by = (
        participant_ref(view, expressed) if expressed and expressed.kind is not ParticipantKind.EXTERNAL else None
    )
    return clean(
        {
            "resourceType": "Goal",
            "id": str(g.id),
            "meta": {"lastUpdated": instant(plan.updated_at)},
            "language": "sv",
            "lifecycleStatus": GOAL_STATUS[plan.status],
            "description": {"text": g.text},
            "subject": patient_ref(view),
            "startDate": day(g.created_at),
            "target": [{"dueDate": day(g.target_date)}] if g.target_date else [],
            "expressedBy": expressed_by,
        }
    )


CONSENT_METHOD_WORDS = {ConsentMethod.DIGITAL: "digitalt", ConsentMethod.ORAL: "muntligt"}
MEETING_PURPOSE_WORDS = {MeetingPurpose.PLANNING: "Planeringsmöte", MeetingPurpose.FOLLOW_UP: "Uppföljningsmöte"}
MEETING_KIND_WORDS = {
    MeetingKind.VIDEO: "videomöte",
    MeetingKind.IN_PERSON: "fysiskt möte",
    MeetingKind.HYBRID: "fysiskt möte med deltagare på video",
}
ATTENDANCE_WORDS = {
    AttendanceMethod.MEDIA: "Deltog på video",
    AttendanceMethod.ATTESTED: "Närvaro intygad av personal",
}


def appointment_ref(m: Meeting) -> Json:
    return {"reference": f"Appointment/{m.id}", "type": "Appointment"}


def provenance_ref(r: Revision) -> Json:
    return {"reference": f"Provenance/{r.id}", "type": "Provenance", "display": f"Version {r.number}"}


def care_plan_ref(view: PlanView) -> Json:
    return {"reference": f"CarePlan/{view.plan.id}", "type": "CarePlan"}


def consent(view: PlanView, c: Consent) -> Json:
    """Which organisations may share the plan's information, for how long, what is excluded; in the
    consent in force, also which relatives take part (the patient's choice) and which do not.
    Withdrawn, replaced or expired: inactive, the period ending then."""
    plan, in_force = view.plan, c.id == view.active_consent_id
    given_by = view.people.get(c.given_by_id)
    ended = c.withdrawn_at or c.replaced_at
    relatives = [p for p in plan.participants if p.kind is ParticipantKind.RELATIVE] if in_force else []
    chosen = [p for p in relatives if p.wanted_by_patient is True]
    unchosen = [p for p in relatives if p.wanted_by_patient is False]
    orgs = [view.organisations.get(o.organisation_id) for o in c.organisations]
    recipient = {"coding": [{"system": PARTICIPATION_TYPE, "code": "IRCP", "display": "information recipient"}]}
    state = (
        "i kraft"
        if in_force
        else f"återkallat {day(c.withdrawn_at)}"
        if c.withdrawn_at
        else f"ersatt {day(c.replaced_at)}"
        if c.replaced_at
        else f"gällde till {day(c.valid_until)}"
    )
    esc = html.escape
    div = (
        '<div xmlns="http://www.w3.org/1999/xhtml">'
        f"<p>Samtycke till samordnad individuell plan, givet {esc(CONSENT_METHOD_WORDS[c.method])} "
        f"{esc(day(c.given_at) or '')} av {esc(view.names.get(c.given_by_id, 'okänd'))} ({esc(state)}).</p>"
        f"<p>Organisationer som får dela information: {esc(', '.join(o.name for o in orgs if o) or 'inga')}.</p>"
        f"<p>Undantag: {esc(c.exclusions or 'inga')}.</p>"
        "</div>"
    )
    return clean(
        {
            "resourceType": "Consent",
            "id": str(c.id),
            "meta": {"lastUpdated": instant(ended or c.given_at)},
            "language": "sv",
            "text": {"status": "generated", "div": div},
            "status": "active" if in_force else "inactive",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
            "category": [
                {
                    "coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}],
                    "text": "Samtycke till informationsöverföring för samordnad individuell plan",
                }
            ],
            "patient": patient_ref(view),
            "dateTime": instant(c.given_at),
            "performer": [participant_ref(view, given_by)] if given_by else [],
            "policyRule": {
                "coding": [{"system": ACT_CODE, "code": "OPTIN"}],
                "text": "Samtycke enligt SoL 2 kap. 7 § och HSL 16 kap. 4 §",
            },
            "provision": {
                "type": "permit",
                "period": {"start": day(c.given_at), "end": day(ended) if ended else day(c.valid_until)},
                "actor": [{"role": recipient, "reference": organisation_ref(o)} for o in orgs if o]
                + [{"role": {"text": "Närstående som deltar"}, "reference": participant_ref(view, p)} for p in chosen],
                "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "COC"}],
                "data": [{"meaning": "related", "reference": care_plan_ref(view)}],
                "provision": [
                    {
                        "type": "deny",
                        "actor": [
                            {
                                "role": {"text": "Närstående som patienten inte valt"},
                                "reference": participant_ref(view, p),
                            }
                            for p in unchosen
                        ],
                    }
                    if unchosen
                    else None,
                    {"type": "deny", "code": [{"text": c.exclusions}]} if c.exclusions else None,
                ],
            },
        }
    )


def appointment(view: PlanView, m: Meeting) -> Json:
    """A meeting: who was invited, who was there (from when, and how that was established)."""
    invited = [i.participant_id for i in m.invitations]
    attended = {a.participant_id: a for a in m.attendances}
    order = list(dict.fromkeys([*invited, *attended]))

    def participant(pid: uuid.UUID) -> Json | None:
        p = view.people.get(pid)
        if p is None:
            return None
        a = attended.get(pid)
        return {
            "extension": [
                {
                    "url": ATTENDANCE,
                    "valueCoding": {
                        "system": ATTENDANCE_METHOD,
                        "code": a.method.value,
                        "display": ATTENDANCE_WORDS[a.method],
                    },
                }
            ]
            if a
            else [],
            "type": [{"text": role_words(view, p)}],
            "actor": participant_ref(view, p),
            "required": "required",
            "status": "accepted" if a else "needs-action",
            "period": {"start": instant(a.joined_at), "end": instant(a.left_at)} if a else None,
        }

    people = [x for x in map(participant, order) if x]
    if not people:  # FHIR wants at least one: the one who called the meeting
        organiser = practitioner_ref(view.staff.get(m.created_by_staff_id))
        people = [{"type": [{"text": "Kallade till mötet"}], "actor": organiser, "status": "accepted"}]
    status = "cancelled" if m.status is MeetingStatus.CANCELLED else "fulfilled" if attended else "booked"
    return clean(
        {
            "resourceType": "Appointment",
            "id": str(m.id),
            "meta": {"lastUpdated": instant(m.updated_at)},
            "language": "sv",
            "status": status,
            "appointmentType": {"text": MEETING_PURPOSE_WORDS[m.purpose]},
            "description": f"{MEETING_PURPOSE_WORDS[m.purpose]} ({MEETING_KIND_WORDS[m.kind]})"
            + (f", {m.location}" if m.location else ""),
            "supportingInformation": [care_plan_ref(view)],
            "start": instant(m.starts_at),
            "end": instant(m.ends_at),
            "created": instant(m.created_at),
            "comment": m.agenda,
            "participant": people,
        }
    )


def provenance(view: PlanView, r: Revision) -> Json:
    """Who finalized a version of the plan, and who on the patient's side approved it, when."""
    approver = view.people.get(r.approved_by_id) if r.approved_by_id else None
    approver_ref = participant_ref(view, approver)

    def agent(code: str, display: str, words: str, who: Json | None) -> Json | None:
        if who is None:
            return None
        return {
            "type": {"coding": [{"system": PROVENANCE_AGENT, "code": code, "display": display}], "text": words},
            "who": who,
        }

    return clean(
        {
            "resourceType": "Provenance",
            "id": str(r.id),
            "meta": {"lastUpdated": instant(r.finalized_at)},
            "language": "sv",
            "target": [
                {
                    "reference": f"CarePlan/{view.plan.id}/_history/{revision_version(view.plan, r)}",
                    "type": "CarePlan",
                    "display": f"Version {r.number}",
                }
            ],
            "occurredDateTime": instant(r.finalized_at),
            "recorded": instant(r.finalized_at),
            "activity": {"text": f"Version {r.number} fastställd"},
            "agent": [
                agent(
                    "attester",
                    "Attester",
                    "Fastställde planen",
                    practitioner_ref(view.staff.get(r.finalized_by_staff_id)),
                ),
                agent("verifier", "Verifier", "Godkände planen (patienten eller företrädaren)", approver_ref),
            ],
            "signature": [
                {
                    "type": [
                        {
                            "system": "urn:iso-astm:E1762-95:2013",
                            "code": "1.2.840.10065.1.12.1.5",
                            "display": "Verification Signature",
                        }
                    ],
                    "when": instant(r.approved_at),
                    "who": approver_ref,
                }
            ]
            if approver_ref and r.approved_at
            else [],
        }
    )


LANGUAGE_WORDS = {Language.SV: "svenska", Language.EN: "engelska"}


def patient(citizen: Citizen, *, number_shown: bool, contact_shown: bool) -> Json:
    telecom = [
        {"system": "phone", "value": citizen.phone} if citizen.phone else None,
        {"system": "email", "value": citizen.email} if citizen.email else None,
    ]
    return clean(
        {
            "resourceType": "Patient",
            "id": str(citizen.id),
            "language": "sv",
            "identifier": [personnummer(citizen)] if number_shown else [],
            "name": [{"text": citizen.name}],
            "telecom": telecom if contact_shown else [],
            "communication": [
                {
                    "language": {
                        "coding": [{"system": "urn:ietf:bcp:47", "code": citizen.language.value}],
                        "text": LANGUAGE_WORDS[citizen.language],
                    },
                    "preferred": True,
                }
            ],
        }
    )


def organization(org: Organisation) -> Json:
    return clean(
        {
            "resourceType": "Organization",
            "id": str(org.id),
            "language": "sv",
            "identifier": [hsa_identifier(org.hsa_id)],
            "active": True,
            "type": [{"text": ORGANISATION_KIND_WORDS[org.kind]}],
            "name": org.name,
            "telecom": [{"system": "phone", "value": org.phone, "use": "work"}] if org.phone else [],
            "partOf": {"reference": f"Organization/{org.parent_id}", "type": "Organization"} if org.parent_id else None,
        }
    )


# What a CarePlan names, by the search parameter that names it (for `_include`): FHIR's own
# parameters, and `supporting-info` (the service's: its Consents and Provenances).
INCLUDES = (
    "CarePlan:subject",
    "CarePlan:patient",
    "CarePlan:care-team",
    "CarePlan:goal",
    "CarePlan:activity-reference",
    "CarePlan:performer",
    "CarePlan:supporting-info",
)


def named_by(view: PlanView, include: str) -> list[Json]:
    """The resources a CarePlan names through one `_include` parameter."""
    plan = view.plan
    if include in ("CarePlan:subject", "CarePlan:patient"):
        return [patient(view.patient, number_shown=view.patient_number_shown, contact_shown=view.patient_contact_shown)]
    if include == "CarePlan:care-team":
        return [care_team(view)]
    if include == "CarePlan:goal":
        return [goal(view, g) for g in plan.goals]
    if include == "CarePlan:activity-reference":
        return [appointment(view, m) for m in plan.meetings]
    if include == "CarePlan:performer":
        ids = dict.fromkeys(a.responsible_org_id for a in plan.actions if a.responsible_org_id)
        return [organization(view.organisations[i]) for i in ids if i in view.organisations]
    if include == "CarePlan:supporting-info":
        return [consent(view, c) for c in plan.consents] + [provenance(view, r) for r in view.revisions]
    raise ValueError(include)


def everything(view: PlanView) -> list[Json]:
    """All of one plan: its CarePlan, then everything it names and every organisation named anywhere."""
    named = [r for include in INCLUDES if include != "CarePlan:patient" for r in named_by(view, include)]
    shown = {(r["resourceType"], r["id"]) for r in named}
    orgs = [organization(o) for o in view.organisations.values() if ("Organization", str(o.id)) not in shown]
    roles = staff_roles(view)
    people = [practitioner_role(view, p) for p in roles]
    people += [practitioner(view.staff[i]) for i in dict.fromkeys(p.staff_member_id for p in roles) if i]
    return [care_plan(view), *named, *orgs, *people]


def searchset(
    base: str, resources: list[Json], self_url: str, next_url: str | None, included: Iterable[Json] = ()
) -> Json:
    return clean(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [
                {"relation": "self", "url": self_url},
                {"relation": "next", "url": next_url} if next_url else None,
            ],
            "entry": [
                {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
                for mode, rs in (("match", resources), ("include", _unique(included)))
                for r in rs
            ],
        }
    )


def _unique(resources: Iterable[Json]) -> list[Json]:
    """Each resource once (plans of one patient name the same Patient and Organizations)."""
    seen: dict[tuple[str, str], Json] = {}
    for r in resources:
        seen.setdefault((r["resourceType"], r["id"]), r)
    return list(seen.values())


def operation_outcome(code: str, text: str, severity: str = "error") -> Json:
    """An issue in Swedish and English, never a stack trace. `code`: FHIR's IssueType."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": text}}],
    }


def task_resource() -> Json:
    """Discharge notices in (http.fhir.discharge says what a Task must hold)."""
    return {
        "type": "Task",
        "interaction": [{"code": "create"}, {"code": "read"}],
        "documentation": "Utskrivningsklar (lag 2017:612): ett journalsystem med scope system/Task.write skickar "
        "en Task med status requested, code urn:sip-tjansten:fhir:CodeSystem:task-code|utskrivningsklar, "
        f"identifier (samma igen blir samma Task), for = patienten ({PERSONNUMMER}), owner = vårdcentralen "
        f"({HSA_ID}) och authoredOn; tjänsten flaggar enhetens öppna plan eller startar en, svarar 201 med "
        "Task (focus = CarePlan). Läsning: bara avsändarens organisation. / Ready for discharge: a record "
        "system with system/Task.write posts a Task with status requested, that code, an identifier (the "
        "same again is the same Task), for = the patient, owner = the primary-care unit (HSA-id) and "
        "authoredOn; the service flags the unit's open plan or starts one and answers 201 with the Task "
        "(focus = the CarePlan). Read: the posting organisation only.",
    }


# Changed whenever what is implemented changes (CapabilityStatement.date).
CAPABILITIES_DATE = "2026-12-02"


def subscription_resource() -> Json:
    """Record systems' rest-hooks (http.fhir.subscriptions; notify.subscriptions, the outbox)."""
    return {
        "type": "Subscription",
        "interaction": [{"code": "create"}, {"code": "read"}, {"code": "delete"}, {"code": "search-type"}],
        "documentation": "Journalsystem (systemklient, system/Subscription.write och system/CarePlan.read) "
        "prenumererar på fastställda planer: criteria 'CarePlan?status=active', channel.type 'rest-hook', "
        "payload application/fhir+json, id-only (en history-Bundle enligt Subscriptions Backport IG; "
        "läs sedan planen med egen token). Bara för planer organisationen får läsa. Signerad: "
        "X-SIP-Signature: t=<unix-sekunder>,v1=<hex HMAC-SHA256 med hemligheten över '<t>.<kropp>'>; "
        "hemligheten visas en gång, när prenumerationen skapas. Nya försök vid fel; status 'error' när "
        "den gett upp. / Record systems (a system client with system/Subscription.write and "
        "system/CarePlan.read) subscribe to finalized plans: criteria 'CarePlan?status=active', channel.type "
        "'rest-hook', payload application/fhir+json, id-only (a history Bundle as in the Subscriptions "
        "Backport IG; then read the plan with your own token). Only plans the organisation may read. Signed: "
        "X-SIP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 with the secret over '<t>.<body>'>; the "
        "secret is shown once, when the subscription is created. Retried on failure; status 'error' once "
        "given up.",
        "searchParam": [],
    }


def capability_statement(base: str) -> Json:
    """What /fhir implements, and nothing more: reads and one search, JSON, bearer tokens."""

    def read(type_: str, doc: str) -> Json:
        return {"type": type_, "interaction": [{"code": "read"}], "documentation": doc}

    care_plan_resource = read("CarePlan", "En samordnad individuell plan (SIP). / A coordinated individual plan.")
    care_plan_resource["interaction"] += [{"code": "vread"}, {"code": "search-type"}]
    care_plan_resource["versioning"] = "versioned"  # ETag W/"<versionId>"; If-None-Match answers 304
    care_plan_resource["conditionalRead"] = "not-match"
    care_plan_resource["documentation"] = (
        "En samordnad individuell plan (SIP). Versioner: den aktuella och varje fastställd version "
        "(_history/{vid}). / A coordinated individual plan. Versions: the current one and each finalized one."
    )
    care_plan_resource["searchInclude"] = list(INCLUDES)
    care_plan_resource["operation"] = [
        {
            "name": "everything",
            "definition": f"{CANONICAL}:OperationDefinition:CarePlan-everything",
            "documentation": "CarePlan/{id}/$everything: planen och allt den nämner i en Bundle. / "
            "The plan and everything it names in one Bundle.",
        }
    ]
    care_plan_resource["searchParam"] = [
        {
            "name": "subject",
            "type": "reference",
            "documentation": f"Endast :identifier med {PERSONNUMMER}|<12 siffror>. / "
            f"Only :identifier with {PERSONNUMMER}|<12 digits>.",
        },
        {
            "name": "status",
            "type": "token",
            "documentation": "draft, active, completed (flera med komma). / "
            "draft, active, completed (comma for several).",
        },
        {
            "name": "_lastUpdated",
            "type": "date",
            "documentation": "gt, ge, lt, le och ett datum (svensk tid) eller en tidpunkt; två för ett intervall. / "
            "gt, ge, lt, le and a date (Swedish time) or an instant; two for a range.",
        },
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CAPABILITIES_DATE,
        "publisher": "SIP-tjänsten",
        "kind": "instance",
        "software": {"name": "SIP-tjänsten"},
        "implementation": {"description": "SIP-tjänstens FHIR-API (läsning; utskrivningsmeddelanden in)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [MEDIA_TYPE, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Samma åtkomstregler som GraphQL; varje läsning loggas. / "
                "The same access rules as GraphQL; every read is logged. "
                "Sökningar med okända parametrar avvisas (400). / Searches with unknown parameters are refused (400).",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer-token från tjänstens OIDC-utfärdare: personal och invånare, eller "
                    "ett journalsystem med client credentials (SMART Backend Services), bundet till en "
                    "organisation (HSA-id) och med scopes system/*.read eller system/<Typ>.read; det läser vad "
                    "organisationens personal får läsa. / A bearer token from the service's OIDC issuer: staff "
                    "and citizens, or a record system with client credentials (SMART Backend Services), bound "
                    "to an organisation (HSA-id) with scopes system/*.read or system/<Type>.read; it reads what "
                    "that organisation's staff may read. Utskrivningsmeddelanden (Task) kräver system/Task.write. / "
                    "Discharge notices (Task) need system/Task.write.",
                },
                "resource": [
                    care_plan_resource,
                    read("CareTeam", "Planens deltagare; id som planens. / The plan's participants; the plan's id."),
                    read("Goal", "Patientens mål med egna ord. / The patient's goals in their own words."),
                    read("Patient", "Patienten i en plan man får läsa. / The patient of a plan one may read."),
                    read("Organization", "Organisationer med HSA-id. / Organisations with their HSA-id."),
                    read(
                        "Consent",
                        "Samtycket: organisationer, närstående, undantag, återkallelse. / "
                        "The consent: organisations, relatives, exclusions, withdrawal.",
                    ),
                    read(
                        "Appointment",
                        "Planens möten, deltagare och närvaro. / The plan's meetings, participants, attendance.",
                    ),
                    read(
                        "Provenance",
                        "Vem som fastställde och godkände vilken version. / Who finalized and approved which version.",
                    ),
                    subscription_resource(),
                    read(
                        "PractitionerRole",
                        "En personals roll i en plan (CareTeam.participant.member): vem, organisation, roll. / "
                        "A staff member's role in a plan (CareTeam.participant.member): who, organisation, role.",
                    ),
                    read(
                        "Practitioner",
                        "Personal med HSA-id, för den som får läsa ett CareTeam de ingår i. / "
                        "Staff with their HSA-id, to whoever may read a CareTeam they are on.",
                    ),
                    task_resource(),
                ],
            }
        ],
    }
