"""The FastAPI application: settings -> store -> hub -> routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from query_api import errors
from query_api.deps import State
from query_api.hub import Hub
from query_api.routes import hub, party_interaction
from schemas import EventSubscriptionInput, PartyInteractionCreate, PartyInteractionUpdate
from settings import Settings
from storage.sqlite.store import SqliteStore

# Request bodies are read by hand (for 413/415 and TMF errors), so their schemas are added here.
REQUEST_MODELS = (PartyInteractionCreate, PartyInteractionUpdate, EventSubscriptionInput)


def open_store(settings: Settings) -> SqliteStore:
    return SqliteStore(settings.data_dir, synchronous=settings.sqlite_synchronous)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        event_hub = Hub(
            store,
            max_attempts=settings.notify_max_attempts,
            timeout_s=settings.notify_timeout_s,
            backoff_s=settings.notify_backoff_s,
        )
        app.state.ihub = State(settings, store, event_hub)
        await event_hub.start()
        try:
            yield
        finally:
            await event_hub.stop()
            await store.close()

    app = FastAPI(
        title="Interaction Hub: TMF683 Party Interaction Management",
        version="4.0.0",
        description="TMF683 v4.0.0 with the TMF630 query contract. Errors are TMF Error JSON.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(party_interaction.router, prefix=settings.base_path)
    app.include_router(hub.router, prefix=settings.base_path)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in REQUEST_MODELS:
                model_schema = model.model_json_schema(
                    by_alias=True, ref_template="#/components/schemas/{model}", mode="validation"
                )
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
