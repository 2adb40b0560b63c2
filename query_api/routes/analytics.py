"""CSR and store KPIs over a period (outside the TMF API); semantics in storage/kpis.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from query_api.access import CurrentCaller
from query_api.deps import AppState
from query_api.errors import TmfError
from query_api.routes.timeline import DATE_TIME_PARAM, EARLIEST, EARLIEST_TEXT, LATEST_TEXT, instant
from schemas import Error
from schemas.reports import KpiReport
from storage.kpis import GROUP_BY, INTERVALS, KpiQuery

router = APIRouter(prefix="/ihub/v1", tags=["analytics"])


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@router.get(
    "/analytics/kpis",
    summary="Volume, handling time, resolution and first-contact resolution, grouped and over time",
    responses={
        200: {"model": KpiReport, "description": "The figures of each group, in total and per bucket"},
        400: {
            "model": Error,
            "description": f"A bad parameter: `from`/`to` not a date-time between {EARLIEST_TEXT} and "
            f"{LATEST_TEXT} in UTC, `from` not before `to`, an unknown `interval` or `groupBy`, `fcrDays` not a "
            "whole number from 1 to 365",
        },
    },
)
async def kpi_report(
    state: AppState,
    caller: CurrentCaller,
    from_: Annotated[
        str | None,
        Query(alias="from", description="Start (inclusive); default: 30 days before `to`", **DATE_TIME_PARAM),
    ] = None,
    to: Annotated[str | None, Query(description="End (exclusive); default: now", **DATE_TIME_PARAM)] = None,
    interval: Annotated[str, Query(description="Bucket size", json_schema_extra={"enum": list(INTERVALS)})] = "day",
    groupBy: Annotated[
        str, Query(description="What a group is", json_schema_extra={"enum": list(GROUP_BY)})
    ] = "channel",
    fcrDays: Annotated[int, Query(ge=1, le=365, description="Whole days within which a repeat contact undoes FCR")] = 7,
) -> Response:
    if caller.party_id is not None:
        # the figures aggregate over every customer: not for a token that acts for one of them
        raise TmfError(403, "KPIs cover all customers; a token acting for one party cannot read them")
    if groupBy not in GROUP_BY:
        raise TmfError(400, f"groupBy must be one of {', '.join(GROUP_BY)}, got '{groupBy}'")
    if interval not in INTERVALS:
        raise TmfError(400, f"interval must be one of {', '.join(INTERVALS)}, got '{interval}'")
    end = instant("to", to) if to else datetime.now(UTC).timestamp()
    start = instant("from", from_) if from_ else max(EARLIEST, end - timedelta(days=30).total_seconds())
    if start >= end:
        raise TmfError(400, "'from' must be before 'to'")
    groups = await state.store.kpis(KpiQuery(start, end, interval, groupBy, fcrDays))
    body = {
        "from": _iso(start),
        "to": _iso(end),
        "interval": interval,
        "groupBy": groupBy,
        "fcrDays": fcrDays,
        "groups": groups,
    }
    return Response(orjson.dumps(body), media_type="application/json")
