"""The database unreachable: recognised in one place, answered 503, logged once per outage.

`is_outage` tells a lost or refused database connection (and a pool that gives none in time) from
every other error. `Outages` is the one log line per outage: the first failure logs a warning, the
following ones nothing, and the first connection made again after it logs the recovery.
`http.outage.OutageAnswer` answers the requests it reaches with 503 and Retry-After."""

from __future__ import annotations

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
TRY_AGAIN_LATER = 1013  # the websocket close code (RFC 6455's registry) for a socket signing in during an outage


def is_outage(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, is the database being unreachable."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
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
    """One warning when the database becomes unreachable, one info line when it is back."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()  # connect events may come from SQLAlchemy's greenlet threads

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        logger.warning("database unavailable, answering 503 until it is back: %s", _short(error))

    def recovered(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        logger.warning("database available again")

    def watch(self, engine: AsyncEngine) -> None:
        """A new connection made after a failure is the recovery."""

        def connected(*_: Any) -> None:
            self.recovered()

        event.listen(engine.sync_engine, "connect", connected)


def _short(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


class DatabaseUnavailable(Exception):
    """Raised where an outage was found inside a layer that would otherwise swallow it (GraphQL's
    error list); the middleware answers it."""
