"""The party directory (outside the TMF API; storage/identity.py, README "Identity resolution").

- `GET /ihub/v1/parties?contact=...[&at=...]` (interaction:read): the parties holding a phone
  number, email address or platform id (`scheme:value`) as a CSR types it, now or at an instant;
  when nobody holds it, the contact itself as `unresolved` with how many interactions carry it.
- `GET|PUT /ihub/v1/parties/{partyId}/contactMedium` (read: interaction:read; replace:
  party:manage): a party's TMF632 ContactMedium set; PUT answers the stored, normalised set.
- `POST /ihub/v1/parties/{survivorId}/merge` `{"partyId": duplicate}` (party:manage).
- `GET /ihub/v1/sharedContacts` (party:manage): identifiers several parties hold at once, which
  link nobody automatically, for data stewards.

A party-scoped caller sees only its own party: any other is, to it, not there.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from query_api.access import CurrentCaller, only_own_party
from query_api.body import read_json
from query_api.deps import AppState, State
from query_api.errors import TmfError
from query_api.operation_docs import ERRORS
from query_api.routes.timeline import DATE_TIME_PARAM, instant
from schemas import Error
from schemas.identifiers import contact_key
from schemas.party import MAX_CONTACT_MEDIA, PARTY_ID, Party, contact_media
from storage.changes import Refused

router = APIRouter(prefix="/ihub/v1", tags=["party directory"])

MAX_CONTACT_CHARS = 320
_TEXT = {"type": "string", "maxLength": 256}
_PERIOD = {
    "type": "object",
    "properties": {
        "startDateTime": {"type": "string", "format": "date-time"},
        "endDateTime": {"type": "string", "format": "date-time"},
    },
}
_IDENTIFIERS = {name: _TEXT for name in ("phoneNumber", "emailAddress", "socialNetworkId")}
CONTACT_MEDIUM = {
    "type": "object",
    "description": "TMF632 ContactMedium: phoneNumber, emailAddress or socialNetworkId (typed by mediumType), "
    "in characteristic or beside mediumType",
    "required": ["mediumType"],
    "properties": {
        "mediumType": _TEXT,
        "preferred": {"type": "boolean"},
        "contactType": _TEXT,
        "validFor": _PERIOD,
        "characteristic": {"type": "object", "properties": {**_IDENTIFIERS, "contactType": _TEXT}},
        **_IDENTIFIERS,
    },
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": ERRORS[status]} for status in (413, 415)
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A route's JSON request body, read by hand (read_json), as its OpenAPI states it."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_PARTY_ID = {"pattern": PARTY_ID.pattern}


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _checked_id(party_id: str, name: str = "partyId") -> str:
    if not PARTY_ID.fullmatch(party_id):
        raise TmfError(400, f"'{name}' must be 1 to 256 letters, digits or ._~:@-")
    return party_id


async def _existing(state: State, party_id: str) -> Party:
    party = await state.directory.party(party_id)
    if party is None:
        raise TmfError(404, f"no party '{party_id}' in the directory")
    if party.mergedInto:
        raise TmfError(404, f"party '{party_id}' was merged into '{party.mergedInto}'")
    return party


@router.get(
    "/parties",
    summary="Find parties by a contact: a phone number, an email address or a platform id, as typed",
    responses={
        200: {
            "description": "The parties holding it (id, name, @referredType, contactMedium: the matching one); "
            "when none does, [{contact, status: unresolved, interactions}]",
            "content": {
                "application/json": {
                    "example": [
                        {
                            "id": "cust-42",
                            "name": "Ana Silva",
                            "@referredType": "Individual",
                            "contactMedium": {
                                "mediumType": "mobile",
                                "characteristic": {"phoneNumber": "+351912345678"},
                            },
                        }
                    ]
                }
            },
        },
        400: {"model": Error, "description": "Not a phone number, email address or scheme:id"},
    },
)
async def find_parties(
    state: AppState,
    caller: CurrentCaller,
    contact: Annotated[str, Query(max_length=MAX_CONTACT_CHARS, description="As a person types it")],
    at: Annotated[str | None, Query(description="Held at this instant (default: now)", **DATE_TIME_PARAM)] = None,
    region: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{2}$", description="Region of a national phone number")
    ] = None,
) -> Response:
    key = contact_key(contact, region or state.settings.phone_region)
    if key is None:
        raise TmfError(400, f"'contact' is not a phone number, an email address or a scheme:id: '{contact[:80]}'")
    when = instant("at", at)
    if when is None:
        when = time.time()
    found = [
        {**party.to_json(), "contactMedium": medium}
        for party, medium in await state.directory.holders(key, when)
        if caller.party_id is None or party.id == caller.party_id
    ]
    for entry in found:
        entry.pop("mergedInto", None)
    if not found and caller.party_id is None:
        carried = await state.directory.carried(key)
        if carried:
            found = [{"contact": key, "status": "unresolved", "interactions": carried}]
    return _json(found)


@router.get(
    "/parties/{partyId}/contactMedium",
    summary="A party's contact media (TMF632 ContactMedium), as stored",
    responses={
        400: {"model": Error, "description": "A party id that no party can have"},
        404: {"model": Error, "description": "No such party (or merged into another: named)"},
    },
)
async def get_contact_media(
    partyId: Annotated[str, Path(json_schema_extra=_PARTY_ID)], state: AppState, caller: CurrentCaller
) -> Response:
    only_own_party(caller, partyId)
    return _json((await _existing(state, partyId)).contactMedium)


@router.put(
    "/parties/{partyId}/contactMedium",
    summary="Replace a party's contact media; interactions carrying them are linked (or unlinked)",
    responses={
        200: {"description": "The stored, normalised contact media"},
        400: {"model": Error, "description": "Not a JSON array of valid ContactMedium"},
        409: {"model": Error, "description": "The party was merged into another"},
        **_BODY_ERRORS,
    },
    openapi_extra=_json_body({"type": "array", "maxItems": MAX_CONTACT_MEDIA, "items": CONTACT_MEDIUM}),
)
async def put_contact_media(
    partyId: Annotated[str, Path(json_schema_extra=_PARTY_ID)],
    request: Request,
    state: AppState,
    caller: CurrentCaller,
    name: Annotated[str | None, Query(max_length=256, description="The party's name, for display")] = None,
    referredType: Annotated[
        str | None, Query(pattern="^(Individual|Organization)$", description="Individual (default) or Organization")
    ] = None,
) -> Response:
    only_own_party(caller, _checked_id(partyId))
    _, body = await read_json(request, state.settings.max_body_bytes, ("application/json",))
    try:
        media = contact_media(body, state.settings.phone_region)
    except ValueError as exc:
        raise TmfError(400, str(exc)) from None
    known = await state.directory.party(partyId)
    party = Party.model_validate(
        {
            "id": partyId,
            "name": name if name is not None else (known.name if known else None),
            "@referredType": referredType or (known.referredType if known else "Individual"),
            "contactMedium": media,
        }
    )
    try:
        await state.directory.put_parties([party], state.hub.notify)
    except Refused as exc:
        raise TmfError(409, exc.message) from None
    state.hub.wake()
    return _json(media)


@router.post(
    "/parties/{survivorId}/merge",
    summary="Merge a duplicate party into this one: its contact media and interactions move here",
    responses={
        200: {"description": "{partyId, merged, interactions: how many were (being) moved}"},
        400: {"model": Error, "description": "Not {partyId: <duplicate id>}"},
        409: {"model": Error, "description": "A merge that cannot be (into itself, into a merged party)"},
        **_BODY_ERRORS,
    },
    openapi_extra=_json_body(
        {
            "type": "object",
            "required": ["partyId"],
            "additionalProperties": False,
            "properties": {"partyId": {"type": "string", **_PARTY_ID}},
        }
    ),
)
async def merge_parties(
    survivorId: Annotated[str, Path(json_schema_extra=_PARTY_ID)],
    request: Request,
    state: AppState,
    caller: CurrentCaller,
) -> Response:
    only_own_party(caller, _checked_id(survivorId, "survivorId"))
    _, body = await read_json(request, state.settings.max_body_bytes, ("application/json",))
    duplicate = body.get("partyId") if isinstance(body, dict) else None
    if not isinstance(duplicate, str) or set(body) != {"partyId"}:
        raise TmfError(400, 'the body is {"partyId": "<the duplicate party\'s id>"}')
    _checked_id(duplicate)
    try:
        moved = await state.directory.merge_parties(survivorId, duplicate, state.hub.notify)
    except Refused as exc:
        raise TmfError(409, exc.message) from None
    state.hub.wake()
    return _json({"partyId": survivorId, "merged": duplicate, "interactions": moved})


@router.get(
    "/sharedContacts",
    summary="Identifiers several parties hold at once (linked to nobody automatically), for data stewards",
    responses={
        200: {"description": "[{contact, parties}]"},
        400: {"model": Error, "description": "A limit out of range"},
    },
)
async def shared_contacts(state: AppState, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    return _json(await state.directory.shared_contacts(limit))
