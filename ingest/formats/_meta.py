"""What Meta's webhooks share (WhatsApp Cloud API, Messenger, Instagram messaging): the endpoint
check, the signature, reading a delivery within bounds, and their epoch times.

Not a format itself (no FORMAT): whatsapp_cloud.py and messenger.py build on it.

Records of one message (the message, then its statuses: sent, delivered, read, failed) often carry
the same vendor time: WhatsApp counts in seconds, and a delivery watermark often equals the
message's own millisecond. Each record's time is therefore the vendor's time plus 0.1 ms per step
of the message's progress (`STEPS`), so that a later step is always a later revision and the
interaction ends in the furthest state seen, whatever order the records arrive in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ingest.formats import MAX_RECORDS, FormatError, Record, SignedRequest
from schemas.common import deeper_than

MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest delivery read (Meta batches at most a thousand small updates in one)."""

MAX_NESTING = 32
"""How deep a delivery may nest objects and arrays (Meta's nest fewer than ten)."""

SIGNATURE_HEADER = "x-hub-signature-256"

STEPS = {"message": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
"""How far a message has gone: a record of a further step is a later revision of its interaction."""

_STEP = timedelta(microseconds=100)  # below both vendors' resolution, far above version bumps (1 µs)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: the last instant an ISO 8601 year can write


def handshake(query: Mapping[str, str], verify_token: str) -> str | None:
    """Meta's endpoint check (GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...): the
    challenge to echo when the token is the one configured for the source, else None."""
    challenge = query.get("hub.challenge")
    token = query.get("hub.verify_token")
    if query.get("hub.mode") != "subscribe" or not challenge or token is None or not verify_token:
        return None
    # bytes: compare_digest refuses str that is not ASCII
    return challenge if hmac.compare_digest(token.encode(), verify_token.encode()) else None


def verify(request: SignedRequest, secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the App Secret>`."""
    header = request.headers.get(SIGNATURE_HEADER, "")
    scheme, _, signature = header.partition("=")
    if scheme != "sha256" or not signature or not secret:
        return False  # an empty secret would be a key anyone can sign with
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.strip().lower().encode(), expected.encode())


def entries(body: bytes, objects: tuple[str, ...]) -> tuple[str, list[dict[str, Any]]]:
    """A delivery's `object` (one of `objects`) and its `entry` list, or FormatError."""
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"the delivery is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise FormatError("the delivery is empty")
    try:
        delivery = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise FormatError(f"the delivery is not JSON: {error}") from None
    if deeper_than(delivery, MAX_NESTING):
        raise FormatError(f"the delivery nests more than {MAX_NESTING} levels of objects and arrays")
    if not isinstance(delivery, dict):
        raise FormatError(f"the delivery is not a JSON object but {_kind(delivery)}")
    kind = delivery.get("object")
    if kind not in objects:
        raise FormatError(f"object: expected {' or '.join(map(repr, objects))}, got {kind!r}")
    return kind, objects_at(delivery, "entry", "entry")


def objects_at(parent: dict[str, Any], key: str, where: str, *, needed: bool = True) -> list[dict[str, Any]]:
    """`parent[key]`, a list of objects (`where` names it in errors); absent or null is empty
    unless `needed`."""
    items = parent.get(key)
    if items is None and not needed:
        return []
    if not isinstance(items, list):
        raise FormatError(f"{where}: expected an array, got {_kind(items)}")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise FormatError(f"{where}[{index}]: expected an object, got {_kind(item)}")
    return items


def text_at(parent: dict[str, Any], key: str, where: str) -> str:
    """`parent[key]`, a non-empty string, or FormatError naming `where`."""
    value = parent.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FormatError(f"{where}: expected a non-empty string, got {_kind(value)}")
    return value


class Records(list[Record]):
    """The records of one delivery, at most MAX_RECORDS of them."""

    def add(self, native_id: str, time: str | None, data: dict[str, Any]) -> None:
        if len(self) >= MAX_RECORDS:
            raise FormatError(f"the delivery carries more than {MAX_RECORDS} records")
        self.append(Record(native_id, time, data))


def epoch_time(value: Any, per_second: int) -> datetime | None:
    """The instant of an epoch count (`per_second` 1: seconds, 1000: milliseconds), given as an
    integer or a string of digits (WhatsApp writes strings); None when absent; ValueError when it
    is neither or out of range."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if type(value) is not int or not 0 <= value <= _LAST_SECOND * per_second:
        raise ValueError(f"expected a count of {'seconds' if per_second == 1 else 'milliseconds'} since 1970")
    return _EPOCH + timedelta(microseconds=value * (1_000_000 // per_second))


def iso(moment: datetime) -> str:
    """`2016-03-12T06:29:57.627Z`: UTC, with as many fraction digits as the instant needs."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def record_time(moment: datetime | None, step: str) -> str | None:
    """A record's time: the vendor's, plus its step (module docstring)."""
    return None if moment is None else iso(moment + STEPS.get(step, 0) * _STEP)


def identifiers(*entries: dict[str, Any]) -> list[dict[str, Any]]:
    """`customerIdentifier` entries without repeats (WhatsApp's `from` and `wa_id` are one number)."""
    unique: list[dict[str, Any]] = []
    for entry in entries:
        if entry not in unique:
            unique.append(entry)
    return unique


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
