"""OpenTelemetry tracing, off unless an OTLP endpoint is set (IHUB_OTLP_ENDPOINT, or the standard
OTEL_EXPORTER_OTLP_ENDPOINT): then spans go over OTLP/HTTP to `<endpoint>/v1/traces`.

A trace follows a write: the API's span of the request (FastAPI's own where it has one, else
query_api/observability.py's; the engine client adds its own spans), its context in
the headers of the raw Kafka record it publishes (W3C `traceparent`), and the worker's span of the
bulk write that applies it, linked to the spans of every record of the batch (and their child when
the batch holds records of one trace only). Off, nothing here imports the SDK and every helper
returns at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from interaction_hub.settings import Settings

log = logging.getLogger(__name__)
_enabled = False
KafkaHeaders = Sequence[tuple[str, bytes]] | Mapping[str, bytes]


def endpoint(settings: Settings) -> str | None:
    return settings.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def setup(settings: Settings, service: str) -> bool:
    """Export spans of this process as `service` when an endpoint is set; True when it is."""
    global _enabled
    base = endpoint(settings)
    if base is None or _enabled:
        return _enabled
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=base.rstrip("/") + "/v1/traces")))
    trace.set_tracer_provider(provider)
    _enabled = True
    log.info("tracing: spans of %s go to %s", service, base)
    return True


def enabled() -> bool:
    return _enabled


@contextmanager
def request_span(scope: Mapping[str, Any]) -> Iterator[Span | None]:
    """The server span of one HTTP request (parent: the caller's `traceparent`, if any); None when off,
    or when FastAPI made it already (its own tracing, in versions that have it, is around the app)."""
    if not _enabled:
        yield None
        return
    from opentelemetry import propagate, trace

    if trace.get_current_span().get_span_context().is_valid:
        yield None
        return

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    with trace.get_tracer(__name__).start_as_current_span(
        scope["method"], context=propagate.extract(carrier), kind=trace.SpanKind.SERVER
    ) as span:
        yield span


def kafka_headers() -> list[tuple[str, bytes]] | None:
    """The current trace context as Kafka record headers; None when off or outside a span."""
    if not _enabled:
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k, v.encode()) for k, v in carrier.items()] or None


@contextmanager
def batch_span(name: str, headers: Iterable[KafkaHeaders | None]) -> Iterator[Span | None]:
    """A span over work for many records: linked to the span each record's headers carry, and
    their child when they all carry the same one. None when off."""
    if not _enabled:
        yield None
        return
    from opentelemetry import propagate, trace

    contexts = {}
    for record in headers:
        if not record:
            continue
        pairs = record.items() if isinstance(record, Mapping) else record  # faust may give a mapping
        carrier = {str(k): bytes(v).decode("latin-1") for k, v in pairs if v is not None}
        context = propagate.extract(carrier)
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            contexts[(parent.trace_id, parent.span_id)] = (context, parent)
    links = [trace.Link(parent) for _, parent in contexts.values()]
    only = next(iter(contexts.values()))[0] if len(contexts) == 1 else None
    with trace.get_tracer(__name__).start_as_current_span(name, context=only, links=links) as span:
        span.set_attribute("ihub.traced_records", len(links))
        yield span
