"""The log format of the API and the workers: plain text for people, or one JSON object a line
(`IHUB_LOG_FORMAT=json`) with the time, level, logger, message and, inside a request, its id.

The audit logger (`ihub.audit`, query_api/access.py) keeps its own handler and format.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("ihub_request_id", default=None)
"""The id of the request this code runs for (set by the API's middleware), else None."""

# what a client's X-Request-ID may be to be taken over as it is: short, and safe in logs and headers
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _RequestIds:
    """Ids unique across processes and restarts without asking the system for randomness per
    request (a system call, a sizeable part of a fast GET): 16 random hex digits drawn once per
    process, then a count in 16 more."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked server's processes each draw their own

    def reset(self) -> None:
        self.process = secrets.token_hex(8)
        self.count = itertools.count()

    def make(self) -> str:
        return f"{self.process}{next(self.count) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


_request_ids = _RequestIds()


def request_id_from(header: str | None) -> str:
    """The client's X-Request-ID when it is a short safe token, else a new one."""
    if header and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return _request_ids.make()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, requestId."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["requestId"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class TextFormatter(logging.Formatter):
    """The usual line, with ` [request <id>]` inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        return f"{line} [request {rid}]" if rid else line


class NoQueryStrings(logging.Filter):
    """Uvicorn's access log without query strings (they may hold personal data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def configure(log_format: str, level: int = logging.INFO) -> None:
    """The root logger writes to stderr in `log_format` ("text" or "json"); uvicorn's loggers go
    through it too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        found = logging.getLogger(name)
        found.handlers.clear()
        found.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoQueryStrings) for f in access.filters):
        access.addFilter(NoQueryStrings())
