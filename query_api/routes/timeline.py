"""Customer 360: a party's interactions across every channel, newest first (outside the TMF API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, overload

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from query_api import interactions
from query_api.access import CurrentCaller
from query_api.deps import AppState
from query_api.errors import TmfError
from schemas import Error
from schemas.common import DATE_TIME_PATTERN, epoch_seconds
from schemas.reports import Timeline
from storage.timeline import MAX_QUERY_WORDS, TimelineQuery, decode_cursor, words

router = APIRouter(prefix="/ihub/v1", tags=["customer 360"])

Csv = Annotated[str | None, Query(description="Comma-separated values; any of them matches")]

# the instants a date can be computed from: datetime's years 1 to 9999, in UTC
EARLIEST_TEXT, LATEST_TEXT = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
EARLIEST = datetime(1, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


# what `instant` takes, stated in the OpenAPI (the check stays the route's, for its messages)
DATE_TIME_PARAM: dict[str, Any] = {"json_schema_extra": {"pattern": DATE_TIME_PATTERN}}


def _set(value: str | None) -> frozenset[str]:
    return frozenset(v.strip() for v in value.split(",") if v.strip()) if value else frozenset()


@overload
def instant(name: str, value: str) -> float: ...


@overload
def instant(name: str, value: str | None) -> float | None: ...


def instant(name: str, value: str | None) -> float | None:
    """The date-time query parameter `name` as epoch seconds (None when absent); 400 if it is not
    one, or not between EARLIEST and LATEST (year 1 at +14:00 is year 0 in UTC)."""
    if value is None:
        return None
    at = epoch_seconds(value)
    if at is None:
        raise TmfError(400, f"'{name}' must be an ISO 8601 date-time, got '{value}'")
    if not EARLIEST <= at <= LATEST:
        raise TmfError(400, f"'{name}' must lie between {EARLIEST_TEXT} and {LATEST_TEXT} in UTC, got '{value}'")
    return at


@router.get(
    "/parties/{partyId}/timeline",
    summary="All interactions of a party, newest first, with filters, search and facet counts",
    responses={
        200: {"model": Timeline, "description": "A page of the timeline"},
        400: {
            "model": Error,
            "description": f"A bad parameter: `from`/`to` not a date-time between {EARLIEST_TEXT} and "
            f"{LATEST_TEXT} in UTC, a `cursor` that is not a nextCursor, a `limit` out of range, a `q` of more "
            f"than {MAX_QUERY_WORDS} words",
        },
    },
)
async def party_timeline(
    partyId: str,
    request: Request,
    state: AppState,
    caller: CurrentCaller,
    channel: Csv = None,
    status: Csv = None,
    reason: Csv = None,
    from_: Annotated[
        str | None, Query(alias="from", description="Earliest interaction time", **DATE_TIME_PARAM)
    ] = None,
    to: Annotated[str | None, Query(description="Latest interaction time", **DATE_TIME_PARAM)] = None,
    q: Annotated[
        str | None,
        Query(
            description="Words that must all be found in reason, description or notes, each as the start of a "
            "word (roam: roaming) or by its stem (charge: charges), in any case and without diacritics (sao: São)"
        ),
    ] = None,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    if caller.party_id is not None and partyId != caller.party_id:
        raise TmfError(404, f"no timeline for party '{partyId}'")  # as if another party did not exist
    store_timeline = getattr(state.store, "timeline", None)
    if store_timeline is None:
        raise TmfError(501, "this store has no timeline")
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise TmfError(400, f"cursor: {exc}") from None
    text = tuple(dict.fromkeys(words(q or "")))  # each word once
    if len(text) > MAX_QUERY_WORDS:
        raise TmfError(400, f"'q' has {len(text)} different words, at most {MAX_QUERY_WORDS} are searched")
    query = TimelineQuery(
        party_id=partyId,
        channels=_set(channel),
        statuses=_set(status),
        reasons=_set(reason),
        start=instant("from", from_),
        end=instant("to", to),
        text=text,
        after=after,
        limit=limit,
    )
    party = await state.directory.party(partyId)
    if party is not None and party.mergedInto:
        raise TmfError(404, f"party '{partyId}' was merged into '{party.mergedInto}'")
    page = await store_timeline(query)
    rest = orjson.dumps({"nextCursor": page.next_cursor, "facets": page.facets})
    at = interactions.hrefs(state, request.scope)
    body = b'{"items":[' + b",".join(state.links.body(item, at) for item in page.items) + b"]," + rest[1:]
    return Response(body, media_type="application/json")
