"""TMF669 Party Role Management, read side: the roles this component knows, one PartyRole per
permission of query_api/auth.py (PERMISSIONS). An identity service (e.g. the ODA Canvas' security
operator) reads them to create the roles it then grants in tokens.

Reading the roles needs a valid token (any permission) when auth is on: the paths are not in
ACCESS_RULES, and a path not listed needs a valid token and no more.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from query_api.auth import ANALYTICS, DELETE, ERASE, EXPORT, HUB, INGEST, PERMISSIONS, READ, WRITE
from query_api.deps import AppState
from query_api.errors import TmfError
from query_api.interactions import page_answer, paged
from query_api.operation_docs import ATTRIBUTE_PATH
from schemas import Error
from storage.query import Query, matches, project, sort_documents
from storage.tmf630 import MAX_FIELDS, MAX_OFFSET, MAX_SORT_KEYS, QueryError, parse_query

PARTY_ROLE_BASE = "/tmf-api/partyRoleManagement/v4"
JSON = "application/json"

router = APIRouter(prefix=PARTY_ROLE_BASE, tags=["partyRole"])

# What each permission lets a token do (README "Security").
DESCRIPTIONS: dict[str, str] = {
    READ: "Read party interactions: list, retrieve, and a party's timeline",
    WRITE: "Create and update party interactions",
    DELETE: "Delete party interactions",
    HUB: "Register and remove event hub listeners (notifications)",
    ANALYTICS: "Read the KPI reports",
    ERASE: "Erase every interaction of a party (right to erasure)",
    EXPORT: "Export every interaction of a party (data portability)",
    INGEST: "Deliver channel systems' records to the ingress (where a source has no signature or key of its own)",
}


class PartyRole(BaseModel):
    """A role of this component: one permission a token may grant (as a scope or a role)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(description="The permission's name, e.g. interaction:read")
    href: str
    name: str = Field(description="The same as id: the scope or role a token carries")
    description: str
    type_: str = Field("PartyRole", alias="@type")


class PartyRoleFields(BaseModel):
    """With `fields`: the attributes named, and id and href."""

    model_config = ConfigDict(extra="allow")

    id: str
    href: str


# what a GET answers: the whole role, or with `fields` the attributes named
Answer = PartyRole | PartyRoleFields
RoleId = Annotated[str, Path(description="The role's id: the permission's name, e.g. interaction:read")]
_FIELDS: dict[str, Any] = {
    "name": "fields",
    "in": "query",
    "description": f"Attributes to return, comma-separated, at most {MAX_FIELDS}; id and href always come; "
    "`none`: only those",
    "schema": {"type": "string", "pattern": rf"^{ATTRIBUTE_PATH}(?:,{ATTRIBUTE_PATH}){{0,{MAX_FIELDS - 1}}}$"},
}
_SORT: dict[str, Any] = {
    "name": "sort",
    "in": "query",
    "description": f"Sort keys, comma-separated, at most {MAX_SORT_KEYS}; `-` before a key: descending. Default: by id",
    "schema": {
        "type": "string",
        "pattern": rf"^[+-]?{ATTRIBUTE_PATH}(?:,[+-]?{ATTRIBUTE_PATH}){{0,{MAX_SORT_KEYS - 1}}}$",
    },
}
_PAGE = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
_OFFSET = {"name": "offset", "in": "query", "description": "Roles to skip", "schema": _PAGE}
_LIMIT = {"name": "limit", "in": "query", "description": "Page size (default IHUB_DEFAULT_PAGE_SIZE)", "schema": _PAGE}
_PAGE_HEADERS = {
    "X-Total-Count": {"description": "Roles that match", "schema": {"type": "integer"}},
    "X-Result-Count": {"description": "Roles in this answer", "schema": {"type": "integer"}},
    "Link": {"description": "first, prev, next and last pages, when any role matches", "schema": {"type": "string"}},
}
_ERROR_400 = {"model": Error, "description": "A malformed query: the message names the parameter"}
_ERROR_404 = {"model": Error, "description": "No PartyRole with this id"}


def party_roles(resource_root: str) -> list[dict[str, Any]]:
    """Every role, by id: one per permission."""
    return [
        {
            "id": name,
            "href": f"{resource_root}{PARTY_ROLE_BASE}/partyRole/{name}",
            "name": name,
            "description": DESCRIPTIONS.get(name, f"The permission {name}"),
            "@type": "PartyRole",
        }
        for name in sorted(PERMISSIONS)
    ]


def _parse(raw: str, allow: tuple[str, ...]) -> Query:
    try:
        return parse_query(raw, allow=allow)
    except QueryError as exc:
        raise TmfError(400, str(exc)) from None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type=JSON)


@router.get(
    "/partyRole",
    summary="Lists the component's roles: one PartyRole per permission (TMF630 filters, fields, sort, offset, limit)",
    description="Any other query parameter is a TMF630 filter on an attribute, e.g. `name=interaction:read`. "
    "Needs a valid token (any permission) when auth is on.",
    responses={
        200: {"model": list[Answer], "description": "A page of the matching roles", "headers": _PAGE_HEADERS},
        206: {
            "model": list[Answer],
            "description": "With IHUB_PARTIAL_CONTENT_206=true: a page that holds only part of the matching roles",
            "headers": _PAGE_HEADERS,
        },
        400: _ERROR_400,
    },
    openapi_extra={"parameters": [_FIELDS, _SORT, _OFFSET, _LIMIT]},
)
async def list_party_roles(request: Request, state: AppState) -> Response:
    query = paged(state, _parse(request.url.query, ("fields", "sort", "offset", "limit")))
    assert query.limit is not None  # paged() sets it
    found = [role for role in party_roles(state.settings.resource_root()) if matches(query, role)]
    if query.sort:
        found = sort_documents(found, query.sort)
    page = found[query.offset : query.offset + query.limit]
    if query.fields is not None:
        page = [project(role, query.fields) for role in page]
    return _json(page, *page_answer(state, request, query, len(found), len(page)))


@router.get(
    "/partyRole/{id}",
    summary="Retrieves one of the component's roles by id (the permission's name)",
    description="Needs a valid token (any permission) when auth is on.",
    responses={200: {"model": Answer, "description": "The role"}, 400: _ERROR_400, 404: _ERROR_404},
    openapi_extra={"parameters": [_FIELDS]},
)
async def get_party_role(id: RoleId, request: Request, state: AppState) -> Response:
    query = _parse(request.url.query, ("fields",)) if request.url.query else None
    if query is not None and query.conditions:
        raise TmfError(400, "only 'fields' is accepted when retrieving one PartyRole")
    role = next((r for r in party_roles(state.settings.resource_root()) if r["id"] == id), None)
    if role is None:
        raise TmfError(404, f"no PartyRole with id {id!r}")
    if query is not None and query.fields is not None:
        role = project(role, query.fields)
    return _json(role)
