"""Readiness rules, one by one, and a property: a plan that breaks any rule is never ready."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sip_service.models.identity import OrganisationKind
from sip_service.models.plans import ParticipantKind
from sip_service.plans import rules
from sip_service.plans.rules import ActionFacts, Code, GoalFacts, ParticipantFacts, PlanFacts

TODAY = date(2026, 11, 24)
REGION, MUNI, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
PATIENT = ParticipantFacts(uuid.uuid4(), ParticipantKind.PATIENT)
NURSE = ParticipantFacts(uuid.uuid4(), ParticipantKind.STAFF, REGION)
PLANNER = ParticipantFacts(uuid.uuid4(), ParticipantKind.STAFF, MUNI)
SON = ParticipantFacts(uuid.uuid4(), ParticipantKind.RELATIVE, wanted_by_patient=True)
DAUGHTER = ParticipantFacts(uuid.uuid4(), ParticipantKind.RELATIVE, wanted_by_patient=False)
EXTERNAL = ParticipantFacts(uuid.uuid4(), ParticipantKind.EXTERNAL)


def ready_plan() -> PlanFacts:
    return PlanFacts(
        version=7,
        participants=(PATIENT, NURSE, PLANNER, SON, DAUGHTER, EXTERNAL),
        organisation_kinds={
            REGION: OrganisationKind.REGION,
            MUNI: OrganisationKind.MUNICIPALITY,
            OTHER: OrganisationKind.OTHER,
        },
        consented_organisations=frozenset({REGION, MUNI}),
        overall_responsible_org_id=MUNI,
        goals=(GoalFacts(uuid.uuid4(), PATIENT.id),),
        actions=(ActionFacts(uuid.uuid4(), REGION, None), ActionFacts(uuid.uuid4(), None, EXTERNAL.id)),
        follow_up_date=TODAY + timedelta(days=30),
        attended=frozenset({PATIENT.id}),
        invited=frozenset({PATIENT.id, SON.id}),
        relatives_decided=True,
        approved_versions=frozenset({7}),
    )


def blocked(facts: PlanFacts) -> set[Code]:
    return {b.code for b in rules.readiness(facts, TODAY).blockers}


def test_a_complete_plan_is_ready() -> None:
    assert rules.readiness(ready_plan(), TODAY).ready


def test_every_blocker_has_both_languages() -> None:
    empty = dataclasses.replace(
        ready_plan(),
        participants=(PATIENT, SON),
        consented_organisations=None,
        overall_responsible_org_id=None,
        goals=(),
        actions=(),
        follow_up_date=None,
        attended=frozenset(),
        invited=frozenset(),
        relatives_decided=False,
        approved_versions=frozenset(),
    )
    result = rules.readiness(empty, TODAY)
    assert {b.code for b in result.blockers} == set(Code)
    assert all(b.message_sv and b.message_en and b.message_sv != b.message_en for b in result.blockers)


def test_consent_must_cover_every_participating_organisation() -> None:
    assert blocked(dataclasses.replace(ready_plan(), consented_organisations=None)) == {Code.CONSENT}
    partial = rules.readiness(dataclasses.replace(ready_plan(), consented_organisations=frozenset({REGION})), TODAY)
    assert [(b.code, b.subject) for b in partial.blockers] == [(Code.CONSENT, rules.Subject("Organisation", MUNI))]


def test_region_and_municipality_must_both_take_part() -> None:
    only_region = dataclasses.replace(
        ready_plan(), participants=(PATIENT, NURSE, EXTERNAL), overall_responsible_org_id=REGION
    )
    assert Code.CROSS_ORGANISATION in blocked(only_region)


def test_overall_responsibility_lies_with_a_participating_region_or_municipality() -> None:
    assert blocked(dataclasses.replace(ready_plan(), overall_responsible_org_id=None)) == {Code.OVERALL_RESPONSIBILITY}
    assert blocked(dataclasses.replace(ready_plan(), overall_responsible_org_id=OTHER)) == {Code.OVERALL_RESPONSIBILITY}


def test_goals_must_come_from_the_patient_side() -> None:
    staff_goal = dataclasses.replace(ready_plan(), goals=(GoalFacts(uuid.uuid4(), NURSE.id),))
    assert blocked(staff_goal) == {Code.PATIENT_GOALS}
    rep = ParticipantFacts(uuid.uuid4(), ParticipantKind.REPRESENTATIVE)
    by_rep = dataclasses.replace(
        ready_plan(), participants=(*ready_plan().participants, rep), goals=(GoalFacts(uuid.uuid4(), rep.id),)
    )
    assert blocked(by_rep) == set()


def test_actions_need_exactly_one_participating_responsible_party() -> None:
    assert blocked(dataclasses.replace(ready_plan(), actions=())) == {Code.ACTIONS}
    for action in (
        ActionFacts(uuid.uuid4(), None, None),
        ActionFacts(uuid.uuid4(), REGION, EXTERNAL.id),
        ActionFacts(uuid.uuid4(), OTHER, None),
        ActionFacts(uuid.uuid4(), None, NURSE.id),
    ):
        result = rules.readiness(dataclasses.replace(ready_plan(), actions=(action,)), TODAY)
        assert [(b.code, b.subject.id) for b in result.blockers] == [(Code.ACTIONS, action.id)]


def test_follow_up_must_be_after_today() -> None:
    assert blocked(dataclasses.replace(ready_plan(), follow_up_date=TODAY)) == {Code.FOLLOW_UP}
    assert blocked(dataclasses.replace(ready_plan(), follow_up_date=None)) == {Code.FOLLOW_UP}


def test_the_patient_side_must_have_attended() -> None:
    assert blocked(dataclasses.replace(ready_plan(), attended=frozenset({NURSE.id, SON.id}))) == {Code.PATIENT_ATTENDED}


def test_relatives_decision_and_invitations() -> None:
    assert blocked(dataclasses.replace(ready_plan(), relatives_decided=False)) == {Code.RELATIVES_DECIDED}
    missing = rules.readiness(dataclasses.replace(ready_plan(), invited=frozenset({PATIENT.id})), TODAY)
    assert [(b.code, b.subject.id) for b in missing.blockers] == [(Code.RELATIVES_INVITED, SON.id)]


def test_approval_holds_for_one_version_only() -> None:
    assert blocked(dataclasses.replace(ready_plan(), version=8)) == {Code.PATIENT_APPROVED}


BREAKERS = {
    Code.CONSENT: lambda f: dataclasses.replace(f, consented_organisations=frozenset({REGION})),
    Code.CROSS_ORGANISATION: lambda f: dataclasses.replace(
        f, participants=tuple(p for p in f.participants if p is not PLANNER)
    ),
    Code.OVERALL_RESPONSIBILITY: lambda f: dataclasses.replace(f, overall_responsible_org_id=None),
    Code.PATIENT_GOALS: lambda f: dataclasses.replace(f, goals=()),
    Code.ACTIONS: lambda f: dataclasses.replace(f, actions=(*f.actions, ActionFacts(uuid.uuid4(), None, None))),
    Code.FOLLOW_UP: lambda f: dataclasses.replace(f, follow_up_date=TODAY - timedelta(days=1)),
    Code.PATIENT_ATTENDED: lambda f: dataclasses.replace(f, attended=frozenset()),
    Code.RELATIVES_DECIDED: lambda f: dataclasses.replace(f, relatives_decided=False),
    Code.RELATIVES_INVITED: lambda f: dataclasses.replace(f, invited=frozenset({PATIENT.id})),
    Code.PATIENT_APPROVED: lambda f: dataclasses.replace(f, approved_versions=frozenset({f.version - 1})),
}


@given(st.sets(st.sampled_from(list(Code)), min_size=1), st.integers(min_value=0, max_value=400))
@settings(deadline=None)  # a property of pure rules: how long an example takes on a busy machine is no failure
def test_a_plan_that_breaks_any_rule_is_never_ready(broken: set[Code], days: int) -> None:
    facts = dataclasses.replace(ready_plan(), follow_up_date=TODAY + timedelta(days=days + 1))
    for code in broken:
        facts = BREAKERS[code](facts)
    result = rules.readiness(facts, TODAY)
    assert not result.ready
    # Breaks can mask each other (no municipality left: nothing uncovered by consent), never all.
    assert broken & {b.code for b in result.blockers}
