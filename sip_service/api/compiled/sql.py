"""The one place that knows how each database builds JSON, and how its JSON values read back.

PostgreSQL: `json_build_array`, `json_agg(… ORDER BY …)`. SQLite (3.40: no ORDER BY inside an
aggregate): `json_array`, `json_group_array` over an ordered subquery, and `json(…)` around a
nested value, which would otherwise come back as a quoted string once it has passed a subquery.
Objects travel as arrays (positions known from the selection): smaller, and Python builds the
answer's keys in the selection's order anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from enum import Enum as Enum_
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Date, Enum, Text, Uuid, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aiosqlite
from sqlalchemy.types import TypeEngine

from sip_service.kit.db import UTCDateTime

Decode = Callable[[Any], Any]


class Dialect:
    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def array(self, items: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        return func.json_build_array(*items) if self.pg else func.json_array(*items)

    def nested(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON value from a subquery, placed inside another JSON value."""
        return value if self.pg else func.json(value)

    def aggregate(
        self,
        element: ColumnElement[Any],
        child: Any,
        where: ColumnElement[bool],
        order_by: Sequence[ColumnElement[Any]],
    ) -> ColumnElement[Any]:
        """`element` of each row of `child` (a table alias) that meets `where`, in order, as one JSON
        array (NULL when there are none): a scalar subquery correlated to the enclosing row."""
        if self.pg:
            agg = func.json_agg(aggregate_order_by(element, *order_by)) if order_by else func.json_agg(element)
            return select(agg).select_from(child).where(where).scalar_subquery()
        # a FROM subquery correlated to the enclosing row (SQLite allows that), for its ORDER BY
        inner = select(element.label("j")).select_from(child).where(where).order_by(*order_by)
        rows = inner.correlate_except(child).subquery()
        return select(func.json_group_array(func.json(rows.c.j))).scalar_subquery()

    def text(self, value: ColumnElement[Any], root: Any) -> ColumnElement[Any]:
        """The JSON as text, parsed once in Python (orjson) rather than by the driver, and its SQL
        written out once: the expression is the same for every request (it has no parameters), and
        SQLAlchemy would otherwise walk the whole tree for its cache key on each execution. `root`:
        the table its subqueries correlate to, which the statement it goes into selects from."""
        value = cast(value, Text) if self.pg else value
        dialect = postgresql_asyncpg.dialect() if self.pg else sqlite_aiosqlite.dialect()  # type: ignore[no-untyped-call]
        # written out inside a SELECT from the root, so that its subqueries correlate to it
        stmt = select(value.label("compiled_json")).select_from(root)
        written = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        head, tail = "SELECT ", " AS compiled_json \nFROM "
        if not written.startswith(head) or written.count(tail) != 1:  # pragma: no cover (SQLAlchemy changed)
            raise ValueError(f"unexpected SQL: {written[:200]}")
        return literal_column(written[len(head) : written.index(tail)])


# Ids and times read back as objects, remembered: the same plan's hundred-odd ids and times come
# back with every request for it, and uuid.UUID() alone took a third of building its answer. Both
# are immutable, so sharing them between requests is safe; the caches are bounded.
_REMEMBERED = 65536


@lru_cache(maxsize=_REMEMBERED)
def _uuid(v: str) -> uuid.UUID:
    return uuid.UUID(v)


def _uuid_or_none(v: str | None) -> uuid.UUID | None:
    return None if v is None else _uuid(v)


def _uuid_out(v: str | None) -> str | None:
    # PostgreSQL writes a uuid with hyphens; SQLite stores 32 hex digits
    return v if v is None or len(v) == 36 else str(_uuid(v))


@lru_cache(maxsize=_REMEMBERED)
def _datetime(v: str | None) -> datetime | None:
    if v is None:
        return None
    d = datetime.fromisoformat(v)
    # as UTCDateTime gives it: SQLite stores UTC without a zone
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


@lru_cache(maxsize=_REMEMBERED)
def _datetime_out(v: str | None) -> str | None:
    return None if v is None else _datetime(v).isoformat()  # type: ignore[union-attr]


def _bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


def same(v: Any) -> Any:
    """As it is: the compiled builds read such a value straight from the row."""
    return v


def plain(v: Any) -> Any:
    """A Python value (a domain function's result) as the answer writes it: enums by name, ids and
    times as strawberry writes them."""
    if isinstance(v, Enum_):
        return v.name
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, date):  # datetimes too
        return v.isoformat()
    if isinstance(v, list | tuple | frozenset | set):
        return [plain(x) for x in v]
    return v


def _members(type_: Enum) -> dict[Any, Any]:
    """An enum column's stored strings → its members (by name unless `values_callable` says otherwise)."""
    enum_class = type_.enum_class
    members = list(enum_class or ())
    stored = type_.values_callable(enum_class) if type_.values_callable and enum_class else [m.name for m in members]
    return dict(zip(stored, members, strict=True))


def output(type_: TypeEngine[Any], dialect: Dialect) -> Decode:
    """A column's JSON value as the GraphQL answer writes it (strawberry's serialisation); `same`
    where the database already writes it so (the build then reads it straight from the row)."""
    if isinstance(type_, Enum) and type_.enum_class is not None:  # answered by the member's name
        names = {stored: m.name for stored, m in _members(type_).items()}
        if all(stored == name for stored, name in names.items()):
            return same
        return lambda v: None if v is None else names[v]
    if isinstance(type_, UTCDateTime):
        return _datetime_out
    if isinstance(type_, Uuid):
        return same if dialect.pg else _uuid_out
    if isinstance(type_, Boolean):
        return same if dialect.pg else _bool
    return same  # text, numbers, dates (ISO on both)


def python(type_: TypeEngine[Any]) -> Decode:
    """A column's JSON value as the ORM would load it: what the domain's pure functions read."""
    if isinstance(type_, UTCDateTime):
        return _datetime
    if isinstance(type_, Uuid):
        return _uuid_or_none
    if isinstance(type_, Boolean):
        return _bool
    if isinstance(type_, Date):
        return lambda v: None if v is None else date.fromisoformat(v)
    if isinstance(type_, Enum) and type_.enum_class is not None:
        members = _members(type_)
        return lambda v: None if v is None else members[v]
    return same
