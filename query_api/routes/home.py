"""GET /: where to go from the server's root. A browser is sent to the built-in pages; any other
client gets the same few places as JSON. Public (query_api/auth.py), so it holds nothing but fixed
paths, the same on every deployment: no data, no settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

router = APIRouter()

PAGES = "/ui/"
PLACES = {"pages": PAGES, "docs": "/docs", "openapi": "/openapi.json"}


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    # browsers name text/html; API clients (curl's */*, application/json) do not. The answer
    # depends on Accept, so caches must keep one per Accept.
    vary = {"Vary": "Accept"}
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(PAGES, headers=vary)
    return JSONResponse(PLACES, headers=vary)
