"""GET / (query_api/routes/home.py): a browser is sent to the pages, any other client told where things are."""

from __future__ import annotations

import httpx
import pytest

from query_api.routes.home import PLACES

pytestmark = pytest.mark.anyio

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what Chromium sends


async def test_a_browser_is_redirected_to_the_pages(api: httpx.AsyncClient) -> None:
    answer = await api.get("/", headers={"Accept": BROWSER})
    assert (answer.status_code, answer.headers["location"], answer.headers["vary"]) == (307, "/ui/", "Accept")


@pytest.mark.parametrize("accept", ["*/*", "application/json", ""])
async def test_an_api_client_gets_the_places_as_json(api: httpx.AsyncClient, accept: str) -> None:
    answer = await api.get("/", headers={"Accept": accept})
    assert (answer.status_code, answer.json(), answer.headers["vary"]) == (200, PLACES, "Accept")
    assert PLACES == {"pages": "/ui/", "docs": "/docs", "openapi": "/openapi.json"}
