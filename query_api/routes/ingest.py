"""Webhook ingress: channel systems deliver their own formats to `POST /ingest/v1/sources/{name}`
(and Meta checks the endpoint with `GET` there first). Sources are the sources file's
(ingest/sources.py).

Each delivery is authenticated before anything is read into a record: by the vendor's signature
for a format that signs, else by the source's API key or Basic credentials, else by a bearer token
granting ingest:write (with auth off, on a loopback server, by nothing). Then it is split into
records, each adapted (any record that cannot be is a 400 naming it, and nothing is stored), and
the answer comes once the records are durable: the embedded store's commit of their changes, or
Kafka's acknowledgement (acks=all) of their events on the raw topic, which the workers adapt.
The same record delivered again is the same event and the same change: it changes nothing.
"""

from __future__ import annotations

import base64
import hmac
import logging
from typing import Annotated
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from ingest.adapters import AdapterError, adapt
from ingest.formats import FormatError, SignedRequest, kept, wrap
from ingest.sources import Source
from query_api.auth import INGEST, InvalidToken
from query_api.body import media_type, read_bytes
from query_api.deps import AppState
from query_api.errors import TmfError
from schemas import Error
from schemas.channel_event import ChannelEvent
from schemas.common import describe, utc_now
from storage.changes import Change

log = logging.getLogger(__name__)

INGEST_PREFIX = "/ingest/v1/sources"
MAX_FORM_FIELDS = 1000
MAX_CHALLENGE_CHARS = 256

router = APIRouter(prefix=INGEST_PREFIX, tags=["ingest"])
SourceName = Annotated[str, Path(description="The source's name in the sources file", max_length=63)]
_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": Error, "description": "A record that cannot be read or adapted: the message names it"},
    401: {"model": Error, "description": "A missing or wrong signature, key or token: nothing stored"},
    403: {"model": Error, "description": "A bearer token that does not grant ingest:write"},
    404: {"model": Error, "description": "No source of that name"},
    413: {"model": Error, "description": "A body larger than the source's max_body_bytes"},
    415: {"model": Error, "description": "A media type the source's format does not take"},
}


def _source(state: AppState, name: str) -> Source:
    source = state.sources.get(name)
    if source is None:
        raise TmfError(404, f"no source named {name!r}")
    return source


def _public_url(request: Request, root: str | None) -> str:
    """The URL as the vendor called it: behind a proxy, IHUB_PUBLIC_URL's scheme and host."""
    if root is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{root}{request.url.path}{query}"


def _form(body: bytes, kind: str) -> dict[str, list[str]]:
    if kind != "application/x-www-form-urlencoded":
        return {}
    try:
        return parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise TmfError(400, f"not a form body: {exc}") from None


async def _authenticate(state: AppState, source: Source, request: Request, body: bytes, kind: str) -> str:
    """How the delivery was authenticated, or TmfError 401."""
    vendor = source.format
    if vendor is not None and vendor.verify is not None:
        if source.table.unsigned:
            return "unsigned (the source takes unsigned requests)"
        secret = source.secret()
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = SignedRequest(request.method, _public_url(request, state.settings.public_url), headers, body)
        if secret is None or not vendor.verify(_with_form(signed, body, kind), secret):
            raise TmfError(401, f"the {vendor.id} signature is missing or does not match")
        return "signature"
    if source.table.api_key_env:
        given = request.headers.get(source.table.api_key_header, "")
        expected = source.api_key() or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise TmfError(401, f"the {source.table.api_key_header} header is missing or wrong")
        return "api key"
    if source.table.basic_env:
        if not _basic_matches(request.headers.get("authorization", ""), source.basic() or ""):
            raise TmfError(401, "Basic credentials missing or wrong", {"WWW-Authenticate": 'Basic realm="ingest"'})
        return "basic"
    if state.authenticator is None:
        return "none (auth is off)"
    try:
        caller = await state.authenticator.caller(request.headers.get("authorization"))
    except InvalidToken as exc:
        raise TmfError(401, f"a valid bearer token is needed: {exc}") from None
    if not caller.may(INGEST):
        raise TmfError(403, f"this token does not grant {INGEST}")
    return "bearer token"


def _with_form(signed: SignedRequest, body: bytes, kind: str) -> SignedRequest:
    form = _form(body, kind)
    return SignedRequest(signed.method, signed.url, signed.headers, signed.body, form) if form else signed


def _basic_matches(header: str, expected: str) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not expected or len(token) > 1024:
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(given, expected.encode())


def adapted(source: Source, body: bytes, kind: str, received: str) -> list[tuple[ChannelEvent, Change]]:
    """Each record of a delivery as its event and change; ValueError naming the first record that
    cannot be read or adapted."""
    if source.format is None:
        events = envelopes(body)
    else:
        if kind not in source.format.media_types:
            raise TmfError(415, f"{source.format_id} takes {', '.join(source.format.media_types)}, not {kind!r}")
        settings = source.settings()
        records = kept(source.format, source.format.split(body, kind), settings)
        events = [wrap(r, source.format_id, source.name, settings, received) for r in records]
    items = []
    for number, event in enumerate(events, 1):
        try:
            items.append((event, adapt(event)))
        except AdapterError as exc:
            raise ValueError(f"record {number} of {len(events)} ({event.id}): {exc.reason}") from None
    return items


def envelopes(body: bytes) -> list[ChannelEvent]:
    """The project's own envelope: one event, or an array of events."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}") from None
    documents = document if isinstance(document, list) else [document]
    try:
        return [ChannelEvent.model_validate(d) for d in documents]
    except ValidationError as exc:
        raise FormatError(f"not an ihub channel event: {describe(exc.errors(include_url=False))}") from None


@router.post(
    "/{name}",
    summary="Takes a delivery of a channel system in its own format (a webhook, a contact record, mail)",
    description="Authenticated by the vendor's signature, or the source's API key or Basic credentials, or a "
    f"bearer token granting {INGEST}. Answers once the records are durable.",
    responses={200: {"description": "Every record is durable"}, **_ERRORS},
)
async def deliver(name: SourceName, request: Request, state: AppState) -> Response:
    source = _source(state, name)
    body = await read_bytes(request, source.table.max_body_bytes)
    kind = media_type(request)
    how = await _authenticate(state, source, request, body, kind)
    if not body.strip():
        raise TmfError(400, "request body is empty")
    try:
        items = adapted(source, body, kind, utc_now())
    except (FormatError, ValueError) as exc:
        log.info("ingest %s: refused a delivery: %s", name, exc)
        raise TmfError(400, str(exc)) from None
    await state.intake(items)
    log.debug("ingest %s: %d records (authenticated by %s)", name, len(items), how)
    answer_type, answer = source.format.answer if source.format else ("application/json", b"{}")
    return Response(answer, 200, media_type=answer_type)


@router.get(
    "/{name}",
    summary="Answers a vendor's check of the endpoint (Meta's hub.challenge handshake)",
    responses={
        200: {"description": "The challenge, echoed"},
        400: {"model": Error, "description": "A malformed source name"},
        403: {"model": Error, "description": "The verify token does not match"},
        404: _ERRORS[404],
        405: {"model": Error, "description": "The source's format has no handshake"},
    },
)
async def handshake(name: SourceName, request: Request, state: AppState) -> Response:
    source = _source(state, name)
    if source.format is None or source.format.handshake is None:
        raise TmfError(405, f"format {source.format_id} has no handshake: deliveries are POSTed")
    query = {k: v[:MAX_CHALLENGE_CHARS] for k, v in request.query_params.items()}
    challenge = source.format.handshake(query, source.verify_token() or "")
    if challenge is None:
        raise TmfError(403, "the verify token does not match")
    return Response(challenge.encode(), 200, media_type="text/plain")
