"""TMF683 event hub: register, list and remove notification listeners."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from interaction_hub.notifications import CallbackRefused, Endpoint, endpoint
from query_api.access import CurrentCaller
from query_api.auth import READ, Caller
from query_api.body import read_json
from query_api.deps import AppState
from query_api.errors import TmfError
from query_api.hub import HubFull, starts_with
from query_api.interactions import page_answer, paged
from query_api.operation_docs import ATTRIBUTE_PATH
from schemas import Error, EventSubscription, EventSubscriptionInput
from schemas.events import CALLBACK_PATTERN, DEFAULT_PORTS
from storage.query import Query, matches, project, sort_documents
from storage.tmf630 import MAX_FIELDS, MAX_OFFSET, MAX_QUERY_CHARS, MAX_SORT_KEYS, QueryError, parse_query

router = APIRouter(tags=["events subscription"])

# TMF630 conditions (`path=value`, or !=, >=, <=, >, <) joined by `&`, as storage/tmf630.py reads them
_CONDITION = rf"{ATTRIBUTE_PATH}(?:!=|>=|<=|=|>|<)[^&]*"
FILTER_PATTERN = rf"^(?:{_CONDITION}(?:&{_CONDITION})*)?$"


@router.post(
    "/hub",
    status_code=201,
    summary="Registers a listener: notifications are POSTed to its callback",
    responses={
        201: {"model": EventSubscription, "description": "Subscribed"},
        400: {
            "model": Error,
            "description": "A bad callback or query: e.g. a callback whose host does not resolve, or resolves to "
            "an address that is not public (unless IHUB_HUB_ALLOWED_NETWORKS or IHUB_HUB_LOOPBACK_CALLBACKS allows "
            "it), or to this server; a query on an attribute no event has, or on an object rather than a value",
        },
        409: {"model": Error, "description": "The hub has its maximum of subscriptions"},
        413: {"model": Error, "description": "The body is larger than the limit (IHUB_MAX_BODY_BYTES)"},
        415: {"model": Error, "description": "A Content-Type other than application/json"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/EventSubscriptionInput"},
                            {
                                "properties": {
                                    "callback": {"format": "uri", "pattern": CALLBACK_PATTERN},
                                    # the syntax and the limits of a list's query
                                    "query": {"pattern": FILTER_PATTERN, "maxLength": MAX_QUERY_CHARS},
                                }
                            },
                        ]
                    }
                }
            },
        }
    },
)
async def register_listener(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    _, body = await read_json(request, state.settings.max_body_bytes, ("application/json",))
    subscription = await _register(request, state, caller, body, v5=False)
    location = f"{state.settings.base_path}/hub/{subscription.id}"
    return Response(
        orjson.dumps(subscription.model_dump()), 201, headers={"Location": location}, media_type="application/json"
    )


async def _register(request: Request, state: AppState, caller: Caller, body: Any, *, v5: bool) -> EventSubscription:
    # notifications carry interactions: a listener gets only what its own token could read
    if not caller.may(READ):
        raise TmfError(403, f"a listener needs {READ} as well")
    subscription_input = EventSubscriptionInput.model_validate(body)
    if caller.party_id is not None:
        own = party_filter(caller.party_id, v5=v5)
        query = f"{own}&{subscription_input.query}" if subscription_input.query else own
        subscription_input = subscription_input.model_copy(update={"query": query})
    v5_base = f"{state.settings.resource_root()}{state.settings.base_path_v5}/partyInteraction/" if v5 else None
    try:
        return await state.hub.subscribe(subscription_input, this_server=_this_server(request), v5=v5_base)
    except QueryError as exc:
        raise TmfError(400, f"query: {exc}") from None
    except CallbackRefused as exc:
        raise TmfError(400, f"callback: {exc}") from None
    except HubFull as exc:
        raise TmfError(409, str(exc)) from None


def party_filter(party_id: str, *, v5: bool = False) -> str:
    """The condition every notification to a party-scoped listener meets (the party ids a token may
    carry need no escaping: query_api/auth.py), on the event as that listener gets it."""
    party = "relatedParty.partyOrPartyRole.id" if v5 else "relatedParty.id"
    return f"event.partyInteraction.{party}={party_id}"


def _this_server(request: Request) -> set[Endpoint]:
    """Where this request reached the server: the socket's address, and the name the client used."""
    found = set()
    server = request.scope.get("server")
    if server and server[1]:
        found.add(endpoint(server[0], server[1]))
    with contextlib.suppress(ValueError):  # a Host header that is no host[:port] names nothing
        if request.url.hostname:
            found.add(endpoint(request.url.hostname, request.url.port or DEFAULT_PORTS.get(request.url.scheme, 0)))
    return found


@router.delete(
    "/hub/{id}",
    status_code=204,
    summary="Unregisters a listener",
    responses={204: {"description": "Deleted"}, 404: {"model": Error, "description": "No subscription with this id"}},
)
async def unregister_listener(id: str, state: AppState, caller: CurrentCaller) -> Response:
    if caller.party_id is not None and not any(
        [await state.hub.listens_with(id, party_filter(caller.party_id, v5=v5)) for v5 in (False, True)]
    ):
        raise TmfError(404, f"no subscription with id '{id}'")  # another party's listener does not exist
    if not await state.hub.unsubscribe(id):
        raise TmfError(404, f"no subscription with id '{id}'")
    return Response(status_code=204)


# -- listing: each hub's own listeners, as registering them answered ---------------------------

ATTRIBUTES = ("callback", "query", "id")  # of a listener, as v4 shows it (v5's also has @type)
_V5_ATTRIBUTES = ("@type", *ATTRIBUTES)
_JSON = "application/json"
_NAME = "|".join(ATTRIBUTES)
_SHOWN = {
    "anyOf": [
        {"$ref": "#/components/schemas/EventSubscription"},
        {
            "type": "object",
            "required": ["id"],
            "properties": {name: {"type": ["string", "null"]} for name in ATTRIBUTES},
            "description": "With `fields`: the attributes named, and id",
        },
    ]
}
_COUNTS = {
    "X-Total-Count": {"description": "Listeners that match", "schema": {"type": "integer"}},
    "X-Result-Count": {"description": "Listeners in this answer", "schema": {"type": "integer"}},
    "Link": {
        "description": "first, prev, next and last pages, when any listener matches",
        "schema": {"type": "string"},
    },
}
_PAGE = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
_FIELDS: dict[str, Any] = {
    "name": "fields",
    "in": "query",
    "description": "Attributes to return, comma-separated; id always comes; `none`: only it",
    "schema": {"type": "string", "pattern": rf"^(?:{_NAME}|none)(?:,(?:{_NAME})){{0,{MAX_FIELDS - 1}}}$"},
}
_LIST_PARAMETERS: list[dict[str, Any]] = [
    *(
        {
            "name": name,
            "in": "query",
            "description": f"Only listeners with this {name} (a TMF630 filter: `{name}.regex=`, `{name}!=`, a "
            "comma for OR, ...)",
            "schema": {"type": "string"},
        }
        for name in ATTRIBUTES
    ),
    _FIELDS,
    {
        "name": "sort",
        "in": "query",
        "description": "Sort keys, comma-separated; `-` before a key: descending. Default: by id",
        "schema": {"type": "string", "pattern": rf"^[+-]?(?:{_NAME})(?:,[+-]?(?:{_NAME})){{0,{MAX_SORT_KEYS - 1}}}$"},
    },
    {"name": "offset", "in": "query", "description": "Matches to skip", "schema": _PAGE},
    {"name": "limit", "in": "query", "description": "Page size (default IHUB_DEFAULT_PAGE_SIZE)", "schema": _PAGE},
]


async def _listeners(state: AppState, caller: Caller, *, v5: bool) -> list[dict[str, Any]]:
    """The listeners registered through this version's hub that the caller may see (a party-scoped
    caller: its own), shown as registering them answered."""
    own = None if caller.party_id is None else party_filter(caller.party_id, v5=v5)
    shown = []
    for stored in await state.hub.registered():
        if ("v5" in stored) == v5 and (own is None or starts_with(stored, own)):
            listener = {"callback": stored["callback"], "query": stored.get("query"), "id": stored["id"]}
            shown.append({"@type": "Hub", **{k: v for k, v in listener.items() if v is not None}} if v5 else listener)
    return shown


def _listing_query(request: Request, *, v5: bool, allow: tuple[str, ...]) -> Query:
    """The TMF630 query of a listing, on a listener's own attributes only (nothing else could match)."""
    try:
        query = parse_query(request.url.query, allow=allow)
    except QueryError as exc:
        raise TmfError(400, str(exc)) from None
    names = _V5_ATTRIBUTES if v5 else ATTRIBUTES
    for path in (*(c.path for c in query.conditions), *(key.path for key in query.sort), *(query.fields or ())):
        if path not in names:
            raise TmfError(400, f"'{path}' is not an attribute of a listener: it has {', '.join(names)}")
    return query


def _projected(listener: dict[str, Any], fields: tuple[str, ...] | None, *, v5: bool) -> dict[str, Any]:
    # v5 shows @type with id whatever `fields` names, as its interactions do
    return listener if fields is None else project(listener, ("@type", *fields) if v5 else fields)


async def _list(request: Request, state: AppState, caller: Caller, *, v5: bool) -> Response:
    query = paged(state, _listing_query(request, v5=v5, allow=("fields", "sort", "offset", "limit")))
    assert query.limit is not None  # paged() sets it
    found = [listener for listener in await _listeners(state, caller, v5=v5) if matches(query, listener)]
    page = sort_documents(found, query.sort)[query.offset : query.offset + query.limit]
    items = [orjson.dumps(_projected(listener, query.fields, v5=v5)) for listener in page]
    status, headers = page_answer(state, request, query, len(found), len(items))
    return Response(b"[" + b",".join(items) + b"]", status, headers=headers, media_type=_JSON)


async def _get(id: str, request: Request, state: AppState, caller: Caller, *, v5: bool) -> Response:
    query = _listing_query(request, v5=v5, allow=("fields",))
    if query.conditions:
        raise TmfError(400, "only 'fields' is accepted when retrieving one listener")
    found = next((listener for listener in await _listeners(state, caller, v5=v5) if listener["id"] == id), None)
    if found is None:  # another party's listener, or another version's, does not exist here
        raise TmfError(404, f"no subscription with id '{id}'")
    return Response(orjson.dumps(_projected(found, query.fields, v5=v5)), media_type=_JSON)


@router.get(
    "/hub",
    summary="Lists the listeners registered through this hub (TMF630 filters, fields, sort, offset, limit)",
    description="A party-scoped caller sees only its own listeners.",
    responses={
        200: {
            "description": "A page of the matches",
            "headers": _COUNTS,
            "content": {_JSON: {"schema": {"type": "array", "items": _SHOWN}}},
        },
        206: {
            "description": "With IHUB_PARTIAL_CONTENT_206=true: a page that holds only part of the matches",
            "headers": _COUNTS,
            "content": {_JSON: {"schema": {"type": "array", "items": _SHOWN}}},
        },
        400: {"model": Error, "description": "A malformed query, or one on an attribute a listener does not have"},
    },
    openapi_extra={"parameters": _LIST_PARAMETERS},
)
async def list_listeners(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    return await _list(request, state, caller, v5=False)


@router.get(
    "/hub/{id}",
    summary="Retrieves a listener registered through this hub",
    responses={
        200: {"description": "The listener", "content": {_JSON: {"schema": _SHOWN}}},
        400: {"model": Error, "description": "A query parameter other than fields"},
        404: {"model": Error, "description": "No subscription with this id (that the caller may see)"},
    },
    openapi_extra={"parameters": [_FIELDS]},
)
async def get_listener(id: str, request: Request, state: AppState, caller: CurrentCaller) -> Response:
    return await _get(id, request, state, caller, v5=False)


# -- TMF683 v5: the same hub; its listeners get events in the v5 shape --------------------------

router_v5 = APIRouter(tags=["events subscription v5"])
_EXTENSIBLE = ("@type", "@baseType", "@schemaLocation")


def _v5_schema(name: str) -> dict[str, Any]:
    """TM Forum's v5 schema `name`, in v5's OpenAPI (query_api/app.py)."""
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


@router_v5.post(
    "/hub",
    status_code=201,
    summary="Registers a listener of v5 events",
    responses={201: {"description": "Registered", **_v5_schema("Hub")}, 400: _v5_schema("Error")},
    openapi_extra={"requestBody": {"required": True, **_v5_schema("Hub_FVO")}},
)
async def register_listener_v5(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    _, body = await read_json(request, state.settings.max_body_bytes, ("application/json",))
    if not isinstance(body, dict) or not isinstance(body.get("@type"), str) or not body["@type"]:
        raise TmfError(400, "'@type' is required (TMF683 v5: a Hub is Extensible)")
    typed = {key: body[key] for key in _EXTENSIBLE if key in body}
    subscription = await _register(
        request, state, caller, {k: v for k, v in body.items() if k not in _EXTENSIBLE}, v5=True
    )
    location = f"{state.settings.base_path_v5}/hub/{subscription.id}"
    answer = {**typed, **subscription.model_dump(exclude_none=True)}
    return Response(orjson.dumps(answer), 201, headers={"Location": location}, media_type="application/json")


router_v5.delete("/hub/{id}", status_code=204, summary="Unregisters a listener")(unregister_listener)


@router_v5.get("/hub", summary="Lists the listeners of v5 events")
async def list_listeners_v5(request: Request, state: AppState, caller: CurrentCaller) -> Response:
    return await _list(request, state, caller, v5=True)


@router_v5.get("/hub/{id}", summary="Retrieves a listener of v5 events")
async def get_listener_v5(id: str, request: Request, state: AppState, caller: CurrentCaller) -> Response:
    return await _get(id, request, state, caller, v5=True)
