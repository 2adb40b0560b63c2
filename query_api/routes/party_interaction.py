"""TMF683 v4 /partyInteraction routes: create, retrieve, list (TMF630), patch, delete.

The routes read the v4 request and write the v4 answer (the stored form is v4's, with its
references' links, and its href where the request reached this server); what they do to
interactions, v5's too, is query_api/interactions.py.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from interaction_hub import tracing
from interaction_hub.logs import request_id, request_id_from
from query_api import interactions
from query_api.access import CurrentCaller, identify
from query_api.auth import AccessRules, InvalidToken
from query_api.body import read_json
from query_api.deps import AppState, State
from query_api.errors import TmfError
from query_api.interactions import JSON, JSON_PATCH, MERGE_PATCH, PATCH_KINDS, SERVER_OWNED, etag, not_modified
from query_api.observability import REQUEST_ID_HEADER, count
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
from query_api.page_policy import EVERY_ANSWER
from schemas import Error, PartyInteraction, PartyInteractionCreate, PartyInteractionUpdate
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
    """Pure ASGI middleware, outside all others, FastAPI's own too (query_api/app.py `App`), for
    the API's hottest call: a plain `GET /partyInteraction/{id}` whose interaction is there is
    answered here in full, without FastAPI's routing and dependencies and without the layers of the
    middlewares (together most of the call's cost: bench/README.md). It does for the call what they
    would: the request id and the metrics (query_api/observability.py), the caller and its
    permission (query_api/access.py), the headers of every answer (query_api/page_policy.py).

    Whatever it cannot answer that way passes on to the app, untouched and unanswered: another
    method or path, a query string (`fields`), an If-None-Match, tracing on, a caller refused or
    acting for one party, an interaction not there, a read that failed (the route reads again, and
    answers as it answers any error)."""

    def __init__(self, app: Any, *, prefix: str, rules: AccessRules) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/partyInteraction/"
        self.route = self.prefix + "{id}"  # its metrics' route label, as Observe names it
        self.rules = rules

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        try:
            answer = await self._answer(scope)
        except Exception:  # the app answers it, as it answers any error
            answer = None
        if answer is None:
            await self.app(scope, receive, send)
            return
        headers, body = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        count(self.route, "GET", 200, started)

    async def _answer(self, scope: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """The headers and body of the answer, or None to pass the request on."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"] or tracing.enabled():
            return None
        path: str = scope["path"]
        interaction_id = path[len(self.prefix) :] if path.startswith(self.prefix) else ""
        if not interaction_id or "/" in interaction_id:
            return None
        authorization = given_id = None
        for key, value in scope["headers"]:  # the server's header names are lower case
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == REQUEST_ID_HEADER:
                given_id = value.decode("latin-1")
            elif key == b"if-none-match":
                return None
        state: State = scope["app"].state.ihub
        needed = self.rules.needed("GET", path)
        try:
            caller = await identify(state.authenticator, needed, authorization)
        except InvalidToken:
            return None
        if (needed and not caller.may(needed)) or caller.party_id is not None:
            return None
        rid = request_id_from(given_id)
        token = request_id.set(rid)
        try:
            stored = await state.store.get(interaction_id)
            if stored is None:
                return None
            body = state.links.body(stored.body, interactions.hrefs(state, scope))
        finally:
            request_id.reset(token)
        # the headers a Response(body, headers={"ETag": tag}, media_type=JSON) sends, and the
        # middlewares' own: query_api/page_policy.py, then query_api/observability.py
        headers = [
            (b"etag", etag(stored.version).encode()),
            (b"content-length", b"%d" % len(body)),
            (b"content-type", _JSON_TYPE),
            *EVERY_ANSWER,
            (REQUEST_ID_HEADER, rid.encode()),
        ]
        return headers, body


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
