"""Database plumbing: declarative base, engine and sessions, shared column types."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import DateTime, Enum, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from sip_service.kit.errors import VersionConflict

# Stable constraint names so that migrations are the same on PostgreSQL and SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def enum_column(cls: type[StrEnum]) -> Enum:
    """Enums stored as checked strings: the same on PostgreSQL and SQLite, easy to extend."""
    return Enum(cls, native_enum=False, length=32, create_constraint=True)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def _enable_sqlite_integrity(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server closed (PostgreSQL restarted while it sat in the pool) is
    replaced by a new one at checkout, so the first request after a restart works. asyncpg knows
    it is closed without a round trip (unlike pool_pre_ping, which pays one on every checkout)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and getattr(driver, "is_closed", lambda: False)():
        raise DisconnectionError("the server closed this connection")


class Database:
    """The engine and the way to open a unit of work.

    SQLite allows one writer; in-process writers queue on a lock instead of failing with
    "database is locked", so a stale writer then sees the newer version and gets a conflict.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        pool = {} if self.is_sqlite or pool_size is None else {"pool_size": pool_size, "max_overflow": pool_size}
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **pool)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _enable_sqlite_integrity)
        else:
            event.listen(self.engine.sync_engine, "checkout", _drop_closed)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # PostgreSQL: no BEGIN and COMMIT around a read that is one statement (api.compiled), two
        # round trips fewer; the same pool.
        self._one_statement = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a read that is one statement (or a few that need not share a snapshot),
        outside a transaction where the database allows: a statement sees one snapshot anyway."""
        async with self._one_statement.connect() as connection:
            yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits when the block ends normally and rolls back otherwise.

        A concurrent writer that got in first shows up as a stale row: that is a version conflict.
        """
        async with AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self.sessions())
            try:
                async with session.begin():
                    yield session
            except StaleDataError as exc:
                raise VersionConflict("This", "object", None, None) from exc

    async def ping(self) -> None:
        """A round trip to the database (for /readyz)."""
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()
