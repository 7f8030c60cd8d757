"""The inbox's pure rules: stamps (when a seen item is new again), keys, order and counts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from sip_service.inbox import rules
from sip_service.inbox.rules import Item, ItemKind
from sip_service.kit.errors import Invalid

TODAY = date(2026, 12, 1)


def item(kind: ItemKind, name: str = "Elsa", read: bool = False, **more: object) -> Item:
    return Item(kind, uuid.uuid4(), "s", uuid.uuid4(), uuid.uuid4(), name, read=read, **more)  # type: ignore[arg-type]


def test_an_action_seen_as_due_soon_is_new_again_once_it_is_late_or_moved() -> None:
    due = TODAY + timedelta(days=2)
    seen = rules.action_stamp(due, TODAY)
    assert rules.is_read(seen, rules.action_stamp(due, TODAY + timedelta(days=1)))
    assert not rules.is_read(seen, rules.action_stamp(due, due + timedelta(days=1)))  # late now
    assert not rules.is_read(seen, rules.action_stamp(due + timedelta(days=1), TODAY))  # moved
    assert rules.action_due(TODAY + rules.ACTION_WINDOW, TODAY) and not rules.action_due(
        TODAY + rules.ACTION_WINDOW + timedelta(days=1), TODAY
    )
    assert not rules.action_due(None, TODAY)
    assert not rules.is_read(None, seen)


def test_the_discharge_deadline_is_three_days_after_the_notice() -> None:
    notice = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert rules.discharge_deadline(notice) == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def test_keys_name_the_item_as_it_stands_and_nothing_else_parses() -> None:
    subject = uuid.uuid4()
    key = rules.item_key(ItemKind.ACTION, subject, "2026-12-03/soon")
    assert rules.parse_key(key) == (ItemKind.ACTION, subject, "2026-12-03/soon")
    assert rules.parse_key(rules.item_key(ItemKind.NEW_PLAN, subject, "")) == (ItemKind.NEW_PLAN, subject, "")
    for bad in ("", "ACTION", f"NOPE:{subject}:x", "ACTION:not-a-uuid:x", f"ACTION:{subject}"):
        with pytest.raises(Invalid):
            rules.parse_key(bad)


def test_order_is_by_kind_then_soonest_and_counts_cover_every_kind() -> None:
    later = item(ItemKind.ACTION, due_date=TODAY + timedelta(days=3))
    late = item(ItemKind.ACTION, due_date=TODAY - timedelta(days=1), overdue=True, read=True)
    meeting = item(ItemKind.MEETING, due_at=datetime(2026, 12, 2, 9, tzinfo=UTC))
    new_b, new_a = item(ItemKind.NEW_PLAN, "Bertil"), item(ItemKind.NEW_PLAN, "Astrid")
    discharge = item(ItemKind.DISCHARGE, due_at=datetime(2026, 12, 3, 9, tzinfo=UTC))
    items = [later, meeting, new_b, late, discharge, new_a]
    assert rules.ordered(items) == [discharge, new_a, new_b, late, later, meeting]
    assert [(c.kind, c.total, c.unread) for c in rules.counts(items)] == [
        (ItemKind.DISCHARGE, 1, 1),
        (ItemKind.NEW_PLAN, 2, 2),
        (ItemKind.TO_FINALIZE, 0, 0),
        (ItemKind.ACTION, 2, 1),
        (ItemKind.MEETING, 1, 1),
        (ItemKind.FOLLOW_UP_DUE, 0, 0),
    ]


def test_the_digest_day_begins_at_its_time_of_day_in_stockholm() -> None:
    at = time(7, 0)
    winter = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 07:00 in Stockholm (UTC+1)
    assert rules.digest_day(winter - timedelta(minutes=1), at) is None
    assert rules.digest_day(winter, at) == date(2026, 12, 1)
    summer = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)  # 07:00 in Stockholm (UTC+2)
    assert rules.digest_day(summer, at) == date(2026, 6, 1)
    assert rules.digest_day(datetime(2026, 12, 1, 23, 30, tzinfo=UTC), at) is None  # 00:30 the next day: wait


def test_a_digest_tells_only_of_what_no_digest_told_before() -> None:
    assert rules.news(["a", "b"], []) == ["a", "b"]
    assert rules.news(["a", "b"], ["a", "b", "c"]) == []  # still unread, already told: no e-mail again
    assert rules.news(["a", "d"], ["a", "b"]) == ["d"]
