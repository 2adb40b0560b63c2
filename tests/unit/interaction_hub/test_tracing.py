"""Tracing (interaction_hub/tracing.py): off without an endpoint, and a batch's span links every record's trace."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OFF = """
import sys
from interaction_hub import tracing
from interaction_hub.settings import Settings
import query_api.app, query_api.full_mode, stream_workers.pipeline

assert not tracing.setup(Settings(), "ihub-api") and not tracing.enabled()
with tracing.request_span({"headers": [], "method": "GET"}) as span:
    assert span is None
with tracing.batch_span("bulk write", iter(lambda: 1 / 0, None)) as span:  # the headers are not even read
    assert span is None
assert tracing.kafka_headers() is None
assert [m for m in sys.modules if m.startswith("opentelemetry.sdk")] == []
"""

LINKS = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from interaction_hub import tracing

exported = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exported))
trace.set_tracer_provider(provider)
tracing._enabled = True  # what setup does, with an exporter kept in memory

records = []
for name in ("first request", "second request"):
    with tracing.request_span({"headers": [], "method": "POST"}) as span:
        records.append(tracing.kafka_headers())
assert all(dict(h)["traceparent"] for h in records)
with tracing.batch_span("bulk write", [*records, None, [("other", b"x")], {"traceparent": records[0][0][1]}]):
    pass
with tracing.batch_span("bulk write", [records[1], records[1]]):
    pass
requests = [s for s in exported.get_finished_spans() if s.name == "POST"]
two, one = [s for s in exported.get_finished_spans() if s.name == "bulk write"]
assert {link.context.span_id for link in two.links} == {s.context.span_id for s in requests}
assert two.parent is None  # two traces: links only
assert one.parent.span_id == requests[1].context.span_id and one.context.trace_id == requests[1].context.trace_id
assert len(one.links) == 1
"""


def run(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env={}, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def test_off_without_an_endpoint_and_the_sdk_is_not_imported():
    run(OFF)


def test_a_batch_span_links_every_record_and_is_the_child_of_a_single_one():
    run(LINKS)
