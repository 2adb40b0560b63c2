"""What operators see of the API: request ids, Prometheus metrics, health probes.

- `Observe`: pure ASGI middleware, outermost. Takes the client's `X-Request-ID` when it is a short
  safe token (else makes one), returns it, and keeps it in a context variable for the log lines of
  the request; counts each request by route template (never the raw path), method and status, with
  its latency; with tracing on, a server span per request (interaction_hub/tracing.py).
- `GET /health/live` (the process serves), `GET /health/ready` (the store is usable), `GET /metrics`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import nullcontext
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.routing import Mount

from interaction_hub import tracing
from interaction_hub.health import Readiness
from interaction_hub.logs import request_id, request_id_from

REQUESTS = Counter("ihub_api_requests", "API requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "ihub_api_request_seconds",
    "API request latency, from the request to the end of the answer",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WRITE_WAIT = Histogram(
    "ihub_api_write_wait_seconds",
    "Full mode: how long the API waited for its write to be applied (read-your-writes)",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UNMATCHED = "unmatched"
REQUEST_ID_HEADER = b"x-request-id"
OPERATIONS_PATHS = ("/health/live", "/health/ready", "/metrics")
log = logging.getLogger(__name__)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Observe:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._templates: tuple[re.Pattern[str], dict[str, str]] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((bytes(v).decode("latin-1") for k, v in scope["headers"] if k.lower() == REQUEST_ID_HEADER), None)
        rid = request_id_from(header)
        token = request_id.set(rid)
        started = time.perf_counter()
        answer = {"status": 500}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, rid.encode())]
            await send(message)

        # tracing off: not even the generator of its context manager
        with tracing.request_span(scope) if tracing.enabled() else nullcontext() as span:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                method, route = self._count(scope, answer["status"], started)
                request_id.reset(token)
                if span is not None:  # tracing on (interaction_hub/tracing.py)
                    span.update_name(f"{method} {route}")
                    span.set_attributes({"http.route": route, "http.response.status_code": answer["status"]})

    def _count(self, scope: dict[str, Any], status: int, started: float) -> tuple[str, str]:
        """Counts the request and its latency; (its method, its route template)."""
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = self._route_template(scope)
        count(route, method, status, started)
        return method, route

    def _route_template(self, scope: dict[str, Any]) -> str:
        """The template of the route a path belongs to (`/tmf-api/.../partyInteraction/{id}`), or
        UNMATCHED: from the API description and the app's own routes, the same for requests answered
        before routing (the GET fast path, a 401)."""
        if self._templates is None:
            # one pattern of alternatives, tried in order, each its own group: one match a request
            found = _templates(scope["app"])
            either = "|".join(f"(?P<t{n}>{pattern.pattern})" for n, (pattern, _) in enumerate(found))
            self._templates = re.compile(either), {f"t{n}": template for n, (_, template) in enumerate(found)}
        pattern, templates = self._templates
        match = pattern.fullmatch(scope["path"])
        return templates[match.lastgroup] if match and match.lastgroup else UNMATCHED


# at most (templates + 1) x methods x statuses: bounded as the metrics' own labels are
_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def count(route: str, method: str, status: int, started: float) -> None:
    """Counts a request answered, and its latency since `started` (time.perf_counter)."""
    # the labelled series kept: prometheus_client's labels() costs more than the count itself
    series = _series.get((route, method, status))
    if series is None:
        series = _series[(route, method, status)] = (
            REQUESTS.labels(route, method, str(status)),
            LATENCY.labels(route, method),
        )
    series[0].inc()
    series[1].observe(time.perf_counter() - started)


def _templates(app: Any) -> list[tuple[re.Pattern[str], str]]:
    def pattern(template: str) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(template)) + "/?")

    found: list[tuple[re.Pattern[str], str]] = [(pattern(p), p) for p in OPERATIONS_PATHS]
    try:
        found += [(pattern(p), p) for p in app.openapi().get("paths", {})]
    except Exception as exc:  # metrics then count these requests as unmatched; the API still works
        log.warning("no route templates from the API description: %s", type(exc).__name__)
    for route in app.router.routes:  # the pages and the docs
        path = getattr(route, "path", None)
        if isinstance(path, str) and path:
            found.append((re.compile(re.escape(path) + "(/.*)?") if isinstance(route, Mount) else pattern(path), path))
    return found


router = APIRouter(include_in_schema=False)


@router.get("/health/live")
async def live() -> JSONResponse:
    return JSONResponse({"status": "live"})


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    reason = await readiness.reason()
    if reason is None:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def store_readiness(store: Any, data_dir: str | os.PathLike[str] | None) -> Readiness:
    """Full mode: Kafka, the engine, the topics and the index alias (LogBackedStore.readiness);
    embedded: the data directory is there and a trivial read works."""

    async def check() -> str | None:
        probe = getattr(store, "readiness", None)
        if probe is not None:
            reason: str | None = await probe()
            return reason
        if data_dir is not None and not os.path.isdir(data_dir):
            return "data directory missing"
        try:
            await store.get("ihub-readiness-probe")
        except Exception:
            return "store unusable"
        return None

    return Readiness(check)
