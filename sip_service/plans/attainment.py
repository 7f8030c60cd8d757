"""The follow-up and Goal Attainment Scaling (GAS): pure checks over plain facts, no I/O.

At a follow-up the team and the patient rate each of the patient's goals on the goal's own scale,
-2 ... +2 against the expected level (0), and decide what happens to each open action. The scale's
five levels are described in plain words ("målskala") when the goal is set, or at the latest at the
first follow-up. What is decided here (and why):

- A goal is rated only when **all five** levels are described. The patient's page tells how it went
  in words, never by a number alone, and a rating means something only against a scale described
  beforehand (GAS guidance: describe the levels first, rate afterwards). The follow-up form may fill
  in levels still missing; it may not rewrite a described level after the fact.
- **Every goal is accounted for**: rated, or explicitly not rated this time (a goal set at this
  follow-up, say). A goal left out of the input refuses the follow-up, naming the goal.
- **Every open action** (planned or ongoing) gets an outcome: DONE (the action is marked done),
  CONTINUED (as it is), or CHANGED. A changed action is changed *with the patient*, so CHANGED puts
  an ACTIVE plan into revision: the patient approves the changed plan and it is finalized again.
- Only a finalized plan is followed up (ACTIVE, or REVISING, which was finalized before); not a
  draft, not a closed plan. It was held today or earlier, not before the previous follow-up, and on
  the day of its meeting when it had one (a follow-up meeting of the plan, not cancelled, not
  already followed up). The next follow-up date is after the day it was held.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sip_service.models.plans import ActionOutcome, PlanStatus
from sip_service.plans.rules import Refusal

SCORES = range(-2, 3)


class Attainment(StrEnum):
    """A score in words: how it went against what was hoped for (the expected level, 0)."""

    MUCH_LESS = "MUCH_LESS"  # -2
    LESS = "LESS"  # -1
    EXPECTED = "EXPECTED"  # 0
    MORE = "MORE"  # +1
    MUCH_MORE = "MUCH_MORE"  # +2

    @classmethod
    def of(cls, score: int) -> Attainment:
        return list(cls)[score + 2]


@dataclass(frozen=True)
class Levels:
    """A goal's scale, -2 ... +2, each level in plain words (None: not described)."""

    much_less: str | None = None
    less: str | None = None
    expected: str | None = None
    more: str | None = None
    much_more: str | None = None

    def by_score(self) -> dict[int, str | None]:
        return {-2: self.much_less, -1: self.less, 0: self.expected, 1: self.more, 2: self.much_more}

    @property
    def complete(self) -> bool:
        return all(v for v in self.by_score().values())

    def filled_from(self, given: Levels) -> Levels:
        """These levels with the described ones of `given` put in where none is described."""
        mine, theirs = self.by_score(), given.by_score()
        merged = {s: mine[s] or theirs[s] for s in SCORES}
        return Levels(merged[-2], merged[-1], merged[0], merged[1], merged[2])


class FollowUpCode(StrEnum):
    PLAN_NOT_FINALIZED = "PLAN_NOT_FINALIZED"
    PLAN_CLOSED = "PLAN_CLOSED"
    HELD_IN_FUTURE = "HELD_IN_FUTURE"
    HELD_BEFORE_PREVIOUS = "HELD_BEFORE_PREVIOUS"
    MEETING_NOT_FOLLOW_UP = "MEETING_NOT_FOLLOW_UP"
    MEETING_CANCELLED = "MEETING_CANCELLED"
    MEETING_ALREADY_FOLLOWED_UP = "MEETING_ALREADY_FOLLOWED_UP"
    MEETING_ON_ANOTHER_DAY = "MEETING_ON_ANOTHER_DAY"
    NEXT_DATE_NOT_AFTER = "NEXT_DATE_NOT_AFTER"
    GOAL_NOT_RATED = "GOAL_NOT_RATED"
    GOAL_RATED_TWICE = "GOAL_RATED_TWICE"
    SCORE_OUT_OF_RANGE = "SCORE_OUT_OF_RANGE"
    LEVELS_MISSING = "LEVELS_MISSING"
    LEVEL_ALREADY_DESCRIBED = "LEVEL_ALREADY_DESCRIBED"
    ACTION_NOT_REVIEWED = "ACTION_NOT_REVIEWED"
    ACTION_REVIEWED_TWICE = "ACTION_REVIEWED_TWICE"
    ACTION_NOT_OPEN = "ACTION_NOT_OPEN"


@dataclass(frozen=True)
class FollowUpRefusal(Refusal):
    code: FollowUpCode
    # The goal, action or meeting it is about, if any; `field` names the input.
    subject_id: uuid.UUID | None = None
    field: str | None = None


@dataclass(frozen=True)
class MeetingFacts:
    id: uuid.UUID
    follow_up: bool  # its purpose is FOLLOW_UP
    cancelled: bool
    day: date  # the Stockholm date it starts
    already_followed_up: bool  # a follow-up was recorded for it before


@dataclass(frozen=True)
class FollowUpFacts:
    status: PlanStatus
    last_held_on: date | None
    goals: dict[uuid.UUID, Levels]  # every goal of the plan, with its levels as described now
    open_actions: frozenset[uuid.UUID]  # planned or ongoing
    closed_actions: frozenset[uuid.UUID]  # done or cancelled
    meeting: MeetingFacts | None


@dataclass(frozen=True)
class RatingEntry:
    goal_id: uuid.UUID
    score: int | None  # None: explicitly not rated this time
    levels: Levels = Levels()  # levels to fill in where none is described


@dataclass(frozen=True)
class FollowUpEntry:
    held_on: date
    next_follow_up_date: date
    ratings: Sequence[RatingEntry]
    reviews: Sequence[tuple[uuid.UUID, ActionOutcome]]


def _refuse(
    code: FollowUpCode, sv: str, en: str, subject: uuid.UUID | None = None, field: str | None = None
) -> FollowUpRefusal:
    return FollowUpRefusal(code, sv, en, subject, field)


def _plan_refusal(f: FollowUpFacts) -> FollowUpRefusal | None:
    if f.status is PlanStatus.DRAFT:
        return _refuse(
            FollowUpCode.PLAN_NOT_FINALIZED,
            "Planen är inte fastställd än. En plan följs upp när den har fastställts.",
            "The plan is not finalized yet. A plan is followed up once it has been finalized.",
        )
    if f.status is PlanStatus.CLOSED:
        return _refuse(
            FollowUpCode.PLAN_CLOSED,
            "Planen är avslutad och kan inte följas upp.",
            "The plan is closed and cannot be followed up.",
        )
    return None


def _when_refusal(f: FollowUpFacts, e: FollowUpEntry, today: date) -> FollowUpRefusal | None:
    if e.held_on > today:
        return _refuse(
            FollowUpCode.HELD_IN_FUTURE,
            "Uppföljningen kan inte ha hållits i framtiden. Skriv in den när den har hållits.",
            "The follow-up cannot have been held in the future. Record it once it has been held.",
            field="heldOn",
        )
    if f.last_held_on is not None and e.held_on < f.last_held_on:
        return _refuse(
            FollowUpCode.HELD_BEFORE_PREVIOUS,
            "Datumet är före planens senaste uppföljning. Uppföljningar skrivs in i den ordning de hölls.",
            "The date is before the plan's latest follow-up. Follow-ups are recorded in the order they were held.",
            field="heldOn",
        )
    if e.next_follow_up_date <= e.held_on:
        return _refuse(
            FollowUpCode.NEXT_DATE_NOT_AFTER,
            "Nästa uppföljning ska vara efter den här uppföljningen.",
            "The next follow-up must be after this follow-up.",
            field="nextFollowUpDate",
        )
    return None


def _meeting_refusal(m: MeetingFacts | None, e: FollowUpEntry) -> FollowUpRefusal | None:
    if m is None:
        return None
    if not m.follow_up:
        return _refuse(
            FollowUpCode.MEETING_NOT_FOLLOW_UP,
            "Mötet är ett planeringsmöte. Välj ett uppföljningsmöte, eller inget möte.",
            "The meeting is a planning meeting. Choose a follow-up meeting, or no meeting.",
            m.id,
            "meetingId",
        )
    if m.cancelled:
        return _refuse(
            FollowUpCode.MEETING_CANCELLED,
            "Mötet är inställt. Välj mötet som hölls, eller inget möte.",
            "The meeting is cancelled. Choose the meeting that was held, or no meeting.",
            m.id,
            "meetingId",
        )
    if m.already_followed_up:
        return _refuse(
            FollowUpCode.MEETING_ALREADY_FOLLOWED_UP,
            "Uppföljningen från det här mötet är redan inskriven.",
            "The follow-up from this meeting has already been recorded.",
            m.id,
            "meetingId",
        )
    if m.day != e.held_on:
        return _refuse(
            FollowUpCode.MEETING_ON_ANOTHER_DAY,
            "Mötet var en annan dag. Ange mötets datum, eller välj inget möte.",
            "The meeting was on another day. Give the meeting's date, or choose no meeting.",
            m.id,
            "heldOn",
        )
    return None


def _goal_refusal(f: FollowUpFacts, ratings: Sequence[RatingEntry]) -> FollowUpRefusal | None:
    seen: set[uuid.UUID] = set()
    for r in ratings:
        if r.goal_id in seen:
            return _refuse(
                FollowUpCode.GOAL_RATED_TWICE,
                "Ett mål är bedömt två gånger.",
                "A goal is rated twice.",
                r.goal_id,
                "ratings",
            )
        seen.add(r.goal_id)
        current = f.goals[r.goal_id]
        for score, given in r.levels.by_score().items():
            described = current.by_score()[score]
            if given and described and given.strip() != described.strip():
                return _refuse(
                    FollowUpCode.LEVEL_ALREADY_DESCRIBED,
                    "En nivå i målets skala är redan beskriven. Nivåerna bestäms innan målet bedöms och "
                    "ändras inte vid uppföljningen; ändra dem i målet om planen revideras.",
                    "A level of the goal's scale is already described. The levels are set before the goal is "
                    "rated and are not changed at the follow-up; change them in the goal when the plan is revised.",
                    r.goal_id,
                    "levels",
                )
        if r.score is None:
            continue
        if r.score not in SCORES:
            return _refuse(
                FollowUpCode.SCORE_OUT_OF_RANGE,
                "Bedömningen ska vara från -2 till +2.",
                "The rating must be from -2 to +2.",
                r.goal_id,
                "score",
            )
        if not current.filled_from(r.levels).complete:
            return _refuse(
                FollowUpCode.LEVELS_MISSING,
                "Målets alla fem nivåer ska beskrivas med ord innan målet bedöms.",
                "All five levels of the goal must be described in words before the goal is rated.",
                r.goal_id,
                "levels",
            )
    missing = [g for g in f.goals if g not in seen]
    if missing:
        return _refuse(
            FollowUpCode.GOAL_NOT_RATED,
            "Ett mål saknar bedömning. Bedöm varje mål, eller markera att det inte bedöms den här gången.",
            "A goal has no rating. Rate every goal, or mark that it is not rated this time.",
            missing[0],
            "ratings",
        )
    return None


def _action_refusal(f: FollowUpFacts, reviews: Sequence[tuple[uuid.UUID, ActionOutcome]]) -> FollowUpRefusal | None:
    seen: set[uuid.UUID] = set()
    for action_id, _outcome in reviews:
        if action_id in seen:
            return _refuse(
                FollowUpCode.ACTION_REVIEWED_TWICE,
                "En insats har två utfall.",
                "An action has two outcomes.",
                action_id,
                "actions",
            )
        seen.add(action_id)
        if action_id in f.closed_actions:
            return _refuse(
                FollowUpCode.ACTION_NOT_OPEN,
                "Insatsen är redan klar eller avbruten.",
                "The action is already done or cancelled.",
                action_id,
                "actions",
            )
    missing = sorted(f.open_actions - seen)
    if missing:
        return _refuse(
            FollowUpCode.ACTION_NOT_REVIEWED,
            "En insats saknar utfall. Ange för varje planerad eller pågående insats om den är klar, fortsätter "
            "eller ska ändras.",
            "An action has no outcome. For every planned or ongoing action, say whether it is done, continues "
            "or is to be changed.",
            missing[0],
            "actions",
        )
    return None


def refusal(f: FollowUpFacts, e: FollowUpEntry, today: date) -> FollowUpRefusal | None:
    """Why this follow-up cannot be recorded as given (the first reason), or None. The goals and
    actions the entry names must be the plan's (the caller checks that, answering not found)."""
    return (
        _plan_refusal(f)
        or _when_refusal(f, e, today)
        or _meeting_refusal(f.meeting, e)
        or _goal_refusal(f, e.ratings)
        or _action_refusal(f, e.reviews)
    )


def revises_plan(reviews: Sequence[tuple[uuid.UUID, ActionOutcome]]) -> bool:
    """A changed action is changed with the patient: the plan goes into revision."""
    return any(outcome is ActionOutcome.CHANGED for _, outcome in reviews)
