"""A bounded stop: once asked to stop (SIGTERM), a process that has not exited within its
deadline is ended, whatever Kafka or the engine are doing (IHUB_SHUTDOWN_TIMEOUT_S).

Ending it then is safe: the workers commit only offsets of events whose results the engine and the
brokers acknowledged (stream_workers/app.py), so whatever was under way comes again to the next
owner of its partition; the API answered nothing it had not done.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import suppress

log = logging.getLogger(__name__)

EXIT_DEADLINE = 3  # the exit code of a process ended by its deadline
_armed: list[threading.Timer] = []
_lock = threading.Lock()


def arm_deadline(timeout_s: float, what: str) -> None:
    """From now on, `what` has `timeout_s` seconds to exit on its own (only the first call counts)."""
    with _lock:
        if _armed:
            return
        timer = threading.Timer(timeout_s, _end, args=(timeout_s, what))
        timer.daemon = True
        _armed.append(timer)
    timer.start()
    log.info("%s: stopping; ending the process if it has not exited in %.0f s", what, timeout_s)


def _end(timeout_s: float, what: str) -> None:
    log.error("%s: not stopped within %.0f s; exiting now (uncommitted work comes again)", what, timeout_s)
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):  # a closed stream cannot keep the process alive
            stream.flush()
    os._exit(EXIT_DEADLINE)
