"""Log lines: one JSON object per line (production) or readable text (development), each carrying the
id of the request it was written for.

The request id lives in a context variable (`request_id`), set by the HTTP middleware
(`http.observe.Observe`) for the whole of a request or websocket connection: every line written
while it runs, by the service or by uvicorn (its access line, a websocket's "accepted"), and by tasks
started from it (a subscription's), carries it. `RequestIdFilter` puts it on each record as
`record.request_id` ("-" outside a request); `JsonFormatter` writes the record with orjson.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("sip_request_id", default=None)

# What an X-Request-ID from a trusted proxy may be (a UUID, nginx's $request_id, a trace id …):
# short and plain, so that nothing else gets into the log lines through it.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def valid_request_id(value: str | None) -> bool:
    return value is not None and _VALID_ID.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record that passes (on a handler: every line written)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


# uvicorn's access line: its arguments (client, method, path, HTTP version, status) as fields too
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One line of JSON per record: time (UTC, ISO 8601), level, logger, message, request_id, and a
    traceback as `exception` where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid and rid != "-":
            line["request_id"] = rid
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            line.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def logging_config(base: dict[str, Any], *, json: bool, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for a server: `base` (uvicorn's own LOGGING_CONFIG) with the
    service's loggers (sip_service.*) beside uvicorn's. JSON: every logger, uvicorn's included,
    writes JSON lines to stderr. Text: uvicorn's lines as uvicorn writes them, the service's with the
    request id. Either way each line gets the request id (`RequestIdFilter` on the handlers)."""
    config = copy.deepcopy(base)
    config.setdefault("filters", {})["request_id"] = {"()": RequestIdFilter}
    if json:
        config["formatters"] = {"json": {"()": JsonFormatter}}
        config["handlers"] = {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        }
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = config["loggers"].setdefault(name, {})
            logger["handlers"] = [] if name == "uvicorn.error" else ["default"]  # uvicorn.error propagates to uvicorn
            logger.setdefault("level", level)
        config["loggers"]["sip_service"] = {"handlers": ["default"], "level": level, "propagate": False}
        config["root"] = {"handlers": ["default"], "level": "WARNING"}  # libraries' warnings, as JSON too
        return config
    config["formatters"]["sip_text"] = {"format": TEXT_FORMAT}
    config["handlers"]["sip_text"] = {
        "class": "logging.StreamHandler",
        "formatter": "sip_text",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler.setdefault("filters", ["request_id"])
    config["loggers"]["sip_service"] = {"handlers": ["sip_text"], "level": level, "propagate": False}
    return config
