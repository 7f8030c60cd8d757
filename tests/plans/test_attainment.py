"""The follow-up's checks (plans.attainment), one by one: what a follow-up must hold to be recorded."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sip_service.models.plans import ActionOutcome, PlanStatus
from sip_service.plans import attainment
from sip_service.plans.attainment import (
    Attainment,
    FollowUpCode,
    FollowUpEntry,
    FollowUpFacts,
    Levels,
    MeetingFacts,
    RatingEntry,
)

TODAY = date(2026, 6, 15)
FULL = Levels("Kan inte gå ut", "Går ut med hjälp", "Går till affären själv", "Går promenader", "Går i skogen")
DESCRIBED, BARE = uuid.uuid4(), uuid.uuid4()  # a goal with its scale described, one without
OPEN, DONE = uuid.uuid4(), uuid.uuid4()  # a planned action, a finished one
MEETING = uuid.uuid4()


def facts(**changes: object) -> FollowUpFacts:
    f = FollowUpFacts(
        status=PlanStatus.ACTIVE,
        last_held_on=TODAY - timedelta(days=90),
        goals={DESCRIBED: FULL, BARE: Levels()},
        open_actions=frozenset({OPEN}),
        closed_actions=frozenset({DONE}),
        meeting=MeetingFacts(MEETING, follow_up=True, cancelled=False, day=TODAY, already_followed_up=False),
    )
    return dataclasses.replace(f, **changes)  # type: ignore[arg-type]


def entry(**changes: object) -> FollowUpEntry:
    e = FollowUpEntry(
        held_on=TODAY,
        next_follow_up_date=TODAY + timedelta(days=90),
        ratings=[RatingEntry(DESCRIBED, 0), RatingEntry(BARE, None)],
        reviews=[(OPEN, ActionOutcome.CONTINUED)],
    )
    return dataclasses.replace(e, **changes)  # type: ignore[arg-type]


def refused(f: FollowUpFacts | None = None, e: FollowUpEntry | None = None) -> FollowUpCode | None:
    r = attainment.refusal(f or facts(), e or entry(), TODAY)
    assert r is None or (r.message_sv and r.message_en and r.message_sv != r.message_en)
    return None if r is None else r.code


def test_a_complete_follow_up_is_recorded() -> None:
    assert refused() is None
    assert refused(facts(status=PlanStatus.REVISING)) is None
    assert refused(facts(meeting=None, last_held_on=None)) is None


def test_only_a_finalized_open_plan_is_followed_up() -> None:
    assert refused(facts(status=PlanStatus.DRAFT)) is FollowUpCode.PLAN_NOT_FINALIZED
    assert refused(facts(status=PlanStatus.CLOSED)) is FollowUpCode.PLAN_CLOSED


def test_when_it_was_held_and_the_next_date() -> None:
    tomorrow = TODAY + timedelta(days=1)
    assert refused(facts(meeting=None), entry(held_on=tomorrow)) is FollowUpCode.HELD_IN_FUTURE
    assert refused(facts(last_held_on=tomorrow), entry()) is FollowUpCode.HELD_BEFORE_PREVIOUS
    assert refused(facts(last_held_on=TODAY)) is None  # the same day is in order
    assert refused(e=entry(next_follow_up_date=TODAY)) is FollowUpCode.NEXT_DATE_NOT_AFTER


def test_the_meeting_must_be_a_live_follow_up_meeting_of_that_day_not_used_before() -> None:
    m = facts().meeting
    assert m is not None
    for change, code in (
        ({"follow_up": False}, FollowUpCode.MEETING_NOT_FOLLOW_UP),
        ({"cancelled": True}, FollowUpCode.MEETING_CANCELLED),
        ({"already_followed_up": True}, FollowUpCode.MEETING_ALREADY_FOLLOWED_UP),
        ({"day": TODAY - timedelta(days=1)}, FollowUpCode.MEETING_ON_ANOTHER_DAY),
    ):
        r = attainment.refusal(facts(meeting=dataclasses.replace(m, **change)), entry(), TODAY)  # type: ignore[arg-type]
        assert r is not None and r.code is code and r.subject_id == MEETING


def test_every_goal_is_rated_or_explicitly_not_rated() -> None:
    r = attainment.refusal(facts(), entry(ratings=[RatingEntry(DESCRIBED, 1)]), TODAY)
    assert r is not None and r.code is FollowUpCode.GOAL_NOT_RATED and r.subject_id == BARE
    twice = [RatingEntry(DESCRIBED, 1), RatingEntry(DESCRIBED, 0), RatingEntry(BARE, None)]
    assert refused(e=entry(ratings=twice)) is FollowUpCode.GOAL_RATED_TWICE
    for score in (-3, 3):
        assert refused(e=entry(ratings=[RatingEntry(DESCRIBED, score), RatingEntry(BARE, None)])) is (
            FollowUpCode.SCORE_OUT_OF_RANGE
        )


def test_a_goal_is_rated_only_against_all_five_levels_described() -> None:
    rated_bare = [RatingEntry(DESCRIBED, 0), RatingEntry(BARE, -1)]
    r = attainment.refusal(facts(), entry(ratings=rated_bare), TODAY)
    assert r is not None and r.code is FollowUpCode.LEVELS_MISSING and r.subject_id == BARE
    only_expected = [RatingEntry(DESCRIBED, 0), RatingEntry(BARE, 0, Levels(expected="Som vi hoppades"))]
    assert refused(e=entry(ratings=only_expected)) is FollowUpCode.LEVELS_MISSING
    # the follow-up may describe the missing levels, and then rate
    assert refused(e=entry(ratings=[RatingEntry(DESCRIBED, 0), RatingEntry(BARE, -1, FULL)])) is None


def test_a_described_level_is_not_rewritten_at_the_follow_up() -> None:
    rewritten = Levels(expected="Något annat")
    ratings = [RatingEntry(DESCRIBED, 0, rewritten), RatingEntry(BARE, None)]
    assert refused(e=entry(ratings=ratings)) is FollowUpCode.LEVEL_ALREADY_DESCRIBED
    same = [RatingEntry(DESCRIBED, 0, FULL), RatingEntry(BARE, None)]
    assert refused(e=entry(ratings=same)) is None


def test_every_open_action_gets_one_outcome_and_closed_ones_none() -> None:
    r = attainment.refusal(facts(), entry(reviews=[]), TODAY)
    assert r is not None and r.code is FollowUpCode.ACTION_NOT_REVIEWED and r.subject_id == OPEN
    twice = [(OPEN, ActionOutcome.DONE), (OPEN, ActionOutcome.CHANGED)]
    assert refused(e=entry(reviews=twice)) is FollowUpCode.ACTION_REVIEWED_TWICE
    closed = [(OPEN, ActionOutcome.DONE), (DONE, ActionOutcome.DONE)]
    assert refused(e=entry(reviews=closed)) is FollowUpCode.ACTION_NOT_OPEN


def test_a_changed_action_revises_the_plan() -> None:
    assert attainment.revises_plan([(OPEN, ActionOutcome.CHANGED)])
    assert not attainment.revises_plan([(OPEN, ActionOutcome.DONE), (DONE, ActionOutcome.CONTINUED)])


def test_filling_in_levels_keeps_what_is_described() -> None:
    partial = Levels(less="Går ut med hjälp", expected="Själv")
    filled = partial.filled_from(FULL)
    assert filled.less == "Går ut med hjälp" and filled.expected == "Själv" and filled.much_more == FULL.much_more
    assert filled.complete and not partial.complete


@given(st.integers(-2, 2))
def test_a_score_in_words_round_trips(score: int) -> None:
    words = Attainment.of(score)
    assert list(Attainment).index(words) - 2 == score
    assert Attainment.of(0) is Attainment.EXPECTED


@given(
    status=st.sampled_from(list(PlanStatus)),
    held=st.integers(-30, 5),
    gap=st.integers(-5, 100),
    rate_bare=st.booleans(),
    review=st.booleans(),
)
def test_whatever_is_wrong_the_answer_is_one_refusal_or_none(
    status: PlanStatus, held: int, gap: int, rate_bare: bool, review: bool
) -> None:
    e = entry(
        held_on=TODAY + timedelta(days=held),
        next_follow_up_date=TODAY + timedelta(days=held + gap),
        ratings=[RatingEntry(DESCRIBED, 1), RatingEntry(BARE, 1 if rate_bare else None)],
        reviews=[(OPEN, ActionOutcome.DONE)] if review else [],
    )
    f = facts(status=status, meeting=None, last_held_on=None)
    ok = status in (PlanStatus.ACTIVE, PlanStatus.REVISING) and held <= 0 and gap > 0 and not rate_bare and review
    assert (attainment.refusal(f, e, TODAY) is None) == ok
