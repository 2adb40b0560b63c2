"""How every search-engine client of the application connects: one place for the URL, the engine
and its credentials and CA bundle (the storage layer knows engines, not settings)."""

from __future__ import annotations

from typing import Any

from interaction_hub.settings import Settings
from storage.search.engine import client_options, create_client
from storage.search.store import SearchStore


def search_client_options(settings: Settings) -> dict[str, Any]:
    """The credential and TLS keywords of :func:`create_client` that ``settings`` ask for."""
    password, api_key = settings.search_password, settings.search_api_key
    return client_options(
        username=settings.search_username,
        password=password.get_secret_value() if password else None,
        api_key=api_key.get_secret_value() if api_key else None,
        ca_file=settings.search_ca_file,
        engine=settings.search_engine,
    )


def search_client(settings: Settings, **options: Any) -> Any:
    """The one way the application opens the search engine; ``options`` (time-outs, retries) go to
    :func:`create_client`. The caller closes the client."""
    return create_client(
        settings.search_url, engine=settings.search_engine, **search_client_options(settings), **options
    )


def search_store(settings: Settings, client: Any = None) -> SearchStore:
    """The deployment's interaction store (its alias, period, shards and replicas), on `client` or a
    new client of its own (closed with the store)."""
    return SearchStore(
        client if client is not None else search_client(settings),
        settings.index_alias,
        replicas=settings.index_replicas,
        shards=settings.index_shards,
        period=settings.index_period,
    )
