"""Tracing (interaction_hub/tracing.py): a POST in full mode is one trace, from the API's request
span through the raw record's headers to the worker's bulk write, received over OTLP/HTTP."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.server import BASE_PATH, Server

pytestmark = pytest.mark.integration


class Receiver:
    """An OTLP/HTTP trace receiver: keeps (service, span) of every POST to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    for resource in request.resource_spans:
                        service = next(
                            a.value.string_value for a in resource.resource.attributes if a.key == "service.name"
                        )
                        receiver.spans += [(service, s) for scope in resource.scope_spans for s in scope.spans]
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, service: str) -> list:
        return [span for name, span in self.spans if name == service]


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()


def test_a_write_is_one_trace_from_the_request_to_the_bulk_write(isolated, receiver, tmp_path):
    env, worker = isolated
    env["IHUB_OTLP_ENDPOINT"] = receiver.url
    env["OTEL_BSP_SCHEDULE_DELAY"] = "200"  # export every 0.2 s, not 5 s
    worker()
    server = Server(tmp_path / "unused", env).start()
    try:
        response = httpx.post(
            server.url + "partyInteraction",
            json={"direction": "inbound", "reason": "tracing", "channel": [{"id": "web", "name": "web"}]},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            requests = [s for s in receiver.of("ihub-api") if s.name == f"POST {BASE_PATH}/partyInteraction"]
            writes = [s for s in receiver.of("ihub-worker") if s.name == "bulk write"]
            if requests and writes:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no request span and bulk write span: {[(n, s.name) for n, s in receiver.spans]}")
    finally:
        server.stop()
    (request,) = requests
    assert request.kind == request.SPAN_KIND_SERVER
    api_spans = {s.span_id for s in receiver.of("ihub-api") if s.trace_id == request.trace_id}
    linked = [w for w in writes if any(link.trace_id == request.trace_id for link in w.links)]
    assert linked, "no bulk write linked to the request's trace"
    (link,) = [link for link in linked[0].links if link.trace_id == request.trace_id]
    assert link.span_id in api_spans  # the span that published the record
    assert linked[0].trace_id == request.trace_id  # the batch held this trace only: its child, too
    assert linked[0].parent_span_id == link.span_id
