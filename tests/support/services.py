"""The services the tests run against: scripts/services, what it prints, and how the search engine
under test is reached (credentials and CA bundle, from the project's own settings)."""

from __future__ import annotations

import asyncio
import os
import shlex
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services"


def run_async(awaitable):
    """`asyncio.run` in a thread of its own: works while another event loop runs in this thread
    (Playwright's sync API keeps one running for as long as a browser is open)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, awaitable).result()


def parse_exports(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            env[key] = value
    return env


# How the engine under test is reached besides its URL (scripts/services runs it with users and
# HTTPS): the project's own settings, read from the environment by every process a test starts.
SEARCH_ACCESS = ("IHUB_SEARCH_USERNAME", "IHUB_SEARCH_PASSWORD", "IHUB_SEARCH_API_KEY", "IHUB_SEARCH_CA_FILE")


def engine_client(url: str, **options: Any) -> Any:
    """A client of the engine under test at `url`, with its credentials and CA bundle
    (IHUB_SEARCH_USERNAME, _PASSWORD, _API_KEY, _CA_FILE); `options` go to create_client."""
    from storage.search import client_options, create_client

    access = client_options(
        username=os.environ.get("IHUB_SEARCH_USERNAME"),
        password=os.environ.get("IHUB_SEARCH_PASSWORD"),
        api_key=os.environ.get("IHUB_SEARCH_API_KEY"),
        ca_file=os.environ.get("IHUB_SEARCH_CA_FILE"),
    )
    return create_client(url, **access, **options)


def engine_http() -> dict[str, Any]:
    """Keyword arguments that let httpx reach the engine under test: credentials and CA bundle."""
    options: dict[str, Any] = {}
    if os.environ.get("IHUB_SEARCH_USERNAME"):
        options["auth"] = (os.environ["IHUB_SEARCH_USERNAME"], os.environ.get("IHUB_SEARCH_PASSWORD", ""))
    elif os.environ.get("IHUB_SEARCH_API_KEY"):
        options["headers"] = {"Authorization": f"ApiKey {os.environ['IHUB_SEARCH_API_KEY']}"}
    if os.environ.get("IHUB_SEARCH_CA_FILE"):
        options["verify"] = ssl.create_default_context(cafile=os.environ["IHUB_SEARCH_CA_FILE"])
    return options


def drop_deployment(search_url: str, alias: str) -> None:
    """Delete every index a deployment behind `alias` made (its periods of every generation, the
    locator, contacts, parties and subscriptions) and its index template: the engine refuses a
    wildcard delete, so each by name."""
    found = httpx.get(
        f"{search_url}/_cat/indices/{alias}.*,{alias}-*",
        params={"h": "index", "format": "json", "expand_wildcards": "all"},
        timeout=60,
        **engine_http(),
    )
    names = [row["index"] for row in found.json()] if found.status_code == 200 else []
    for start in range(0, len(names), 50):  # a URL of bounded length
        httpx.delete(
            f"{search_url}/{','.join(names[start : start + 50])}",
            params={"ignore_unavailable": "true"},
            timeout=60,
            **engine_http(),
        )
    httpx.delete(f"{search_url}/_index_template/{alias}", timeout=60, **engine_http())
