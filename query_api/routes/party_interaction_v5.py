"""TMF683 v5.0.0 /partyInteraction routes: the same interactions as v4, in the v5 shape.

The routes read the v5 request, validate it against TM Forum's v5 schemas and map it to the stored
form, and show the v5 view (schemas/party_interaction_v5.py turns one shape into the other); what
they do to interactions, v4's too, is query_api/interactions.py. A v5 PATCH is applied to the v5
view of the interaction's current version and written as the merge patch that turns the stored form
into the result (`interactions.rewrite`: read again if another write came first).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from query_api import interactions
from query_api.access import CurrentCaller
from query_api.body import media_type, read_json
from query_api.deps import AppState
from query_api.errors import TmfError
from query_api.interactions import JSON, JSON_PATCH, MERGE_PATCH, PATCH_KINDS, etag, not_modified
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
from schemas.party_interaction_v5 import (
    NOT_PATCHABLE,
    NOT_WRITABLE,
    V5Invalid,
    check_v5,
    from_v5,
    last_update,
    stored_path,
    to_v5,
)
from storage.changes import Invalid, patched
from storage.query import Query, project

router = APIRouter(tags=["partyInteraction v5"])

JSON_PATCH_QUERY = "application/json-patch-query+json"


# The operations' OpenAPI (served beside v4's, query_api/routes/docs.py) names TM Forum's v5
# schemas (schemas/tmf683_v5.schema.json), which the server validates bodies with.
def _schema(name: str) -> dict[str, Any]:
    return {"content": {JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": ERRORS[code], **_schema("Error")} for code in codes}


_RESOURCE = _schema("PartyInteraction")
_PROJECTED = projected({"$ref": "#/components/schemas/PartyInteraction"}, "@type")
_LIST = {"content": {JSON: {"schema": {"type": "array", "items": _PROJECTED}}}, "headers": PAGE_HEADERS}


def as_stored(stored: dict[str, Any], version: int, at: str) -> dict[str, Any]:
    """The v5 resource for a stored interaction at a version, its references as stored, its href
    `{at}{id}` (`at`: `interactions.hrefs` of the request, in v5)."""
    return to_v5(stored, href=f"{at}{stored['id']}", last_update=last_update(version))


def view(state: AppState, stored: dict[str, Any], version: int, at: str) -> dict[str, Any]:
    """The v5 resource as it is shown: its references linked, as in v4."""
    return as_stored(state.links.linked(stored), version, at)


def _checked(resource: Any, *, create: bool, current: dict[str, Any] | None = None) -> None:
    try:
        check_v5(resource, create=create, current=current)
    except V5Invalid as exc:
        raise TmfError(400, str(exc)) from None


def _v5_query(query: Query) -> Query:
    """The query on the stored form: v5 paths as stored paths (`fields` is applied to the v5 view)."""
    try:
        conditions = tuple(replace(c, path=stored_path(c.path)) for c in query.conditions)
        sort = tuple(replace(key, path=stored_path(key.path)) for key in query.sort)
    except V5Invalid as exc:
        raise TmfError(400, str(exc)) from None
    return replace(query, conditions=conditions, sort=sort)


def _projected(resource: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    # @type comes with id and href: v5 requires it on every PartyInteraction it shows
    return resource if fields is None else project(resource, ("@type", *fields))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type=JSON)


@router.post(
    "/partyInteraction",
    status_code=201,
    summary="Creates a PartyInteraction (v5)",
    responses={201: {"description": "Created", **_RESOURCE}, **_errors(400, 413, 415)},
    openapi_extra={"requestBody": {"required": True, **_schema("PartyInteraction_FVO")}},
)
async def create_party_interaction_v5(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    _, body = await read_json(request, state.settings.max_body_bytes, (JSON,))
    _checked(body, create=True)
    owned = [key for key in NOT_WRITABLE if key in body]
    if owned:
        raise TmfError(400, f"set by the server, not by clients: {', '.join(owned)}")
    outcome = await interactions.create(state, caller, from_v5(body))
    doc = outcome.new.doc
    assert doc is not None
    resource = view(state, doc, outcome.new.version, interactions.hrefs(state, request.scope, v5=True))
    return _json(resource, 201, {"Location": resource["href"], "ETag": etag(outcome.new.version)})


@router.get(
    "/partyInteraction",
    summary="Lists or finds PartyInteraction objects (v5; TMF630 query)",
    description="Any other query parameter is a TMF630 filter on a v5 attribute path, as in v4 "
    "(`relatedChannel.channel.id=web`); `lastUpdate`, `href` and `@type` cannot be filtered or sorted on.",
    responses={
        200: {"description": "A page of the matches", **_LIST},
        206: {"description": "With IHUB_PARTIAL_CONTENT_206=true: a page that holds only part of the matches", **_LIST},
        **_errors(400),
    },
    openapi_extra={"parameters": [FIELDS, SORT, OFFSET, LIMIT]},
)
async def list_party_interactions_v5(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    asked = interactions.parse_list_query(request)
    query, page = await interactions.list_page(state, caller, _v5_query(asked))
    at = interactions.hrefs(state, request.scope, v5=True)
    items = [
        _projected(view(state, orjson.loads(item), version, at), asked.fields)
        for item, version in zip(page.items, page.versions, strict=True)
    ]
    status, headers = interactions.page_answer(state, request, query, page.total, len(page.items))
    return _json(items, status, headers)


@router.get(
    "/partyInteraction/{id}",
    summary="Retrieves a PartyInteraction by ID (v5)",
    responses={
        200: {"description": "Success", "content": {JSON: {"schema": _PROJECTED}}},
        304: {"description": "Not Modified"},
        **_errors(400, 404),
    },
    openapi_extra={"parameters": [FIELDS, IF_NONE_MATCH]},
)
async def get_party_interaction_v5(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    query = interactions.parse_retrieve_query(request)
    stored = await interactions.read(state, caller, id)
    headers = {"ETag": etag(stored.version)}
    if not_modified(request.headers.get("if-none-match"), stored.version):
        return Response(status_code=304, headers=headers)
    resource = view(state, orjson.loads(stored.body), stored.version, interactions.hrefs(state, request.scope, v5=True))
    return _json(_projected(resource, None if query is None else query.fields), headers=headers)


@router.patch(
    "/partyInteraction/{id}",
    summary="Updates partially a PartyInteraction (v5: merge patch, or JSON Patch)",
    responses={200: {"description": "Updated", **_RESOURCE}, **_errors(400, 404, 409, 412, 413, 415)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                MERGE_PATCH: _schema("PartyInteraction_MVO")["content"][JSON],
                JSON: _schema("PartyInteraction_MVO")["content"][JSON],
                JSON_PATCH: {"schema": JSON_PATCH_SCHEMA},
            },
        },
        "parameters": [IF_MATCH],
    },
)
async def patch_party_interaction_v5(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    if media_type(request) == JSON_PATCH_QUERY:
        raise TmfError(
            415,
            f"{JSON_PATCH_QUERY} is not supported; send {MERGE_PATCH}, {JSON_PATCH} or {JSON} (as merge patch)",
        )
    kind, patch = await read_json(request, state.settings.max_body_bytes, tuple(PATCH_KINDS))
    change = interactions.patch_change(state, caller, id, kind, patch, request)
    at = interactions.hrefs(state, request.scope, v5=True)

    def rewritten(doc: dict[str, Any], version: int) -> dict[str, Any]:
        current = as_stored(doc, version, at)  # links shown are not the writer's: never written back
        result = patched(current, change.kind, change.body, state.settings.max_body_bytes)
        result["lastUpdate"] = current["lastUpdate"]  # the server's: the new version sets it
        touched = sorted(key for key in NOT_PATCHABLE if result.get(key) != current.get(key))
        if touched:
            raise Invalid(f"not patchable: {', '.join(touched)}")
        _checked(result, create=False, current=current)
        return from_v5(result)

    outcome = await interactions.rewrite(state, caller, change, rewritten)
    assert outcome.new.doc is not None
    return _json(view(state, outcome.new.doc, outcome.new.version, at), headers={"ETag": etag(outcome.new.version)})


@router.delete(
    "/partyInteraction/{id}",
    status_code=204,
    summary="Deletes a PartyInteraction (v5)",
    responses={204: {"description": "Deleted"}, **_errors(404, 412)},
    openapi_extra={"parameters": [IF_MATCH]},
)
async def delete_party_interaction_v5(
    id: InteractionId, request: Request, state: AppState, caller: CurrentCaller
) -> Response:
    await interactions.delete(state, caller, id, request)
    return Response(status_code=204)
