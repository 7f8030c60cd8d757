"""Who a token or a session is, remembered for a few seconds, so that a page's every request does not
validate the same token's signature and look up the same person again.

An entry holds until the earlier of the token's own expiry and `ttl_s` after it was made. It is
forgotten at once when this process commits a change to a staff member or a citizen (through the
ORM, or a bulk UPDATE/DELETE/INSERT on their tables in a session): a staff member who moves to
another organisation is seen there from their next request. A change made by another process (or by
plain SQL outside a session) shows within `ttl_s`. Only people who are known are remembered; a
refused token or an unknown person is checked afresh each time. The clock is injectable (`now`,
seconds since the epoch), so tests move time instead of waiting.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from sip_service.auth.principal import Principal
from sip_service.kit import clock
from sip_service.models.identity import Citizen, Organisation, StaffMember

_IDENTITY = (StaffMember, Citizen, Organisation)
_IDENTITY_TABLES = frozenset(m.__tablename__ for m in _IDENTITY)
_CHANGED = "sip_identity_changed"  # session.info flag: forget every cache after the commit


def _wall_clock() -> float:
    return clock.now().timestamp()


class PrincipalCache:
    def __init__(self, ttl_s: float, *, now: Callable[[], float] = _wall_clock, max_entries: int = 10_000) -> None:
        self.ttl_s, self._now, self._max = ttl_s, now, max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        _caches.add(self)

    @staticmethod
    def key(kind: str, secret: str) -> str:
        """A token or a session's claims, hashed: the cache keeps no bearer token itself."""
        return kind + ":" + hashlib.sha256(secret.encode()).hexdigest()

    def get(self, key: str) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._now() >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, principal: Principal, expires_at: float | None = None) -> None:
        """Remember until `expires_at` (the token's `exp`), but no longer than `ttl_s` from now."""
        if self.ttl_s <= 0:
            return
        until = self._now() + self.ttl_s
        if expires_at is not None:
            until = min(until, expires_at)
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        self._entries[key] = (until, principal)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


@event.listens_for(Session, "after_flush")
def _note_changed_objects(session: Session, _flush: UOWTransaction) -> None:
    if any(isinstance(o, _IDENTITY) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table: Any = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _IDENTITY_TABLES:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        for cache in list(_caches):
            cache.clear()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop(_CHANGED, None)
