"""TMF683 v4 /partyInteraction routes: create, retrieve, list (TMF630), patch, delete.

The routes read the v4 request and write the v4 answer (the stored form is v4's, with its
references' links, and its href where the request reached this server); what they do to
interactions, v5's too, is query_api/interactions.py.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from query_api import interactions
from query_api.access import CurrentCaller
from query_api.body import read_json
from query_api.deps import AppState, State
from query_api.errors import TmfError, error_response
from query_api.interactions import JSON, JSON_PATCH, MERGE_PATCH, PATCH_KINDS, SERVER_OWNED, etag, not_modified
from query_api.operation_docs import (
    ERRORS,
    FIELDS,
    IF_MATCH,
    IF_NONE_MATCH,
    JSON_PATCH_SCHEMA,
    LIMIT,
    OFFSET,
    PAGE_HEADERS,
    SORT,
    InteractionId,
    projected,
)
from schemas import Error, PartyInteraction, PartyInteractionCreate, PartyInteractionUpdate
from storage.base import StoredDocument
from storage.query import project
from storage.tmf630 import MAX_CONDITIONS, MAX_QUERY_CHARS, MAX_VALUES

router = APIRouter(tags=["partyInteraction"])


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Error, "description": ERRORS[code]} for code in codes}


# what a GET answers with `fields`: only the attributes named, and id and href
_PROJECTED = projected(_ref(PartyInteraction))
_LIST = {"type": "array", "items": _PROJECTED}


_JSON_TYPE = JSON.encode()


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers=headers, media_type=JSON)


@router.post(
    "/partyInteraction",
    status_code=201,
    summary="Creates a PartyInteraction",
    responses={201: {"model": PartyInteraction, "description": "Created"}, **_errors(400, 413, 415)},
    openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": _ref(PartyInteractionCreate)}}}},
)
async def create_party_interaction(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    _, body = await read_json(request, state.settings.max_body_bytes, (JSON,))
    if not isinstance(body, dict):
        raise TmfError(400, "the body must be a JSON object")
    owned = [key for key in SERVER_OWNED if key in body]
    if owned:
        raise TmfError(400, f"set by the server, not by clients: {', '.join(owned)}")
    outcome = await interactions.create(state, caller, body)
    assert outcome.new.doc is not None
    doc = state.links.linked(outcome.new.doc, interactions.hrefs(state, request.scope))
    return _json(orjson.dumps(doc), 201, {"Location": doc["href"], "ETag": etag(outcome.new.version)})


@router.get(
    "/partyInteraction",
    summary="Lists or finds PartyInteraction objects (TMF630 filters, fields, sort, offset, limit)",
    description="Any other query parameter is a TMF630 filter on an attribute path: `status=open`, "
    "`relatedParty.id=cust-42`, `creationDate.gte=2026-11-01`, `reason.regex=(?i)^bill` (RE2), `a>=v`, "
    "`a!=v`; a comma is OR. Filters are ANDed. The whole query string has at most "
    f"{MAX_QUERY_CHARS} characters, {MAX_CONDITIONS} filters and {MAX_VALUES} filter values.",
    responses={
        200: {"content": {JSON: {"schema": _LIST}}, "headers": PAGE_HEADERS, "description": "A page of the matches"},
        206: {
            "content": {JSON: {"schema": _LIST}},
            "headers": PAGE_HEADERS,
            "description": "With IHUB_PARTIAL_CONTENT_206=true: a page that holds only part of the matches",
        },
        **_errors(400),
    },
    openapi_extra={"parameters": [FIELDS, SORT, OFFSET, LIMIT]},
)
async def list_party_interactions(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    at = interactions.hrefs(state, request.scope)
    asked = interactions.href_as_id(interactions.parse_list_query(request), at)
    query, page = await interactions.list_page(state, caller, asked)
    if query.fields is None:
        body = b"[" + b",".join(state.links.body(item, at) for item in page.items) + b"]"
    else:
        body = orjson.dumps([project(state.links.linked(orjson.loads(item), at), query.fields) for item in page.items])
    return _json(body, *interactions.page_answer(state, request, query, page.total, len(page.items)))


@router.get(
    "/partyInteraction/{id}",
    summary="Retrieves a PartyInteraction by ID",
    responses={
        200: {"content": {JSON: {"schema": _PROJECTED}}, "description": "Success"},
        304: {"description": "Not Modified"},
        **_errors(400, 404),
    },
    openapi_extra={"parameters": [FIELDS, IF_NONE_MATCH]},
)
async def get_party_interaction(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    query = interactions.parse_retrieve_query(request)
    stored = await interactions.read(state, caller, id)
    headers = {"ETag": etag(stored.version)}
    if not_modified(request.headers.get("if-none-match"), stored.version):
        return Response(status_code=304, headers=headers)
    at = interactions.hrefs(state, request.scope)
    if query is not None and query.fields is not None:
        body = orjson.dumps(project(state.links.linked(orjson.loads(stored.body), at), query.fields))
    else:
        body = state.links.body(stored.body, at)
    return _json(body, headers=headers)


class RetrieveFastPath:
    """Pure ASGI middleware for the API's hottest call, a plain `GET /partyInteraction/{id}`: the
    stored interaction with its references' links (or the 404) goes straight out, without FastAPI's
    routing, dependency and middleware layers, a sizeable part of the call (bench/README.md).
    Anything else, a query string (`fields`), another method, a party-scoped caller, goes on
    to `get_party_interaction` and the rest of the app; an error from the store goes to the app's
    error handlers like one from a route."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/partyInteraction/"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and scope["state"]["caller"].party_id is None  # set by AccessControl, the outer middleware
        ):
            path: str = scope["path"]
            interaction_id = path[len(self.prefix) :] if path.startswith(self.prefix) else ""
            if interaction_id and "/" not in interaction_id:
                state: State = scope["app"].state.ihub
                stored = await state.store.get(interaction_id)
                await self._answer(scope, state, interaction_id, stored, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(
        scope: dict[str, Any], state: State, interaction_id: str, stored: StoredDocument | None, receive: Any, send: Any
    ) -> None:
        if stored is None:
            await error_response(404, interactions.not_found(interaction_id))(scope, receive, send)
            return
        tag = etag(stored.version)
        if_none_match = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None)
        if not_modified(if_none_match, stored.version):
            await Response(status_code=304, headers={"ETag": tag})(scope, receive, send)
            return
        body = state.links.body(stored.body, interactions.hrefs(state, scope))
        # the messages a Response(body, headers={"ETag": tag}, media_type=JSON) sends, made directly
        headers = [(b"etag", tag.encode()), (b"content-length", b"%d" % len(body)), (b"content-type", _JSON_TYPE)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@router.patch(
    "/partyInteraction/{id}",
    summary="Updates partially a PartyInteraction (merge patch, or JSON Patch)",
    responses={200: {"model": PartyInteraction, "description": "Updated"}, **_errors(400, 404, 412, 413, 415)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                MERGE_PATCH: {"schema": _ref(PartyInteractionUpdate)},
                JSON: {"schema": _ref(PartyInteractionUpdate)},
                JSON_PATCH: {"schema": JSON_PATCH_SCHEMA},
            },
        },
        "parameters": [IF_MATCH],
    },
)
async def patch_party_interaction(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    kind, patch = await read_json(request, state.settings.max_body_bytes, tuple(PATCH_KINDS))
    change = interactions.patch_change(state, caller, id, kind, patch, request)
    outcome = await interactions.patch(state, change)
    assert outcome.new.doc is not None
    shown = state.links.linked(outcome.new.doc, interactions.hrefs(state, request.scope))
    return _json(orjson.dumps(shown), headers={"ETag": etag(outcome.new.version)})


@router.delete(
    "/partyInteraction/{id}",
    status_code=204,
    summary="Deletes a PartyInteraction",
    responses={204: {"description": "Deleted"}, **_errors(404, 412)},
    openapi_extra={"parameters": [IF_MATCH]},
)
async def delete_party_interaction(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    await interactions.delete(state, caller, id, request)
    return Response(status_code=204)
