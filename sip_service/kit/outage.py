"""The database (or Redis) unreachable: recognised in one place, answered 503, logged once per outage.

`is_outage` tells a lost or refused database connection (and a pool that gives none in time) from
every other error. `Outages` is the one log line per outage: the first failure logs a warning, the
following ones nothing, and the first connection made again after it logs the recovery; open
websockets wait on `Outages.begins` to be closed (1013) when an outage begins.
`http.outage.OutageAnswer` answers the requests it reaches with 503 and Retry-After. Redis (the
live events between processes, `kit.pubsub`) has an `Outages` of its own and raises
`BrokerUnavailable`, which is never taken for the database's outage."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("sip_service.outage")

RETRY_AFTER_S = 5
MESSAGE = (
    "Tjänsten är tillfälligt otillgänglig; försök igen om en stund. / "
    "The service is unavailable for a moment; try again shortly."
)
CODE = "SERVICE_UNAVAILABLE"
TRY_AGAIN_LATER = 1013  # the websocket close code (RFC 6455's registry) for a socket in an outage
# ... and the reasons it is closed with (at most 123 bytes)
DATABASE_DOWN_REASON = "Service unavailable (database); try again later"
BROKER_DOWN_REASON = "Live updates unavailable (Redis); try again later"


def is_outage(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, is the database being unreachable."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, BrokerUnavailable):
            return False  # Redis's refused socket, not the database's
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return _not_sqlite_busy(error)
        if isinstance(error, ConnectionError | TimeoutError):  # asyncpg's refused or lost socket
            return True
        if isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS:  # no route, host down
            return True
        if type(error).__module__.startswith("asyncpg") and type(error).__name__ in _ASYNCPG_CONNECTION_ERRORS:
            return True
        error = error.__cause__ or error.__context__
    return False


def is_broker_outage(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, is Redis being unreachable (`kit.pubsub`)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, BrokerUnavailable):
            return True
        error = error.__cause__ or error.__context__
    return False


_NETWORK_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, socket.EAI_AGAIN}

# asyncpg's exceptions for a connection lost, closed, or a server shutting down / starting up
_ASYNCPG_CONNECTION_ERRORS = {
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "InterfaceError",
    "AdminShutdownError",
    "CrashShutdownError",
    "CannotConnectNowError",
    "ClientCannotConnectError",
    "TooManyConnectionsError",
}


def _not_sqlite_busy(error: sa_exc.SQLAlchemyError) -> bool:
    """SQLite's OperationalError mostly means a locked file or a statement it cannot run (too
    deep, too many variables): only a database file it cannot open or read is an outage."""
    original = getattr(error, "orig", None)
    if original is None or not type(original).__module__.startswith("sqlite3"):
        return True
    text = str(original).lower()
    return "unable to open" in text or "disk i/o" in text


class Outages:
    """One warning when the database (`what`) becomes unreachable, one when it is back."""

    def __init__(self, what: str = "database") -> None:
        self.what = what
        self._down = False
        self._lock = threading.Lock()  # connect events may come from SQLAlchemy's greenlet threads
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
            waiting, self._waiting = self._waiting, set()
        logger.warning("%s unavailable, answering 503 until it is back: %s", self.what, _short(error))
        for loop, began in waiting:
            loop.call_soon_threadsafe(_resolve, began)

    def recovered(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        logger.warning("%s available again", self.what)

    async def begins(self) -> None:
        """Returns when the next outage begins (one under way now does not count: whoever waits
        has just used the service and found it up)."""
        loop = asyncio.get_running_loop()
        began: asyncio.Future[None] = loop.create_future()
        entry = (loop, began)
        with self._lock:
            self._waiting.add(entry)
        try:
            await began
        finally:
            with self._lock:
                self._waiting.discard(entry)

    def watch(self, engine: AsyncEngine) -> None:
        """A new connection made after a failure is the recovery."""

        def connected(*_: Any) -> None:
            self.recovered()

        event.listen(engine.sync_engine, "connect", connected)


def _short(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class BrokerUnavailable(Exception):
    """Redis, which carries the live events between processes, is unreachable (`kit.pubsub`
    raises it, from Redis's own error, and has logged it once per outage): answered 503, and a
    websocket that needs it closed with 1013."""


class DatabaseUnavailable(Exception):
    """Raised where an outage was found inside a layer that would otherwise swallow it (GraphQL's
    error list); the middleware answers it."""
