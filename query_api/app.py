"""The FastAPI application: settings -> store -> hub -> routes."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from ingest.sources import load as load_sources
from interaction_hub import tracing
from interaction_hub.kafka_client import kafka_options
from interaction_hub.settings import Settings
from query_api import errors
from query_api.access import AccessControl, Audit
from query_api.auth import PUBLIC, AccessRules, Authenticator
from query_api.deps import Intake, State
from query_api.hub import Hub
from query_api.observability import Observe, store_readiness
from query_api.observability import router as operations_router
from query_api.page_policy import PagePolicy
from query_api.retention import RetentionSchedule
from query_api.routes import (
    analytics,
    directory,
    docs,
    home,
    hub,
    ingest,
    parties,
    party_interaction,
    party_interaction_v5,
    party_role,
    timeline,
    ui_config,
)
from schemas import EventSubscriptionInput, PartyInteractionCreate, PartyInteractionUpdate
from schemas.party_interaction_v5 import spec_schemas
from storage.base import InteractionStore, PartyDirectory, SubscriptionRegistry, SubscriptionStore
from storage.sqlite.store import SqliteStore

# Request bodies are read by hand (for 413/415 and TMF errors), so their schemas are added here.
REQUEST_MODELS = (PartyInteractionCreate, PartyInteractionUpdate, EventSubscriptionInput)


async def open_stores(settings: Settings) -> tuple[InteractionStore, SubscriptionRegistry, SubscriptionStore | None]:
    """(interaction store, subscription store, the outbox this process dispatches notifications
    from: None when it dispatches none)."""
    if settings.store == "embedded":
        store = SqliteStore(settings.data_dir, synchronous=settings.sqlite_synchronous)
        return store, store, store
    # full mode: reads from the index, writes through Kafka, notifications by the workers
    from interaction_hub.provisioning import prepare
    from interaction_hub.search_client import search_client, search_store
    from query_api.full_mode import LogBackedStore
    from storage.search.subscriptions import SubscriptionIndex

    await prepare(settings)  # topics and indices (idempotent)
    client = search_client(settings)
    search = search_store(settings, client)
    subscriptions = SubscriptionIndex(client, f"{settings.index_alias}-subscriptions")
    log_backed = LogBackedStore(
        search, kafka_options(settings), timeout_s=settings.write_timeout_s, erase_timeout_s=settings.erase_timeout_s
    )
    await log_backed.start()
    return log_backed, subscriptions, None


def _intake(store: InteractionStore, hub: Hub, settings: Settings) -> Intake:
    from query_api.full_mode import LogBackedStore
    from query_api.intake import embedded_intake, kafka_intake

    if isinstance(store, LogBackedStore):
        return kafka_intake(store)
    assert isinstance(store, SqliteStore)
    return embedded_intake(store, hub.notify, f"{settings.resource_root()}{settings.base_path}/partyInteraction")


class App(FastAPI):
    """FastAPI, with room for one layer outside its own (server errors, telemetry, body limits)."""

    outermost: Callable[[ASGIApp], Any] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.outermost is None else self.outermost(stack)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    authenticator = Authenticator.from_settings(settings)  # refuses settings that would expose data
    # refuses a sources file with any problem (SourcesError names them all)
    sources = load_sources(settings.sources_file) if settings.sources_file else {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store, subscriptions, outbox = await open_stores(settings)
        event_hub = Hub(subscriptions, outbox=outbox, settings=settings)
        audit = Audit(getattr(store, "audit", None))  # full mode: to the audit topic as well
        directory = cast(PartyDirectory, getattr(store, "directory", store))  # full mode's is beside its store
        app.state.ihub = State(
            settings, store, event_hub, authenticator, audit, _intake(store, event_hub, settings), directory, sources
        )
        app.state.readiness = store_readiness(store, settings.data_dir if settings.store == "embedded" else None)
        if authenticator is not None:
            await authenticator.keys.start()
        await event_hub.start()
        # embedded mode purges here; in full mode the workers' leader does (docs/privacy.md)
        retention = RetentionSchedule(store, event_hub, settings)
        if settings.store == "embedded":
            retention.start()
        try:
            yield
        finally:
            await retention.stop()
            await event_hub.stop()
            await store.close()

    app = App(
        title="Interaction Hub: TMF683 Party Interaction Management",
        version="4.0.0",
        description="TMF683 v4.0.0 with the TMF630 query contract. Errors are TMF Error JSON.",
        lifespan=lifespan,
        docs_url=None,  # routes/docs.py serves the page without a CDN
        redoc_url=None,
        # metrics are Prometheus' (query_api/observability.py); FastAPI's spans only when tracing is on,
        # else its check for them would run on every request
        telemetry={"tracing": tracing.enabled(), "metrics": False, "logs": False},
    )
    errors.install(app)
    app.include_router(party_interaction.router, prefix=settings.base_path)
    # its contract is TM Forum's v5 OpenAPI (docs/v5.md), not this app's v4 one
    app.include_router(party_interaction_v5.router, prefix=settings.base_path_v5, include_in_schema=False)
    rules = AccessRules(
        settings.base_path,
        settings.base_path_v5,
        public_docs=settings.auth_public_docs,
        public_metrics=settings.metrics_public,
    )
    # the last added is the outermost: nothing reaches a route before the caller is known and allowed
    app.add_middleware(AccessControl, rules=rules)
    # security headers on every answer, a 401 too; the pages may reach the identity provider they sign in with
    app.add_middleware(PagePolicy, identity_provider=settings.auth_issuer if authenticator is not None else None)
    app.add_middleware(Observe)  # outermost: request ids and metrics for every answer, a 401 too
    # outside even FastAPI's own layers: a plain GET by id answered in full, doing what the three above do for it
    app.outermost = functools.partial(party_interaction.RetrieveFastPath, prefix=settings.base_path, rules=rules)
    app.include_router(operations_router)  # /health/live, /health/ready, /metrics
    app.include_router(hub.router, prefix=settings.base_path)
    app.include_router(hub.router_v5, prefix=settings.base_path_v5, include_in_schema=False)
    app.include_router(timeline.router)
    app.include_router(analytics.router)
    app.include_router(parties.router)
    app.include_router(directory.router)  # the party directory: identity resolution
    app.include_router(ingest.router)  # channel systems' own formats (ingest/formats)
    app.include_router(party_role.router)  # TMF669: the component's roles, one per permission
    app.include_router(home.router)  # /: the pages for a browser, where things are for an API client
    app.include_router(ui_config.router)  # /ui/auth.json: before the /ui mount, so it wins
    app.mount("/ui", StaticFiles(directory=Path(__file__).parent / "ui", html=True), name="ui")

    def finished(schema: dict[str, Any]) -> dict[str, Any]:
        # bad parameters are a TMF Error 400 (errors.py), never FastAPI's own 422
        for operation in (op for path in schema["paths"].values() for op in path.values()):
            operation["responses"].pop("422", None)
        components = schema["components"]["schemas"]
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        if authenticator is not None:
            _document_security(schema, rules)
        return schema

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
            app.openapi_schema = finished(schema)
        return app.openapi_schema

    # v5's operations are left out of v4's document above: they have one of their own
    v5_routes = APIRouter()
    v5_routes.include_router(party_interaction_v5.router, prefix=settings.base_path_v5)
    v5_routes.include_router(hub.router_v5, prefix=settings.base_path_v5)

    @functools.cache
    def openapi_v5() -> dict[str, Any]:
        schema = get_openapi(
            title=f"{app.title} v5",
            version="5.0.0",
            description="TMF683 v5.0.0 as this server implements it: the same interactions as v4 in the v5 "
            "shape. Bodies are validated against TM Forum's v5 schemas, listed here. Errors are TMF Error JSON.",
            routes=v5_routes.routes,
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(spec_schemas()["components"]["schemas"])
        return finished(schema)

    docs.install(app, openapi_v5)
    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    return app


def _document_security(schema: dict[str, Any], rules: AccessRules) -> None:
    """With auth on: the bearer scheme, and on each operation that needs a token its permission,
    401 and 403 (from the one table of permissions)."""
    schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            needed = rules.needed(method.upper(), path.replace("{", "").replace("}", ""))
            if needed == PUBLIC:
                continue
            operation["security"] = [{"bearer": []}]
            if needed:
                operation["description"] = f"{operation.get('description', '')}\n\nPermission: `{needed}`".strip()
            error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            operation["responses"]["401"] = {"description": "No valid bearer token", "content": error}
            if needed:
                operation["responses"]["403"] = {"description": f"The token does not grant {needed}", "content": error}
