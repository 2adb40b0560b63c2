"""TMF683 /partyInteraction routes: create, retrieve, list (TMF630), patch, delete.

Each write becomes one `Change` (storage/changes.py) that the store applies; the routes only read
the request (body, If-Match) and write the answer (ETag = the interaction's version, RFC 9110).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from uuid import uuid4

import orjson
from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from interaction_hub.references import ReferenceLinks
from query_api.access import CurrentCaller
from query_api.auth import Caller
from query_api.body import read_json
from query_api.deps import AppState, State
from query_api.errors import TmfError, error_response
from schemas import Error, PartyInteraction, PartyInteractionCreate, PartyInteractionUpdate
from schemas.common import utc_now
from schemas.party_interaction import INTERACTION_ID_PATTERN, is_interaction_id
from storage.base import StoredDocument
from storage.changes import Change, Kind, NotFound, Outcome, check, names_party
from storage.query import Condition, Op, Operand, Query, project
from storage.tmf630 import (
    MAX_CONDITIONS,
    MAX_FIELDS,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MAX_SORT_KEYS,
    MAX_VALUES,
    QueryError,
    parse_query,
)

router = APIRouter(tags=["partyInteraction"])

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# plain application/json is taken as a merge patch (the TMF convention)
PATCH_KINDS: dict[str, Kind] = {MERGE_PATCH: "merge", JSON: "merge", JSON_PATCH: "json-patch"}
SERVER_OWNED = ("id", "href")
_STRONG_TAG = re.compile(r'"([0-9]{1,19})"')


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: Request) -> tuple[int, ...] | None:
    """The versions an If-Match header accepts (None: any). Strong comparison (RFC 9110 13.1.1):
    a weak or foreign tag matches nothing, so a header of only those refuses every version."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    return tuple(int(m.group(1)) for tag in tags if (m := _STRONG_TAG.fullmatch(tag)))


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether If-None-Match names the current version (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag(version) in tags


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


# What each error status means here (every 4xx body is a TMF Error).
ERRORS = {
    400: "A malformed or invalid request: the message names the parameter, attribute or limit",
    404: "No PartyInteraction with this id (none has an id that does not match the pattern)",
    412: "If-Match names none of the interaction's current ETag",
    413: "The body is larger than the limit (IHUB_MAX_BODY_BYTES, 1 MiB by default)",
    415: "A Content-Type this operation does not take",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Error, "description": ERRORS[code]} for code in codes}


# The TMF630 parameters as the server reads them (storage/tmf630.py). Attribute names are written
# here in ASCII, a subset of what the server takes. `fields` and `sort` are bounded so that, with
# `offset` and `limit`, a query string stays within the server's MAX_QUERY_CHARS however encoded.
_NAME = r"[A-Za-z_@$][A-Za-z0-9_@$-]*"
ATTRIBUTE_PATH = rf"{_NAME}(?:\.{_NAME})*"
_LISTED_MAX_CHARS = 2048
_FIELDS: dict[str, Any] = {
    "name": "fields",
    "in": "query",
    "description": f"Attributes to return (dotted paths reach inside), comma-separated, at most {MAX_FIELDS}; "
    "id and href always come; `none`: only those",
    "schema": {
        "type": "string",
        "pattern": rf"^{ATTRIBUTE_PATH}(?:,{ATTRIBUTE_PATH}){{0,{MAX_FIELDS - 1}}}$",
        "maxLength": _LISTED_MAX_CHARS,
    },
}
_SORT: dict[str, Any] = {
    "name": "sort",
    "in": "query",
    "description": f"Sort keys, comma-separated, at most {MAX_SORT_KEYS}; `-` before a key: descending",
    "schema": {
        "type": "string",
        "pattern": rf"^[+-]?{ATTRIBUTE_PATH}(?:,[+-]?{ATTRIBUTE_PATH}){{0,{MAX_SORT_KEYS - 1}}}$",
        "maxLength": _LISTED_MAX_CHARS,
    },
}
_PAGE = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
_OFFSET = {"name": "offset", "in": "query", "description": "Matches to skip", "schema": _PAGE}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "description": "Page size (default IHUB_DEFAULT_PAGE_SIZE); a larger one than IHUB_MAX_PAGE_SIZE is lowered to it",
    "schema": _PAGE,
}
InteractionId = Annotated[
    str, Path(description="The interaction's id", json_schema_extra={"pattern": INTERACTION_ID_PATTERN})
]
_ETAG = {"type": "string", "description": 'ETags, comma-separated, e.g. "1767225600000000", or *'}
_IF_MATCH = {"name": "If-Match", "in": "header", "description": "Change only this version", "schema": _ETAG}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "description": "304 if still this version", "schema": _ETAG}
# what a GET answers with `fields`: only the attributes named, and id and href
_PROJECTED: dict[str, Any] = {
    "anyOf": [
        _ref(PartyInteraction),
        {
            "type": "object",
            "required": ["id", "href"],
            "properties": {"id": {"type": "string"}, "href": {"type": "string"}},
            "description": "With `fields`: the attributes named, and id and href",
        },
    ]
}
_LIST = {"type": "array", "items": _PROJECTED}
_PAGE_HEADERS = {
    "X-Total-Count": {"description": "Matches in all", "schema": {"type": "integer"}},
    "X-Result-Count": {"description": "Items in this page", "schema": {"type": "integer"}},
    "Link": {
        "description": "first, prev, next and last pages (RFC 8288), when anything matches",
        "schema": {"type": "string"},
    },
}
# RFC 6902 operations, as storage/changes.py checks them; a path to id, href or direction is a 400
_POINTER = {"type": "string", "pattern": "^(?:/(?:[^/~]|~[01])*)*$", "description": "JSON Pointer (RFC 6901)"}
_TARGET = {**_POINTER, "pattern": "^(?:/(?:[^/~]|~[01])*)+$", "description": "JSON Pointer to an attribute"}
JSON_PATCH_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "anyOf": [
            {
                "type": "object",
                "required": ["op", "path", "value"],
                "properties": {"op": {"enum": ["add", "replace"]}, "path": _TARGET, "value": {}},
            },
            {
                "type": "object",
                "required": ["op", "path", "value"],
                "properties": {"op": {"const": "test"}, "path": _POINTER, "value": {}},
            },
            {"type": "object", "required": ["op", "path"], "properties": {"op": {"const": "remove"}, "path": _TARGET}},
            {
                "type": "object",
                "required": ["op", "from", "path"],
                "properties": {"op": {"const": "move"}, "from": _TARGET, "path": _TARGET},
            },
            {
                "type": "object",
                "required": ["op", "from", "path"],
                "properties": {"op": {"const": "copy"}, "from": _POINTER, "path": _TARGET},
            },
        ]
    },
}


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers=headers, media_type=JSON)


def _parse(raw: str, allow: tuple[str, ...]) -> Query:
    try:
        return parse_query(raw, allow=allow)
    except QueryError as exc:
        raise TmfError(400, str(exc)) from None


def _href(state: AppState, interaction_id: str) -> str:
    # never from the request's Host header: a stored href is served to every client
    return f"{state.settings.resource_root()}{state.settings.base_path}/partyInteraction/{interaction_id}"


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
    outcome = await create_interaction(state, caller, body)
    doc = outcome.new.doc
    assert doc is not None
    return _json(
        orjson.dumps(state.links.linked(doc)), 201, {"Location": doc["href"], "ETag": etag(outcome.new.version)}
    )


async def create_interaction(state: AppState, caller: Caller, body: dict[str, Any]) -> Outcome:
    """Create an interaction from a create body in the stored form (v4 and v5 routes)."""
    created = PartyInteractionCreate.model_validate(body).to_json_dict()
    created.pop("creationDate", None)  # the server's clock, whatever a client sent
    if caller.party_id is not None and not names_party(created, caller.party_id):
        raise TmfError(403, f"this token creates only interactions whose relatedParty names '{caller.party_id}'")
    interaction_id = uuid4().hex
    change = Change.at(
        "create", interaction_id, utc_now(), created, href=_href(state, interaction_id), party_id=caller.party_id
    )
    outcome = await state.store.write(change, state.hub.notify)
    state.hub.wake()
    return outcome


@router.get(
    "/partyInteraction",
    summary="Lists or finds PartyInteraction objects (TMF630 filters, fields, sort, offset, limit)",
    description="Any other query parameter is a TMF630 filter on an attribute path: `status=open`, "
    "`relatedParty.id=cust-42`, `creationDate.gte=2026-11-01`, `reason.regex=(?i)^bill` (RE2), `a>=v`, "
    "`a!=v`; a comma is OR. Filters are ANDed. The whole query string has at most "
    f"{MAX_QUERY_CHARS} characters, {MAX_CONDITIONS} filters and {MAX_VALUES} filter values.",
    responses={
        200: {"content": {JSON: {"schema": _LIST}}, "headers": _PAGE_HEADERS, "description": "A page of the matches"},
        206: {
            "content": {JSON: {"schema": _LIST}},
            "headers": _PAGE_HEADERS,
            "description": "With IHUB_PARTIAL_CONTENT_206=true: a page that holds only part of the matches",
        },
        **_errors(400),
    },
    openapi_extra={"parameters": [_FIELDS, _SORT, _OFFSET, _LIMIT]},
)
async def list_party_interactions(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    query = paged(state, scoped(parse_list_query(request), caller.party_id))
    page = await state.store.list(query)
    if query.fields is None:
        body = b"[" + b",".join(map(state.links.body, page.items)) + b"]"
    else:
        body = orjson.dumps([project(state.links.linked(orjson.loads(item)), query.fields) for item in page.items])
    return _json(body, *page_answer(state, request, query, page.total, len(page.items)))


def parse_list_query(request: Request) -> Query:
    return _parse(request.url.query, allow=("fields", "sort", "offset", "limit"))


def paged(state: AppState, query: Query) -> Query:
    """Without `limit`, the default page; never more than the maximum (a larger `limit` is lowered
    to it: the answer's Link header leads on)."""
    limit = state.settings.default_page_size if query.limit is None else query.limit
    return replace(query, limit=min(limit, state.settings.max_page_size))


def page_answer(state: AppState, request: Request, query: Query, total: int, count: int) -> tuple[int, dict[str, str]]:
    """A list page's status and paging headers (`count` of the `total` matches): 200, or with
    IHUB_PARTIAL_CONTENT_206 a 206 for a page that holds only part of them (TMF630). TMF683's
    OpenAPI declares only 200 for a list: clients generated from it get nothing from a 206, and
    read what remains from the headers."""
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(count)}
    partial = query.offset > 0 or count < total
    if total:
        headers["Link"] = _links(request, query, total)
    return 206 if partial and state.settings.partial_content_206 else 200, headers


def scoped(query: Query, party_id: str | None) -> Query:
    """The query a party-scoped caller runs: only interactions whose relatedParty names the party.
    Part of the query the store compiles, so totals, paging and `fields` stay right."""
    if party_id is None:
        return query
    only_party = Condition("relatedParty.id", Op.EQ, (Operand(party_id),))  # text equality, nothing parsed
    return replace(query, conditions=(*query.conditions, only_party))


def _links(request: Request, query: Query, total: int) -> str:
    limit = query.limit or 1
    params = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k not in ("offset", "limit")]

    def url(offset: int) -> str:
        return str(request.url.replace(query=urlencode([*params, ("offset", offset), ("limit", query.limit)])))

    last = max(0, (total - 1) // limit * limit)
    links = [f'<{url(0)}>; rel="first"']
    if query.offset > 0:
        links.append(f'<{url(max(0, query.offset - limit))}>; rel="prev"')
    if query.offset + limit < total:
        links.append(f'<{url(query.offset + limit)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)


@router.get(
    "/partyInteraction/{id}",
    summary="Retrieves a PartyInteraction by ID",
    responses={
        200: {"content": {JSON: {"schema": _PROJECTED}}, "description": "Success"},
        304: {"description": "Not Modified"},
        **_errors(400, 404),
    },
    openapi_extra={"parameters": [_FIELDS, _IF_NONE_MATCH]},
)
async def get_party_interaction(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    query = parse_retrieve_query(request)
    stored = await read_interaction(state, caller, id)
    headers = {"ETag": etag(stored.version)}
    if not_modified(request.headers.get("if-none-match"), stored.version):
        return Response(status_code=304, headers=headers)
    if query is not None and query.fields is not None:
        body = orjson.dumps(project(state.links.linked(orjson.loads(stored.body)), query.fields))
    else:
        body = state.links.body(stored.body)
    return _json(body, headers=headers)


def parse_retrieve_query(request: Request) -> Query | None:
    query = _parse(request.url.query, allow=("fields",)) if request.url.query else None
    if query is not None and query.conditions:
        raise TmfError(400, "only 'fields' is accepted when retrieving one PartyInteraction")
    return query


async def read_interaction(state: AppState, caller: Caller, interaction_id: str) -> StoredDocument:
    """The stored interaction, or 404 (also for one a party-scoped caller may not see)."""
    stored = await state.store.get(interaction_id)
    if stored is None or (caller.party_id is not None and not names_party(orjson.loads(stored.body), caller.party_id)):
        raise TmfError(404, _not_found(interaction_id))
    return stored


def _not_found(interaction_id: str) -> str:
    return f"no PartyInteraction with id '{interaction_id}'"


def require_interaction_id(interaction_id: str) -> None:
    """404 at once for an id no interaction can have: a write for it goes nowhere (in full mode,
    the workers would not take it from the log)."""
    if not is_interaction_id(interaction_id):
        raise TmfError(404, _not_found(interaction_id))


class RetrieveFastPath:
    """Pure ASGI middleware for the API's hottest call, a plain `GET /partyInteraction/{id}`: the
    stored interaction with its references' links (or the 404) goes straight out, without FastAPI's
    routing, dependency and middleware layers (measured: about 0.3 ms of a ~1.4 ms GET in full
    mode). Anything else, a query string (`fields`), another method, a party-scoped caller, goes on
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
                response = self._answer(scope, state.links, interaction_id, stored)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _answer(
        scope: dict[str, Any], links: ReferenceLinks, interaction_id: str, stored: StoredDocument | None
    ) -> Response:
        if stored is None:
            return error_response(404, _not_found(interaction_id))
        headers = {"ETag": etag(stored.version)}
        if_none_match = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None)
        if not_modified(if_none_match, stored.version):
            return Response(status_code=304, headers=headers)
        return _json(links.body(stored.body), headers=headers)


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
        "parameters": [_IF_MATCH],
    },
)
async def patch_party_interaction(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    kind, patch = await read_json(request, state.settings.max_body_bytes, tuple(PATCH_KINDS))
    change = Change.at(
        PATCH_KINDS[kind],
        id,
        utc_now(),
        patch,
        expected_versions=if_match(request),
        max_bytes=state.settings.max_body_bytes,  # a patch makes nothing larger than a body may be
        party_id=caller.party_id,
    )
    check(change)  # a malformed or not-patchable change is refused before it goes anywhere
    require_interaction_id(id)
    outcome = await state.store.write(change, state.hub.notify)
    state.hub.wake()
    assert outcome.new.doc is not None
    return _json(orjson.dumps(state.links.linked(outcome.new.doc)), headers={"ETag": etag(outcome.new.version)})


@router.delete(
    "/partyInteraction/{id}",
    status_code=204,
    summary="Deletes a PartyInteraction",
    responses={204: {"description": "Deleted"}, **_errors(404, 412)},
    openapi_extra={"parameters": [_IF_MATCH]},
)
async def delete_party_interaction(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    return await delete_interaction(id, request, state, caller)


async def delete_interaction(id: str, request: Request, state: AppState, caller: Caller) -> Response:
    require_interaction_id(id)
    change = Change.at("delete", id, utc_now(), expected_versions=if_match(request), party_id=caller.party_id)
    outcome = await state.store.write(change, state.hub.notify)
    if outcome.old.doc is None:
        raise NotFound(_not_found(id))
    state.hub.wake()
    return Response(status_code=204)
