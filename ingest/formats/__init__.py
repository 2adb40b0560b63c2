"""Vendor formats: what channel systems really send (contact records, webhooks, enriched events,
mail, change data capture), turned into the project's channel events and from there into changes.

A format is one module here, named by its format id (`amazon-connect-ctr` is
`amazon_connect_ctr.py`), holding one `Format`:

- `split(body, media_type)`: the records one delivery carries (a webhook body, a Kafka record, a
  file), each a `Record` with the vendor's native id, the time it describes and its content as
  JSON-able data. Bounded work for any input; FormatError naming the problem.
- `adapt(event)`: pure, like the channel adapters (ingest/adapters): the `ChannelEvent` made of one
  record (`wrap`) to a `Change`, or AdapterError naming the field.
- `verify(request, secret)`, for a vendor that signs its requests: whether the signature holds.
- `handshake(query, verify_token)`, for a vendor that checks its endpoint with a GET first.
- `keep(record, settings)`, for a format whose sources may leave records out (Snowplow's bots and
  page pings): False drops the record before it becomes an event (no error, nothing stored).

A record travels as a `ChannelEvent` of type = the format id, source = `urn:ihub:source:<name>`,
`data = {"record": <the record's data>, "source": <the source settings the adapter reads>}`. The
settings ride along so that an event adapts the same way wherever and whenever it is read again
(a replay, the other mode). The same record delivered twice is the same event, so the same change:
vendors' retries and redeliveries never make two interactions.

What every interaction made from a vendor record carries:
- `externalIdentifier`: `{id: native id, owner: source name, externalIdentifierType: record kind}`
  for every record it was made of (`external_id`);
- `customerIdentifier` (extension attribute): the identifiers the channel named the customer by,
  typed (`identifier`): `phone` (as the vendor wrote it: ANI, From, wa_id), `email`, `platform`
  (a platform's own user id, with its `scheme`: `messenger-psid`, `instagram-id`,
  `genesys-external-contact`, ...), `web` (`snowplow-user-id`, `snowplow-domain-userid`,
  `snowplow-network-userid`) and `crm` (an account or customer number). Each entry gets its
  identifier key as `id` (schemas/identifiers.py, with the source's `phone_region`) when it has
  one: identity resolution (storage/identity.py) links the interaction to the party holding it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel

from ingest.adapters.common import AdapterError, checked, upsert
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.identifiers import identifier_key
from storage.changes import Change

__all__ = [
    "FORMATS",
    "Format",
    "FormatError",
    "Record",
    "SignedRequest",
    "external_id",
    "identifier",
    "source_urn",
    "upsert",
    "wrap",
]

SOURCE_PREFIX = "urn:ihub:source:"
MAX_RECORDS = 10_000
"""The most records one delivery may carry (a Firehose file of contact records is far below it)."""

IdentifierKind = Literal["phone", "email", "platform", "web", "crm"]


class FormatError(ValueError):
    """A delivery that cannot be split into records; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Record:
    """One vendor record: its native id (unique per record and revision: a redelivery of the same
    revision has the same one), the time it describes (ISO 8601, with an offset; None when the
    vendor's record carries none: then the time it was received is used) and its data."""

    native_id: str
    time: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature is computed over: the URL as the vendor called it (scheme, host, path and
    query), lower-cased header names, the raw body and, for form posts, the decoded form fields."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Format:
    id: str
    split: Callable[[bytes, str], list[Record]]
    adapt: Callable[[ChannelEvent], Change]
    media_types: tuple[str, ...] = ("application/json",)
    verify: Callable[[SignedRequest, str], bool] | None = None
    handshake: Callable[[Mapping[str, str], str], str | None] | None = None
    options: type[BaseModel] | None = None
    """The format's own keys in a source's table (e.g. debezium's column mapping)."""
    keep: Callable[[Record, dict[str, Any]], bool] | None = None
    """Whether a source (its settings, as `settings_of` gives them) keeps a record; None: all."""
    answer: tuple[str, bytes] = ("application/json", b"{}")
    """What a webhook delivery is answered with (media type, body), e.g. empty TwiML for Twilio."""

    @property
    def signs(self) -> bool:
        return self.verify is not None


def source_urn(name: str) -> str:
    return SOURCE_PREFIX + name


def source_name(event: ChannelEvent) -> str:
    return event.source.removeprefix(SOURCE_PREFIX)


def kept(vendor: Format, records: list[Record], settings: dict[str, Any]) -> list[Record]:
    """The records a source keeps (`Format.keep`)."""
    return records if vendor.keep is None else [r for r in records if vendor.keep(r, settings)]


def wrap(record: Record, format_id: str, source: str, settings: dict[str, Any], received: str) -> ChannelEvent:
    """The channel event that carries `record` of source `source` (with the source settings the
    adapter reads) through the raw topic or the embedded store's write. `received`: when the
    delivery arrived (ISO 8601), the record's time if it has none of its own."""
    return ChannelEvent(
        id=f"{format_id}:{record.native_id}",
        source=source_urn(source),
        type=format_id,
        time=record.time or received,
        data={"record": record.data, "source": settings},
    )


def record_of(event: ChannelEvent) -> dict[str, Any]:
    """The vendor record an event carries; AdapterError when it carries none."""
    record = event.data.get("record")
    if not isinstance(record, dict):
        raise AdapterError("data.record: missing (not an event made of a vendor record)")
    return record


def settings_of(event: ChannelEvent) -> dict[str, Any]:
    settings = event.data.get("source")
    return settings if isinstance(settings, dict) else {}


def external_id(native_id: str, event: ChannelEvent, kind: str) -> dict[str, Any]:
    """An `externalIdentifier` entry: the vendor's id of a record this interaction was made of."""
    return {"id": native_id, "owner": source_name(event), "externalIdentifierType": kind}


def identifier(kind: IdentifierKind, value: str, scheme: str | None = None) -> dict[str, Any]:
    """A `customerIdentifier` entry: how the channel named the customer."""
    return {"kind": kind, "value": value, **({"scheme": scheme} if scheme else {})}


def contribute(event: ChannelEvent, key: str, document: dict[str, Any]) -> Change:
    """The change that adds `document`, one record's part, to interaction `key` of the event's
    source, which several records make (storage.changes: contribute). `document` must be a valid
    create body on its own: the first record to arrive creates the interaction."""
    return Change.at("contribute", interaction_id(event.source, key), event.time, checked(document))


def keyed(vendor: Format, event: ChannelEvent) -> Change:
    """The change of `vendor` for `event`, each `customerIdentifier` entry with its key as `id`."""
    change = vendor.adapt(event)
    entries = change.body.get("customerIdentifier") if isinstance(change.body, dict) else None
    if not entries:
        return change
    region = settings_of(event).get("phone_region")
    keyed_entries = []
    for entry in entries:
        key = identifier_key(entry, region if isinstance(region, str) else None)
        keyed_entries.append({**entry, "id": key} if key else entry)
    return replace(change, body={**change.body, "customerIdentifier": keyed_entries})


def _load() -> dict[str, Format]:
    """Every module of this package that defines FORMAT, by its format id (the module's name with
    dashes: amazon_connect_ctr.py holds amazon-connect-ctr)."""
    formats: dict[str, Format] = {}
    for module in pkgutil.iter_modules(__path__):
        found = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FORMAT", None)
        if isinstance(found, Format):
            if found.id != module.name.replace("_", "-"):
                raise ImportError(f"ingest/formats/{module.name}.py defines format {found.id!r}")
            formats[found.id] = found
    return formats


FORMATS: dict[str, Format] = _load()
"""Every vendor format, by format id."""
