"""The rules that refuse a change outright: removing a participant the plan cannot do without, and
a second open plan for a patient unless it is asked for."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

from sip_service.models.plans import ParticipantKind as Kind
from sip_service.plans import rules
from sip_service.plans.rules import ActionFacts, OpenPlan, ParticipantFacts, PlanFacts, RemovalCode

REGION, MUNI = uuid.uuid4(), uuid.uuid4()
PATIENT = ParticipantFacts(uuid.uuid4(), Kind.PATIENT)
NURSE = ParticipantFacts(uuid.uuid4(), Kind.STAFF, REGION, is_coordinator=True)
PLANNER = ParticipantFacts(uuid.uuid4(), Kind.STAFF, MUNI)
COLLEAGUE = ParticipantFacts(uuid.uuid4(), Kind.STAFF, REGION)
SON = ParticipantFacts(uuid.uuid4(), Kind.RELATIVE, wanted_by_patient=True)
GOD_MAN = ParticipantFacts(uuid.uuid4(), Kind.REPRESENTATIVE)
EXTERNAL = ParticipantFacts(uuid.uuid4(), Kind.EXTERNAL)
REGION_ACTION = ActionFacts(uuid.uuid4(), REGION, None)
EXTERNAL_ACTION = ActionFacts(uuid.uuid4(), None, EXTERNAL.id)
TODAY = date(2026, 12, 1)


def plan(*extra: ParticipantFacts, actions: tuple[ActionFacts, ...] = (REGION_ACTION, EXTERNAL_ACTION)) -> PlanFacts:
    """Nurse (coordinator, region), planner (municipality, which holds overall responsibility),
    patient, son, an external party, and whoever else; by default a planned action of the region's
    and one of the external party's."""
    return PlanFacts(
        version=3,
        participants=(PATIENT, NURSE, PLANNER, SON, EXTERNAL, *extra),
        organisation_kinds={},
        consented_organisations=frozenset({REGION, MUNI}),
        overall_responsible_org_id=MUNI,
        goals=(),
        actions=actions,
        follow_up_date=date(2027, 1, 1),
        attended=frozenset(),
        invited=frozenset(),
        relatives_decided=True,
    )


def refusal(facts: PlanFacts, who: ParticipantFacts) -> RemovalCode | None:
    found = rules.removal_refusal(facts, who.id)
    return found.code if found else None


def test_someone_the_plan_can_do_without_may_be_removed() -> None:
    assert refusal(plan(GOD_MAN), GOD_MAN) is None  # their goals and attendance stay, as history
    assert refusal(plan(), SON) is None
    assert refusal(plan(COLLEAGUE), COLLEAGUE) is None  # the region still takes part through the nurse


def test_the_patient_is_never_removed() -> None:
    assert refusal(plan(), PATIENT) is RemovalCode.PATIENT_NOT_REMOVABLE


def test_the_last_coordinator_stays_until_there_is_another() -> None:
    assert refusal(plan(COLLEAGUE), NURSE) is RemovalCode.LAST_COORDINATOR
    another_coordinator = ParticipantFacts(uuid.uuid4(), Kind.STAFF, REGION, is_coordinator=True)
    assert refusal(plan(another_coordinator), NURSE) is None


def test_the_overall_responsible_organisation_keeps_someone_in_the_plan() -> None:
    assert refusal(plan(), PLANNER) is RemovalCode.LAST_OF_OVERALL_RESPONSIBLE_ORGANISATION
    another_planner = ParticipantFacts(uuid.uuid4(), Kind.STAFF, MUNI)
    assert refusal(plan(another_planner), PLANNER) is None


def test_open_actions_are_handed_over_or_finished_first() -> None:
    found = rules.removal_refusal(plan(), EXTERNAL.id)
    assert found is not None and found.code is RemovalCode.RESPONSIBLE_FOR_OPEN_ACTIONS
    assert found.action_ids == (EXTERNAL_ACTION.id,)
    done = ActionFacts(EXTERNAL_ACTION.id, None, EXTERNAL.id, open=False)
    assert refusal(plan(actions=(REGION_ACTION, done)), EXTERNAL) is None
    # Staff act through their organisation: its last participant would leave its open actions behind.
    coordinator = ParticipantFacts(uuid.uuid4(), Kind.STAFF, MUNI, is_coordinator=True)
    last_of_region = rules.removal_refusal(plan(coordinator), NURSE.id)
    assert last_of_region is not None and last_of_region.action_ids == (REGION_ACTION.id,)
    assert refusal(plan(coordinator, COLLEAGUE), NURSE) is None  # the colleague's organisation keeps it


def test_a_finished_action_keeps_the_party_that_did_it() -> None:
    """Once the external party is removed (their action done), readiness does not ask to rewrite
    who did it; an open action of someone no longer taking part still blocks."""
    without_them = (PATIENT, NURSE, PLANNER, SON)
    done = ActionFacts(EXTERNAL_ACTION.id, None, EXTERNAL.id, open=False)
    finished = dataclasses.replace(plan(actions=(REGION_ACTION, done)), participants=without_them)
    assert rules.actions(finished, TODAY) == []
    still_open = dataclasses.replace(plan(), participants=without_them)
    assert [b.subject for b in rules.actions(still_open, TODAY)] == [rules.Subject("Action", EXTERNAL_ACTION.id)]


def test_every_refusal_says_what_to_do_in_both_languages() -> None:
    found = [
        rules.removal_refusal(facts, who.id)
        for facts, who in ((plan(), PATIENT), (plan(COLLEAGUE), NURSE), (plan(), PLANNER), (plan(), EXTERNAL))
    ]
    assert [r.code for r in found if r] == list(RemovalCode)
    for r in found:
        assert r is not None and r.message_sv and r.message_en and r.message_sv != r.message_en


def test_a_second_open_plan_only_when_asked_for() -> None:
    mine, hidden = OpenPlan(uuid.uuid4(), visible=True), OpenPlan(uuid.uuid4(), visible=False)
    assert rules.another_open_plan([], allowed=False) is None
    assert rules.another_open_plan([mine], allowed=True) is None
    named = rules.another_open_plan([hidden, mine], allowed=False)
    assert named is not None and named.code == rules.OPEN_PLAN_EXISTS and named.existing_plan_id == mine.id
    unnamed = rules.another_open_plan([hidden], allowed=False)
    assert unnamed is not None and unnamed.code == rules.OPEN_PLAN_EXISTS and unnamed.existing_plan_id is None
    assert str(hidden.id) not in unnamed.message_sv + unnamed.message_en
    assert unnamed.message_sv != named.message_sv and unnamed.message_en != named.message_en
