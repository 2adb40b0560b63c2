"""The channel event contract: what channel systems publish, and what the workers make of it.

Every channel system (web self-care, app, contact centre, IVR, store, email, chat, social) and the
TMF683 API itself publish their events in one envelope, `ChannelEvent` (CloudEvents 1.0 attributes,
JSON), to one raw topic. An adapter (`ingest.adapters`) turns each event into a `Change`
(storage/changes.py), which the worker applies to the store and announces on the change topic.

Topics and keys
---------------
- `RAW_TOPIC`, `ihub.channel-events.v1`: every channel's events. The record key is the id of the
  interaction the event is about (`interaction_id(source, native id)` for a channel event, the
  `data.id` chosen by the publisher for a `tmf683.partyInteraction.*` event), UTF-8. Everything
  about one interaction therefore lands in one partition, in the order it was published.
- `DLQ_TOPIC`, `ihub.channel-events.dlq.v1`: raw records that could not be decoded or adapted, with
  the same key and the reason (`AdapterError.reason`) attached by the worker.
- `CHANGES_TOPIC`, `ihub.interaction-changes.v1`: one record per applied change (notifications,
  dashboards), same key.

Change records: schemas/change_record.py (applied, rejected and erased); audit records:
schemas/audit.py; dead letters: schemas/dead_letter.py.

Ordering does not depend on Kafka offsets alone: each change carries a version taken from its time,
and storage/changes.py never lets an older create replace a newer state, so a replay or a
duplicate is harmless.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.common import DateTime

RAW_TOPIC = "ihub.channel-events.v1"
"""All channel events (and TMF683 API writes); key = interaction id, UTF-8."""

DLQ_TOPIC = "ihub.channel-events.dlq.v1"
"""Events that failed decoding or adaptation; same key as on the raw topic."""

CHANGES_TOPIC = "ihub.interaction-changes.v1"
"""Applied changes (the source of notifications); key = interaction id."""

AWAITED_HEADER = "ihub-awaited"
"""A raw record header: its writer (the TMF683 API, answering with read-your-writes) waits for the
outcome, so a worker processes it at once rather than after its batch window."""

AUDIT_TOPIC = "ihub.audit.v1"
"""The API's audit records (query_api/access.py): who wrote, erased, exported or was refused; no key."""


API_SOURCE = "urn:ihub:api"
"""The `source` of the events the TMF683 API publishes for its own writes."""

KEY_RULE = "interaction id"
"""The record key on all three topics: the id of the interaction the record is about."""

# Fixed for the life of the project: changing it would give every channel interaction a new id.
INTERACTION_NAMESPACE = uuid.UUID("6f1c2b0e-3d4a-5e8b-9c7d-2a1f0e4b6c83")
_NAMESPACE_BYTES = INTERACTION_NAMESPACE.bytes


def interaction_id(source: str, native_id: str) -> str:
    """The id of the interaction a channel system identifies as `native_id` (e.g. its call id).

    Deterministic (the same call always maps to the same interaction, whichever event is about it),
    opaque and URL-safe: 32 hex digits of a UUID v5 over `source` and `native_id`.
    """
    if not source or not native_id:
        raise ValueError("interaction_id needs a source and a native id")
    # uuid.uuid5 without its UUID object (a quarter of the cost, on every event): RFC 4122's SHA-1
    # name-based UUID, version 5 and variant bits set in the first 16 bytes of the digest
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source}\n{native_id}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


# the attributes a binary-mode record may carry as `ce_` headers (others, e.g. extensions, are ignored)
_BINARY_ATTRIBUTES = frozenset({"specversion", "id", "source", "type", "time", "subject"})


class ChannelEvent(BaseModel):
    """The envelope every channel system publishes (CloudEvents 1.0 attributes, JSON data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, description="unique per source; a redelivery keeps the same id")
    source: str = Field(min_length=1, description="the channel system, e.g. urn:ihub:voice:genesys-eu1")
    type: str = Field(min_length=1, description="e.g. ihub.voice.call.ended")
    time: DateTime = Field(description="when the occurrence happened (not when it was published)")
    subject: str | None = Field(default=None, description="the customer's party id, when known")
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChannelEvent:
        """Decode a Kafka record value; ValueError (bad JSON) or ValidationError (bad envelope)."""
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not a JSON document: {error}") from None
        return cls.model_validate(document)

    @classmethod
    def from_kafka(cls, value: bytes, headers: Sequence[tuple[str, bytes]] | None) -> ChannelEvent:
        """Decode a Kafka record in either content mode of the CloudEvents Kafka binding: structured
        (the whole envelope in the value, as `from_bytes`) or binary (the attributes in `ce_`
        headers, the data in the value)."""
        attributes = {
            name[3:]: raw.decode(errors="strict")
            for name, raw in headers or ()
            if name.startswith("ce_") and name[3:] in _BINARY_ATTRIBUTES
        }
        if "specversion" not in attributes:
            return cls.from_bytes(value)
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"the data of a binary-mode CloudEvent is not JSON: {error}") from None
        return cls.model_validate({**attributes, "data": data})

    def to_bytes(self) -> bytes:
        """The record value a publisher sends (the inverse of `from_bytes`)."""
        return orjson.dumps(self.model_dump(exclude_none=True))
