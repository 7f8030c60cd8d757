"""Readiness: may this plan be finalized? Pure functions over plain facts, no I/O.

Each rule returns blockers with a stable code, a plain-language message in Swedish and English,
and the subject it is about, so that a checklist can show each one next to the button that
clears it and `finalizePlan` can refuse with exactly the same list.

Below them, the rules that refuse a change outright (`Refusal`): removing a participant the plan
cannot do without, and creating a second open plan for a patient without saying so.

Over 400 lines on purpose: the ten rules, their facts and the refusals are one statement of what a
plan must be, read together (and listed in ARCHITECTURE.md); each function is short.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sip_service.kit.errors import DomainError
from sip_service.models.identity import OrganisationKind as OrgKind
from sip_service.models.plans import ParticipantKind as Role

# The patient, or a legal representative acting for them.
PATIENT_SIDE = frozenset({Role.PATIENT, Role.REPRESENTATIVE})


@dataclass(frozen=True)
class ParticipantFacts:
    id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID | None = None
    wanted_by_patient: bool | None = None
    is_coordinator: bool = False


@dataclass(frozen=True)
class GoalFacts:
    id: uuid.UUID
    expressed_by_id: uuid.UUID | None


@dataclass(frozen=True)
class ActionFacts:
    id: uuid.UUID
    responsible_org_id: uuid.UUID | None
    responsible_participant_id: uuid.UUID | None
    open: bool = True  # planned or ongoing (not done; cancelled actions are left out altogether)


@dataclass(frozen=True)
class PlanFacts:
    version: int
    # Those who take part now: someone removed from the plan counts for nothing here.
    participants: tuple[ParticipantFacts, ...]
    organisation_kinds: dict[uuid.UUID, OrgKind]
    # Organisations covered by the patient's active consent; None when there is none.
    consented_organisations: frozenset[uuid.UUID] | None
    overall_responsible_org_id: uuid.UUID | None
    goals: tuple[GoalFacts, ...]
    actions: tuple[ActionFacts, ...]
    follow_up_date: date | None
    # Participants who attended a planning meeting (by media, or attested by named staff).
    attended: frozenset[uuid.UUID]
    # Participants invited to a planning meeting that is not cancelled.
    invited: frozenset[uuid.UUID]
    relatives_decided: bool
    approved_versions: frozenset[int] = field(default_factory=frozenset)

    @property
    def participating_organisations(self) -> list[uuid.UUID]:
        seen: dict[uuid.UUID, None] = {}
        for p in self.participants:
            if p.role is Role.STAFF and p.organisation_id is not None:
                seen[p.organisation_id] = None
        return list(seen)

    def by_role(self, roles: Iterable[Role]) -> list[ParticipantFacts]:
        wanted = frozenset(roles)
        return [p for p in self.participants if p.role in wanted]


class Code(StrEnum):
    CONSENT = "CONSENT"
    CROSS_ORGANISATION = "CROSS_ORGANISATION"
    OVERALL_RESPONSIBILITY = "OVERALL_RESPONSIBILITY"
    PATIENT_GOALS = "PATIENT_GOALS"
    ACTIONS = "ACTIONS"
    FOLLOW_UP = "FOLLOW_UP"
    PATIENT_ATTENDED = "PATIENT_ATTENDED"
    RELATIVES_DECIDED = "RELATIVES_DECIDED"
    RELATIVES_INVITED = "RELATIVES_INVITED"
    PATIENT_APPROVED = "PATIENT_APPROVED"


@dataclass(frozen=True)
class Subject:
    """What a blocker is about: the plan itself, or one object in it."""

    kind: str  # Plan | Organisation | Action | Participant
    id: uuid.UUID | None = None


PLAN = Subject("Plan")


@dataclass(frozen=True)
class Blocker:
    code: Code
    message_sv: str
    message_en: str
    subject: Subject = PLAN


@dataclass(frozen=True)
class Readiness:
    blockers: tuple[Blocker, ...]

    @property
    def ready(self) -> bool:
        return not self.blockers


def awaiting_consent(
    participants: Iterable[ParticipantFacts], consented: frozenset[uuid.UUID] | None, creating_org_id: uuid.UUID
) -> list[uuid.UUID]:
    """The organisations with staff taking part that the patient's active consent does not cover
    (all of them while there is no consent), but the one that created the plan (it sees its plan
    anyway): their staff cannot see the plan, and are sent no invitation, until it does."""
    seen: dict[uuid.UUID, None] = {}
    for p in participants:
        covered = p.organisation_id == creating_org_id or (consented is not None and p.organisation_id in consented)
        if p.role is Role.STAFF and p.organisation_id is not None and not covered:
            seen[p.organisation_id] = None
    return list(seen)


def consent(f: PlanFacts, today: date) -> list[Blocker]:
    if f.consented_organisations is None:
        return [
            Blocker(
                Code.CONSENT,
                "Patienten har inte gett samtycke till planen.",
                "The patient has not given consent to the plan.",
            )
        ]
    return [
        Blocker(
            Code.CONSENT,
            "Samtycket omfattar inte en av de deltagande organisationerna.",
            "The consent does not cover one of the participating organisations.",
            Subject("Organisation", org),
        )
        for org in f.participating_organisations
        if org not in f.consented_organisations
    ]


def cross_organisation(f: PlanFacts, today: date) -> list[Blocker]:
    kinds = {f.organisation_kinds.get(org) for org in f.participating_organisations}
    out = []
    if OrgKind.REGION not in kinds:
        out.append(
            Blocker(
                Code.CROSS_ORGANISATION,
                "Ingen från regionen (till exempel vårdcentralen) deltar ännu.",
                "Nobody from the region (for example the health centre) takes part yet.",
            )
        )
    if OrgKind.MUNICIPALITY not in kinds:
        out.append(
            Blocker(
                Code.CROSS_ORGANISATION,
                "Ingen från kommunen deltar ännu.",
                "Nobody from the municipality takes part yet.",
            )
        )
    return out


def overall_responsibility(f: PlanFacts, today: date) -> list[Blocker]:
    org = f.overall_responsible_org_id
    if (
        org is not None
        and org in f.participating_organisations
        and f.organisation_kinds.get(org) in (OrgKind.REGION, OrgKind.MUNICIPALITY)
    ):
        return []
    return [
        Blocker(
            Code.OVERALL_RESPONSIBILITY,
            "Bestäm vilken deltagande organisation (region eller kommun) som har huvudansvaret.",
            "Decide which participating organisation (region or municipality) holds overall responsibility.",
        )
    ]


def patient_goals(f: PlanFacts, today: date) -> list[Blocker]:
    patient_side = {p.id for p in f.by_role(PATIENT_SIDE)}
    if any(g.expressed_by_id in patient_side for g in f.goals):
        return []
    return [
        Blocker(
            Code.PATIENT_GOALS,
            "Skriv ner minst ett mål med patientens egna ord.",
            "Write down at least one goal in the patient's own words.",
        )
    ]


def actions(f: PlanFacts, today: date) -> list[Blocker]:
    if not f.actions:
        return [
            Blocker(
                Code.ACTIONS,
                "Planen har inga insatser ännu.",
                "The plan has no actions yet.",
            )
        ]
    orgs = set(f.participating_organisations)
    parties = {p.id for p in f.participants if p.role in (Role.EXTERNAL, Role.RELATIVE)}
    out = []
    for a in f.actions:
        has_org, has_party = a.responsible_org_id is not None, a.responsible_participant_id is not None
        takes_part = a.responsible_org_id in orgs or a.responsible_participant_id in parties
        # A finished action keeps the party that did it, even one who has since left the plan.
        ok = (has_org != has_party) and (takes_part or not a.open)
        if not ok:
            out.append(
                Blocker(
                    Code.ACTIONS,
                    "Insatsen saknar en ansvarig som deltar i planen.",
                    "The action has no responsible party that takes part in the plan.",
                    Subject("Action", a.id),
                )
            )
    return out


def follow_up(f: PlanFacts, today: date) -> list[Blocker]:
    if f.follow_up_date is not None and f.follow_up_date > today:
        return []
    return [
        Blocker(
            Code.FOLLOW_UP,
            "Sätt ett datum för uppföljning som ligger framåt i tiden.",
            "Set a follow-up date in the future.",
        )
    ]


def patient_attended(f: PlanFacts, today: date) -> list[Blocker]:
    if any(p.id in f.attended for p in f.by_role(PATIENT_SIDE)):
        return []
    return [
        Blocker(
            Code.PATIENT_ATTENDED,
            "Patienten (eller företrädaren) har inte varit med på ett planeringsmöte.",
            "The patient (or representative) has not attended a planning meeting.",
        )
    ]


def relatives_decided(f: PlanFacts, today: date) -> list[Blocker]:
    if f.relatives_decided:
        return []
    return [
        Blocker(
            Code.RELATIVES_DECIDED,
            "Patienten har inte sagt vilka närstående som ska vara med (eller att ingen ska vara med).",
            "The patient has not said which relatives should take part (or that none should).",
        )
    ]


def relatives_invited(f: PlanFacts, today: date) -> list[Blocker]:
    return [
        Blocker(
            Code.RELATIVES_INVITED,
            "En närstående som patienten vill ha med är inte kallad till planeringsmötet.",
            "A relative the patient wants to take part is not invited to the planning meeting.",
            Subject("Participant", p.id),
        )
        for p in f.by_role([Role.RELATIVE])
        if p.wanted_by_patient and p.id not in f.invited
    ]


def patient_approved(f: PlanFacts, today: date) -> list[Blocker]:
    if f.version in f.approved_versions:
        return []
    return [
        Blocker(
            Code.PATIENT_APPROVED,
            "Patienten (eller företrädaren) har inte godkänt den här versionen av planen.",
            "The patient (or representative) has not approved this version of the plan.",
        )
    ]


Rule = Callable[[PlanFacts, date], list[Blocker]]

RULES: tuple[Rule, ...] = (
    consent,
    cross_organisation,
    overall_responsibility,
    patient_goals,
    actions,
    follow_up,
    patient_attended,
    relatives_decided,
    relatives_invited,
    patient_approved,
)


def readiness(facts: PlanFacts, today: date) -> Readiness:
    return Readiness(tuple(b for rule in RULES for b in rule(facts, today)))


# ---- refusals: changes a plan cannot take --------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a change is refused: a stable code, and a plain-language message in Swedish and English
    that says what to do instead."""

    code: str
    message_sv: str
    message_en: str


class RemovalCode(StrEnum):
    PATIENT_NOT_REMOVABLE = "PATIENT_NOT_REMOVABLE"
    LAST_COORDINATOR = "LAST_COORDINATOR"
    LAST_OF_OVERALL_RESPONSIBLE_ORGANISATION = "LAST_OF_OVERALL_RESPONSIBLE_ORGANISATION"
    RESPONSIBLE_FOR_OPEN_ACTIONS = "RESPONSIBLE_FOR_OPEN_ACTIONS"


@dataclass(frozen=True)
class RemovalRefusal(Refusal):
    code: RemovalCode
    # RESPONSIBLE_FOR_OPEN_ACTIONS: the actions to hand over (or finish) first.
    action_ids: tuple[uuid.UUID, ...] = ()


def removal_refusal(f: PlanFacts, participant_id: uuid.UUID) -> RemovalRefusal | None:
    """Whether the plan can do without this participant (one who takes part now). Removing keeps
    their history; it is refused only where the plan would be left broken."""
    me = next(p for p in f.participants if p.id == participant_id)
    others = [p for p in f.participants if p.id != participant_id]
    if me.role is Role.PATIENT:
        return RemovalRefusal(
            RemovalCode.PATIENT_NOT_REMOVABLE,
            "Patienten kan inte tas bort ur sin egen plan. Om planen inte längre behövs kan den avslutas.",
            "The patient cannot be removed from their own plan. If the plan is no longer needed, close it.",
        )
    if me.is_coordinator and not any(p.is_coordinator for p in others):
        return RemovalRefusal(
            RemovalCode.LAST_COORDINATOR,
            "Det här är planens enda samordnare. Lägg först till någon annan som samordnare.",
            "This is the plan's only coordinator. Add someone else as coordinator first.",
        )
    # Does their organisation go on taking part through someone else?
    org = me.organisation_id if me.role is Role.STAFF else None
    org_leaves = org is not None and not any(p.role is Role.STAFF and p.organisation_id == org for p in others)
    if org_leaves and org == f.overall_responsible_org_id:
        return RemovalRefusal(
            RemovalCode.LAST_OF_OVERALL_RESPONSIBLE_ORGANISATION,
            "Det här är den sista deltagaren från organisationen som har huvudansvaret för planen. "
            "Flytta huvudansvaret, eller lägg till någon annan från organisationen, först.",
            "This is the last participant from the organisation that holds overall responsibility for the "
            "plan. Move the overall responsibility, or add someone else from that organisation, first.",
        )
    open_actions = tuple(
        a.id
        for a in f.actions
        if a.open and (a.responsible_participant_id == me.id or (org_leaves and a.responsible_org_id == org))
    )
    if open_actions:
        return RemovalRefusal(
            RemovalCode.RESPONSIBLE_FOR_OPEN_ACTIONS,
            "Deltagaren ansvarar för insatser som är planerade eller pågår (själv, eller som den sista från "
            "sin organisation). Lämna över insatserna, eller markera dem som klara eller avbrutna, först.",
            "The participant is responsible for planned or ongoing actions (themself, or as the last one "
            "from their organisation). Hand the actions over, or mark them done or cancelled, first.",
            open_actions,
        )
    return None


OPEN_PLAN_EXISTS = "OPEN_PLAN_EXISTS"


@dataclass(frozen=True)
class OpenPlan:
    """A plan of the patient that is not closed, and whether the person creating a plan may see it."""

    id: uuid.UUID
    visible: bool


@dataclass(frozen=True)
class OpenPlanExists(Refusal):
    # The open plan to go to instead; None when the person creating may not see any of them.
    existing_plan_id: uuid.UUID | None = None


def another_open_plan(open_plans: Sequence[OpenPlan], *, allowed: bool) -> OpenPlanExists | None:
    """A patient normally has one open plan; a second is made only when asked for explicitly.
    A plan the person may not see is not named: the refusal then says only that one exists."""
    if allowed or not open_plans:
        return None
    shown = next((p for p in open_plans if p.visible), None)
    if shown is not None:
        return OpenPlanExists(
            OPEN_PLAN_EXISTS,
            "Patienten har redan en öppen plan. Arbeta vidare i den, eller skapa en till bara om det "
            "verkligen behövs två planer.",
            "The patient already has an open plan. Carry on with that one, or create another only if two "
            "plans are really needed.",
            shown.id,
        )
    return OpenPlanExists(
        OPEN_PLAN_EXISTS,
        "Patienten har redan en öppen plan, som du inte har tillgång till. Fråga patienten vem som samordnar "
        "den. Skapa en till bara om det verkligen behövs två planer.",
        "The patient already has an open plan, which you do not have access to. Ask the patient who "
        "coordinates it. Create another only if two plans are really needed.",
    )


class NotReady(DomainError):
    code = "NOT_READY"

    def __init__(self, blockers: Sequence[Blocker]) -> None:
        super().__init__("the plan cannot be finalized yet: " + ", ".join(b.code for b in blockers))
        self.blockers = list(blockers)


class Refused(DomainError):
    """The principal may do this kind of thing, but this time it would break a rule of the plan:
    `refusal` says which (its code is stable) and what to do instead, in Swedish and English."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message_en)
        self.code = refusal.code
        self.refusal = refusal
