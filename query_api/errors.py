"""TMF Error JSON for every 4xx/5xx, whatever raised it: the one place where the stores' domain
errors (refusals, query limits, writes not yet applied) become HTTP statuses."""

from __future__ import annotations

import logging
from http import HTTPStatus

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from schemas.common import describe
from storage.base import WriteNotYetApplied
from storage.changes import Forbidden, Invalid, NotFound, PreconditionFailed, Refused
from storage.query import UnsupportedQuery
from storage.search import engine as search_engine

log = logging.getLogger(__name__)


class TmfError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "code": str(status),
        "reason": HTTPStatus(status).phrase,
        "message": message,
        "status": str(status),
        "@type": "Error",
    }
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


# what the stores' refusals (storage/changes.py) are in HTTP
REFUSAL_STATUS: dict[type[Refused], int] = {NotFound: 404, PreconditionFailed: 412, Invalid: 400, Forbidden: 403}


def install(app: FastAPI) -> None:
    @app.exception_handler(TmfError)
    async def _tmf(_: Request, exc: TmfError) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> Response:
        return error_response(REFUSAL_STATUS.get(type(exc), 400), exc.message)

    @app.exception_handler(WriteNotYetApplied)
    async def _not_yet(_: Request, exc: WriteNotYetApplied) -> Response:
        return error_response(504, str(exc))

    @app.exception_handler(UnsupportedQuery)
    async def _unsupported(_: Request, exc: UnsupportedQuery) -> Response:
        return error_response(400, str(exc))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> Response:
        return error_response(400, describe(exc.errors(include_url=False)))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> Response:
        return error_response(400, describe(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = f"no resource at {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if search_engine.outage(exc):
            log.warning("search engine unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            return error_response(503, "the search engine is unavailable; retry shortly", {"Retry-After": "1"})
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the request may be retried")
