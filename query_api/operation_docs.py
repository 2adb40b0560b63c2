"""How the TMF683 operations of both versions are described in their OpenAPI documents: the TMF630
query parameters, ETag headers, paging headers, JSON Patch bodies and error statuses, as the server
reads and answers them (query_api/interactions.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from schemas.party_interaction import INTERACTION_ID_PATTERN
from storage.tmf630 import MAX_FIELDS, MAX_OFFSET, MAX_SORT_KEYS

# What each error status means here (every 4xx body is a TMF Error).
ERRORS = {
    400: "A malformed or invalid request: the message names the parameter, attribute or limit",
    404: "No PartyInteraction with this id (none has an id that does not match the pattern)",
    409: "Other writes kept changing the interaction while this patch was applied: send it again",
    412: "If-Match names none of the interaction's current ETag",
    413: "The body is larger than the limit (IHUB_MAX_BODY_BYTES, 1 MiB by default)",
    415: "A Content-Type this operation does not take",
}

# The TMF630 parameters as the server reads them (storage/tmf630.py). Attribute names are written
# here in ASCII, a subset of what the server takes. `fields` and `sort` are bounded so that, with
# `offset` and `limit`, a query string stays within the server's MAX_QUERY_CHARS however encoded.
_NAME = r"[A-Za-z_@$][A-Za-z0-9_@$-]*"
ATTRIBUTE_PATH = rf"{_NAME}(?:\.{_NAME})*"
_LISTED_MAX_CHARS = 2048
FIELDS: dict[str, Any] = {
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
SORT: dict[str, Any] = {
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
OFFSET = {"name": "offset", "in": "query", "description": "Matches to skip", "schema": _PAGE}
LIMIT = {
    "name": "limit",
    "in": "query",
    "description": "Page size (default IHUB_DEFAULT_PAGE_SIZE); a larger one than IHUB_MAX_PAGE_SIZE is lowered to it",
    "schema": _PAGE,
}
InteractionId = Annotated[
    str, Path(description="The interaction's id", json_schema_extra={"pattern": INTERACTION_ID_PATTERN})
]
_ETAG = {"type": "string", "description": 'ETags, comma-separated, e.g. "1767225600000000", or *'}
IF_MATCH = {"name": "If-Match", "in": "header", "description": "Change only this version", "schema": _ETAG}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "description": "304 if still this version", "schema": _ETAG}
PAGE_HEADERS = {
    "X-Total-Count": {"description": "Matches in all", "schema": {"type": "integer"}},
    "X-Result-Count": {"description": "Items in this page", "schema": {"type": "integer"}},
    "Link": {
        "description": "first, prev, next and last pages (RFC 8288), when anything matches",
        "schema": {"type": "string"},
    },
}


def projected(resource: dict[str, Any], *always: str) -> dict[str, Any]:
    """What a GET answers: the resource, or with `fields` only the attributes named, id, href and `always`."""
    kept = ("id", "href", *always)
    return {
        "anyOf": [
            resource,
            {
                "type": "object",
                "required": list(kept),
                "properties": {name: {"type": "string"} for name in kept},
                "description": f"With `fields`: the attributes named, and {', '.join(kept[:-1])} and {kept[-1]}",
            },
        ]
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
