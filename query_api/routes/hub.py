"""TMF683 event hub: register and remove notification listeners."""

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
from query_api.hub import HubFull
from query_api.routes.party_interaction import ATTRIBUTE_PATH
from schemas import Error, EventSubscription, EventSubscriptionInput
from schemas.events import CALLBACK_PATTERN, DEFAULT_PORTS
from storage.tmf630 import MAX_QUERY_CHARS, QueryError

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


# -- TMF683 v5: the same hub; its listeners get events in the v5 shape --------------------------

router_v5 = APIRouter(tags=["events subscription v5"])
_EXTENSIBLE = ("@type", "@baseType", "@schemaLocation")


@router_v5.post("/hub", status_code=201, summary="Registers a listener of v5 events")
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
