"""The worker's own small HTTP port (IHUB_WORKER_HTTP_PORT, 0: none): `GET /health/live`,
`GET /health/ready` and `GET /metrics`.

It runs an aiohttp server on an event loop of its own, in a thread: it answers while the worker
still waits for Kafka and the engine, and while faust's loop is busy with a batch; its checks (the
engine, bounded in time, at most once a second) never touch faust's loop or clients.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from interaction_hub.health import Readiness, engine_ready
from interaction_hub.search_client import search_client
from interaction_hub.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    """What faust's loop tells the HTTP thread (plain attributes: one writer, one reader)."""

    assigned: bool = False  # the consumer joined its group and received an assignment
    partitions: int = 0
    stopping: bool = False


class WorkerHttp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = WorkerState()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._readiness: Readiness | None = None

    def start(self) -> None:
        if not self.settings.worker_http_port:
            return
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="ihub-worker-http", daemon=True)
        self._thread.start()
        started.wait(5)

    def _run(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(started))
            loop.run_forever()  # a daemon thread: ends with the process
        except Exception:
            log.exception("the worker's HTTP port %d could not be served", self.settings.worker_http_port)
            started.set()

    async def _serve(self, started: threading.Event) -> None:
        self._readiness = Readiness(self._check)
        app = web.Application()
        app.router.add_get("/health/live", self._live)
        app.router.add_get("/health/ready", self._ready)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.settings.worker_http_host, self.settings.worker_http_port).start()
        log.info(
            "worker health and metrics on http://%s:%d", self.settings.worker_http_host, self.settings.worker_http_port
        )
        started.set()

    async def _check(self) -> str | None:
        if self.state.stopping:
            return "stopping"
        if not self.state.assigned:
            return "no partitions assigned yet"
        if self._client is None:
            self._client = search_client(self.settings, request_timeout=2, max_retries=0)
        return await engine_ready(self._client, self.settings.index_alias)

    async def _live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def _ready(self, request: web.Request) -> web.Response:
        assert self._readiness is not None
        reason = await self._readiness.reason()
        if reason is None:
            return web.json_response({"status": "ready", "partitions": self.state.partitions})
        return web.json_response({"status": "not ready", "reason": reason}, status=503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
