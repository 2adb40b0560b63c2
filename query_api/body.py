"""Reading request bodies at the edge: content type, size limit, well-formed JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from query_api.errors import TmfError


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_bytes(request: Request, max_bytes: int) -> bytes:
    """The whole body, or TmfError 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TmfError(413, f"body is larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TmfError(413, f"body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, max_bytes: int, accepted: tuple[str, ...]) -> tuple[str, Any]:
    """(media type, parsed body) or a TmfError: 415 wrong type, 413 too large, 400 malformed."""
    kind = media_type(request)
    if kind not in accepted:
        raise TmfError(415, f"Content-Type must be one of {', '.join(accepted)}, got '{kind or 'none'}'")
    raw = await read_bytes(request, max_bytes)
    if not raw.strip():
        raise TmfError(400, "request body is empty")
    try:
        return kind, orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TmfError(400, f"malformed JSON: {exc}") from None
