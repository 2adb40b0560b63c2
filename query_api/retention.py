"""The scheduled retention purge of the embedded store (docs/privacy.md).

With IHUB_RETENTION_DAYS set, the API process purges every IHUB_RETENTION_INTERVAL_S (and once at
start) what ended more than that many days ago, through the store's purge (one transaction, a
DeleteEvent per interaction). The embedded store has one API process, so one purge runs at a time.
In full mode the workers' leader publishes purge markers instead (stream_workers/app.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from interaction_hub.settings import Settings
from query_api.hub import Hub
from storage.erasure_rules import retention_cutoff

log = logging.getLogger(__name__)


class RetentionSchedule:
    def __init__(self, store: Any, hub: Hub, settings: Settings):
        self._store = store
        self._hub = hub
        self._days = settings.retention_days
        self._interval_s = settings.retention_interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._days is not None and hasattr(self._store, "purge_expired"):
            self._task = asyncio.create_task(self._run(self._days), name="retention")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, days: int) -> None:
        while True:
            try:
                cutoff = retention_cutoff(days)
                purged = await self._store.purge_expired(cutoff, self._hub.notify)
                if purged:
                    self._hub.wake()
                    log.info("retention: purged %d interactions that ended before %s", len(purged), cutoff.isoformat())
            except Exception:  # the next round tries again
                log.exception("the retention purge failed")
            await asyncio.sleep(self._interval_s)
