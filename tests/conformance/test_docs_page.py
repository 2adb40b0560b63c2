"""The API docs page loads everything from this server: nothing from a CDN."""

from __future__ import annotations

import re

import httpx


def test_the_docs_page_and_its_assets_come_from_this_server(server):
    page = httpx.get(server.root + "/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r"(?:src|href)=[\"']([^\"']+)", page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "cdn" not in page.text.lower()
    for source in sources:
        assert httpx.get(server.root + source).status_code == 200, source
    assert httpx.get(server.root + "/openapi.json").json()["info"]["title"].startswith("Interaction Hub")
    assert httpx.get(server.root + "/redoc").status_code == 404  # FastAPI's ReDoc page loads from a CDN
