"""The inbox's rules, pure: what each kind of item is, when it is new, in what order it is shown.

An item is one thing a staff member has to do. It is *read* once they have seen it as it stands
now: each item has a `stamp` that moves on when the item changes in a way that matters (a meeting
moved, another version approved, an action now overdue), and a read mark holds for one stamp.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sip_service.kit.clock import STOCKHOLM
from sip_service.kit.errors import Invalid
from sip_service.models.inbox import ItemKind as ItemKind  # the kinds are stored with each read mark

# Shown in this order: what the law times first, then what only I can do, then the rest.
ORDER = (
    ItemKind.DISCHARGE,
    ItemKind.NEW_PLAN,
    ItemKind.TO_FINALIZE,
    ItemKind.ACTION,
    ItemKind.MEETING,
    ItemKind.FOLLOW_UP_DUE,
)

ACTION_WINDOW = timedelta(days=7)  # an action due within a week is "due soon"
# Lag (2017:612): the SIP meeting is called within three days of the notice that the patient is
# ready for discharge.
DISCHARGE_DEADLINE = timedelta(days=3)


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    subject_id: uuid.UUID  # the plan, action or meeting; for NEW_PLAN my participation
    stamp: str
    plan_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    read: bool
    due_date: date | None = None  # ACTION: its due date; FOLLOW_UP_DUE: the follow-up date
    due_at: datetime | None = None  # MEETING: when it starts; DISCHARGE: the deadline
    overdue: bool = False
    action_description: str | None = None
    responsible_person: str | None = None
    meeting_id: uuid.UUID | None = None
    meeting_kind: str | None = None

    @property
    def key(self) -> str:
        """What names this item, as it stands now, to `markInboxRead`."""
        return item_key(self.kind, self.subject_id, self.stamp)


def item_key(kind: ItemKind, subject_id: uuid.UUID, stamp: str) -> str:
    return f"{kind.value}:{subject_id}:{stamp}"


def parse_key(key: str) -> tuple[ItemKind, uuid.UUID, str]:
    try:
        kind, subject, stamp = key.split(":", 2)
        return ItemKind(kind), uuid.UUID(subject), stamp
    except ValueError:
        raise Invalid("not an inbox item this service gave out", field="itemIds") from None


def is_read(seen_stamp: str | None, stamp: str) -> bool:
    return seen_stamp is not None and seen_stamp == stamp


# ---- per kind: when the item exists and what its stamp is -----------------------------------


def action_due(due_date: date | None, today: date) -> bool:
    return due_date is not None and due_date <= today + ACTION_WINDOW


def action_stamp(due_date: date, today: date) -> str:
    """Seen as due soon, an action is new again once it is overdue, or when its date moves."""
    return f"{due_date.isoformat()}/{'overdue' if due_date < today else 'soon'}"


def meeting_stamp(sequence: int) -> str:
    """The calendar sequence moves on when the meeting is moved (or cancelled)."""
    return str(sequence)


def finalize_stamp(plan_version: int) -> str:
    return str(plan_version)


def discharge_deadline(discharge_ready_at: datetime) -> datetime:
    return discharge_ready_at + DISCHARGE_DEADLINE


def discharge_stamp(discharge_ready_at: datetime) -> str:
    return discharge_ready_at.isoformat()


def follow_up_stamp(follow_up_date: date) -> str:
    return follow_up_date.isoformat()


# ---- the inbox as a whole ---------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    kind: ItemKind
    total: int
    unread: int


def _when(item: Item) -> tuple[int, str]:
    if item.due_at is not None:
        return (0, item.due_at.isoformat())
    if item.due_date is not None:
        return (0, item.due_date.isoformat())
    return (1, "")


def ordered(items: Iterable[Item]) -> list[Item]:
    """By kind (`ORDER`), then soonest first (what is late before what is due), then by patient."""
    rank = {k: i for i, k in enumerate(ORDER)}
    return sorted(items, key=lambda i: (rank[i.kind], _when(i), i.patient_name, str(i.subject_id)))


def counts(items: Sequence[Item]) -> list[Count]:
    """Per kind, in `ORDER`, how many items there are and how many of them are new."""
    return [
        Count(k, sum(1 for i in items if i.kind is k), sum(1 for i in items if i.kind is k and not i.read))
        for k in ORDER
    ]


# ---- the daily digest -------------------------------------------------------------------------


def digest_day(now: datetime, at: time) -> date | None:
    """The Stockholm day whose digest may go out at `now`: from `at` (wall clock) on; None before."""
    local = now.astimezone(STOCKHOLM)
    return local.date() if local.time() >= at else None


def news(unread_keys: Sequence[str], told: Iterable[str]) -> list[str]:
    """What a digest tells of: the new items not told of by the one before. A digest goes out only
    when there is any, so an item left unread does not bring an e-mail every day."""
    before = set(told)
    return [k for k in unread_keys if k not in before]
