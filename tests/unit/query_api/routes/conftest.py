"""The API in this process: create_app's own lifespan opens an embedded store in a fresh data
directory, and httpx calls the app through ASGI, with no server and no port; auth off.

One app per test module: an app's first request builds its OpenAPI document (the metrics' route
templates), a good part of a second, so the tests of a module share it and name their own parties."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from interaction_hub.settings import Settings
from query_api.app import create_app


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def in_process(data_dir: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app on `data_dir`; the lifespan runs as a server would run it
    (ASGITransport itself does not run it)."""
    app = create_app(Settings(store="embedded", data_dir=data_dir, auth="off", **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ihub.test") as client:
            yield client


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(tmp_path_factory.mktemp("data")) as client:
        yield client


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    """A TMF Error of `status` whose message holds each of `fragments`."""
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] == str(status), error
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
