"""The server's root leads somewhere: a browser to the pages, an API client to where things are; and
the start line names the pages."""

from __future__ import annotations

import httpx

PLACES = {"pages": "/ui/", "docs": "/docs", "openapi": "/openapi.json"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what Chromium sends


def test_a_browser_is_sent_to_the_pages(server):
    response = httpx.get(server.root + "/", headers={"Accept": BROWSER})
    assert (response.status_code, response.headers["location"]) == (307, "/ui/")
    assert response.headers["vary"] == "Accept"
    page = httpx.get(server.root + "/", headers={"Accept": BROWSER}, follow_redirects=True)
    assert page.status_code == 200 and "<title>Customer 360" in page.text


def test_an_api_client_is_told_where_things_are(server):
    for accept in ("*/*", "application/json"):
        response = httpx.get(server.root + "/", headers={"Accept": accept})
        assert (response.status_code, response.json()) == (200, PLACES), accept
        assert response.headers["vary"] == "Accept"
    for path in PLACES.values():
        assert httpx.get(server.root + path).status_code == 200, path


def test_the_start_line_names_the_pages_and_the_docs(server):
    assert "pages at /ui/, docs at /docs" in server.output()
