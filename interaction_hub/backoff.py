"""One backoff rule for everything that retries: hub deliveries, the engine, the brokers."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Counter

log = logging.getLogger(__name__)
# `what` is always a literal of the code ("bulk write", "publishing batch results"): a bounded label
RETRIES = Counter("ihub_retries", "Retries after a failure of Kafka, the engine or another service", ["operation"])
BACKOFF_SECONDS = Counter("ihub_backoff_seconds", "Seconds spent waiting before retries", ["operation"])
T = TypeVar("T")


def backoff_delay(attempt: int, *, first_s: float = 0.2, max_s: float = 30.0) -> float:
    """Seconds before retry `attempt` (1, 2, ...): doubles from `first_s`, capped at `max_s`,
    with full-to-half jitter so that many clients retrying at once spread out."""
    return min(max_s, first_s * 2.0 ** min(attempt - 1, 62)) * random.uniform(0.5, 1.0)


async def until_done(what: str, attempt_once: Callable[[], Awaitable[T]], *, max_backoff_s: float = 30.0) -> T:
    """Call until it returns; every failure is logged and retried after a backoff."""
    attempt = 0
    while True:
        try:
            return await attempt_once()
        except Exception as exc:
            attempt += 1
            delay = backoff_delay(attempt, max_s=max_backoff_s)
            log.warning("%s failed (%r); retry %d in %.1fs", what, exc, attempt, delay)
            RETRIES.labels(what).inc()
            BACKOFF_SECONDS.labels(what).inc(delay)
            await asyncio.sleep(delay)
