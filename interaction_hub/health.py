"""Readiness checks the API and the workers share: each bounded in time, each answering None (fine)
or a short reason for a probe's answer (never an exception's text: no data, no stack traces)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from storage.search import engine

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0
CACHE_S = 1.0


async def engine_ready(client: Any, alias: str, *, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """The search engine answers and the index alias exists."""
    try:
        found = await asyncio.wait_for(engine.alias_exists(client, alias), timeout_s)
    except Exception as exc:
        log.debug("readiness: search engine: %s", type(exc).__name__)
        return "search engine unreachable"
    return None if found else "index alias missing"


async def kafka_ready(client: Any, topics: Iterable[str], *, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """Kafka answers a metadata request (aiokafka's AIOKafkaClient `client`) that names `topics`."""
    try:
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout_s)
    except Exception as exc:
        log.debug("readiness: kafka: %s", type(exc).__name__)
        return "kafka unreachable"
    return None if set(topics) <= set(metadata.topics()) else "kafka topics missing"


class Readiness:
    """One check, run at most once per `cache_s` however many probes ask (so probes cannot load the
    engine), and never longer than `timeout_s` in all."""

    def __init__(
        self, check: Callable[[], Awaitable[str | None]], *, cache_s: float = CACHE_S, timeout_s: float = 2.5
    ) -> None:
        self.check = check
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._checked_at = -float("inf")
        self._reason: str | None = "not checked yet"
        self._lock = asyncio.Lock()

    async def reason(self) -> str | None:
        """None when ready, else why not."""
        async with self._lock:
            if time.monotonic() - self._checked_at >= self.cache_s:
                try:
                    self._reason = await asyncio.wait_for(self.check(), self.timeout_s)
                except TimeoutError:
                    self._reason = "readiness check timed out"
                except Exception as exc:
                    log.warning("readiness check failed: %s", type(exc).__name__)
                    self._reason = "readiness check failed"
                self._checked_at = time.monotonic()
            return self._reason


def first_reason(*reasons: str | None) -> str | None:
    return next((r for r in reasons if r), None)
