"""Which engine failures are an outage (503, retry) and which are the request's own fault."""

from __future__ import annotations

import elastic_transport
import elasticsearch

from storage.search.engine import IndexMissing, outage, refused_request


def api_error(status: int) -> elasticsearch.ApiError:
    meta = elastic_transport.ApiResponseMeta(
        status, "1.1", elastic_transport.HttpHeaders(), 0.01, None
    )  # no node is needed to describe an answer
    return elasticsearch.ApiError("refused", meta, {})


def test_unreachable_timed_out_overloaded_or_without_its_index_is_an_outage():
    assert outage(elastic_transport.ConnectionError("refused"))
    assert outage(elastic_transport.ConnectionTimeout("slow"))
    assert outage(IndexMissing("ihub"))
    for status in (429, 502, 503, 504):
        assert outage(api_error(status))


def test_a_refused_query_or_a_bug_is_not_an_outage():
    assert not outage(api_error(400)) and refused_request(api_error(400)) == "refused"
    assert not outage(api_error(404))
    assert not outage(elastic_transport.SerializationError("bad json"))
    assert not outage(KeyError("_source"))
