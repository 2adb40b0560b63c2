"""The webhook ingress (query_api/routes/ingest.py): an unknown source is a 404, a body over the
source's bound a 413, a media type its format does not take a 415, and a delivery that cannot be
adapted a 400 that stores nothing; a good one is stored once however often it comes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from ingest.adapters import adapt, sample_events
from schemas.channel_event import ChannelEvent
from tests.unit.query_api.routes.conftest import assert_error, in_process

pytestmark = pytest.mark.anyio

API_KEY = "k-3f9a"
SOURCES = """
[sources.own]
format = "ihub"
api_key_env = "IHUB_TEST_OWN_KEY"
max_body_bytes = 4096

[sources.genesys]
format = "genesys-cloud"
api_key_env = "IHUB_TEST_OWN_KEY"
"""
JSON = {"content-type": "application/json", "x-api-key": API_KEY}
INGEST = "/ingest/v1/sources"
INTERACTIONS = "/tmf-api/partyInteraction/v4/partyInteraction"


@pytest.fixture(scope="module")
async def ingress(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    sources = tmp_path_factory.mktemp("sources") / "sources.toml"
    sources.write_text(SOURCES)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IHUB_TEST_OWN_KEY", API_KEY)  # the source reads its key when a delivery comes
        async with in_process(tmp_path_factory.mktemp("data"), sources_file=sources) as client:
            yield client


def own_event(marker: str) -> dict[str, Any]:
    event = orjson.loads(next(e for e in sample_events() if e.type == "ihub.voice.call.ended").to_bytes())
    return {**event, "id": f"evt-{marker}", "data": {**event["data"], "callId": f"call-{marker}"}}


async def calls(api: httpx.AsyncClient, marker: str) -> list[dict[str, Any]]:
    answer = await api.get(INTERACTIONS, params={"call.callId": f"call-{marker}"})
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


async def test_a_delivery_is_stored_once_however_often_it_comes(ingress: httpx.AsyncClient) -> None:
    event = own_event("good")
    for _ in range(2):  # the vendor retries
        answer = await ingress.post(f"{INGEST}/own", content=orjson.dumps(event), headers=JSON)
        assert (answer.status_code, answer.json()) == (200, {}), answer.text
    expected = adapt(ChannelEvent.model_validate(event)).interaction_id
    assert [stored["id"] for stored in await calls(ingress, "good")] == [expected]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unknown_source_is_a_404(ingress: httpx.AsyncClient, method: str) -> None:
    assert_error(await ingress.request(method, f"{INGEST}/nobody", content=b"{}", headers=JSON), 404, "'nobody'")


async def test_a_source_name_no_source_can_have_is_a_400(ingress: httpx.AsyncClient) -> None:
    assert_error(await ingress.post(f"{INGEST}/{'s' * 64}", content=b"{}", headers=JSON), 400)


async def test_a_body_over_the_sources_bound_is_a_413_that_stores_nothing(ingress: httpx.AsyncClient) -> None:
    event = own_event("large")
    event["data"]["notes"] = "n" * 4096
    answer = await ingress.post(f"{INGEST}/own", content=orjson.dumps(event), headers=JSON)
    assert_error(answer, 413, "larger than 4096 bytes")
    assert await calls(ingress, "large") == []


async def test_a_media_type_the_format_does_not_take_is_a_415(ingress: httpx.AsyncClient) -> None:
    headers = {**JSON, "content-type": "text/plain"}
    answer = await ingress.post(f"{INGEST}/genesys", content=orjson.dumps(own_event("genesys")), headers=headers)
    assert_error(answer, 415, "genesys-cloud takes application/json, not 'text/plain'")


async def test_a_missing_or_wrong_key_is_a_401_that_stores_nothing(ingress: httpx.AsyncClient) -> None:
    body = orjson.dumps(own_event("nokey"))
    for key in ({}, {"x-api-key": "wrong"}):
        headers = {"content-type": "application/json", **key}
        assert_error(
            await ingress.post(f"{INGEST}/own", content=body, headers=headers),
            401,
            "X-Api-Key header is missing or wrong",
        )
    assert await calls(ingress, "nokey") == []


async def test_a_record_that_cannot_be_adapted_is_a_400_naming_it_and_nothing_is_stored(
    ingress: httpx.AsyncClient,
) -> None:
    good, bad = own_event("batch-good"), own_event("batch-bad")
    del bad["data"]["queue"]
    answer = await ingress.post(f"{INGEST}/own", content=orjson.dumps([good, bad]), headers=JSON)
    assert_error(answer, 400, "record 2 of 2", "queue")
    assert await calls(ingress, "batch-good") == []
    assert_error(await ingress.post(f"{INGEST}/own", content=b"{not json", headers=JSON), 400, "not JSON")
    assert_error(await ingress.post(f"{INGEST}/own", content=b"  ", headers=JSON), 400, "empty")
