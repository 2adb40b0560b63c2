"""What every channel adapter shares: reading native fields with clear errors, building the
TMF683 pieces (channel, parties, notes, dates), and turning a document into a validated change.

Native payloads may carry fields we do not map (channel products add fields over time); fields we
map must be present when required and of the right type, otherwise the event goes to the DLQ with a
reason naming the field.
"""

from __future__ import annotations

from typing import Any, Literal, overload

from pydantic import ValidationError

from schemas.channel_event import ChannelEvent, interaction_id
from schemas.common import describe, parse_date_time
from schemas.party_interaction import PartyInteractionCreate
from storage.changes import Change


class AdapterError(ValueError):
    """An event that cannot become an interaction change; `reason` says why, naming the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- reading native fields --------------------------------------------------------------------

_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
}

# Every field of every event is read through these, so they take the common case first: a
# top-level key (a dict lookup) holding a value of exactly the expected type.


def _lookup(data: dict[str, Any], path: str) -> Any:
    """The value at `path`, or None when any step of it is absent."""
    if "." not in path:
        return data.get(path)
    value: Any = data
    for key in path.split("."):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return None
    return value


def _is(value: Any, kind: type) -> bool:
    found = type(value)
    if found is kind or (kind is float and found is int):
        return True
    if found is bool:  # a bool is an int in Python, never in a payload
        return False
    return isinstance(value, (int, float) if kind is float else kind)


def _check(path: str, value: Any, kind: type) -> Any:
    if not _is(value, kind):
        raise AdapterError(f"data.{path}: expected {_KIND_NAMES[kind]}, got {type(value).__name__}")
    if kind is str:
        if not value.strip():
            raise AdapterError(f"data.{path}: must not be empty")
    elif kind is int and value < 0:  # counts and durations
        raise AdapterError(f"data.{path}: must not be negative")
    return value


def required(data: dict[str, Any], path: str, kind: type = str) -> Any:
    """`data[path]` (dotted into objects and arrays: `to.0.address`), checked to be of `kind`."""
    value = _lookup(data, path)
    if value is None:
        raise AdapterError(f"data.{path}: missing")
    return _check(path, value, kind)


def optional(data: dict[str, Any], path: str, kind: type = str, default: Any = None) -> Any:
    """Like `required`, but absent or null gives `default`."""
    value = _lookup(data, path)
    return default if value is None else _check(path, value, kind)


@overload
def timestamp(data: dict[str, Any], path: str, *, needed: Literal[True] = True) -> str: ...


@overload
def timestamp(data: dict[str, Any], path: str, *, needed: bool) -> str | None: ...


def timestamp(data: dict[str, Any], path: str, *, needed: bool = True) -> str | None:
    """An ISO 8601 date-time field, returned as sent (never None when `needed`)."""
    value: str | None = required(data, path) if needed else optional(data, path)
    if value is not None and parse_date_time(value) is None:
        raise AdapterError(f"data.{path}: not an ISO 8601 date-time: {value!r}")
    return value


def strings(data: dict[str, Any], path: str) -> list[str]:
    """An optional array of strings (empty when absent)."""
    values: list[str] = optional(data, path, list, [])
    for index, value in enumerate(values):
        _check(f"{path}.{index}", value, str)
    return values


def one_of(data: dict[str, Any], path: str, table: dict[str, str], default: str | None = None) -> str:
    """Map a native enumerated value through `table`; an unknown value is an error, not a guess."""
    value = required(data, path) if default is None else optional(data, path, str, default)
    if value not in table:
        raise AdapterError(f"data.{path}: unknown value {value!r}; expected one of {', '.join(table)}")
    return table[value]


DIRECTIONS = {"inbound": "inbound", "outbound": "outbound"}


def humanize(code: str) -> str:
    """`bill-dispute` / `BILL_DISPUTE` -> `Bill dispute` (for reasons built from intent codes)."""
    words = code.replace("_", " ").replace("-", " ").replace(".", " ").split()
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:]


# -- TMF683 pieces ----------------------------------------------------------------------------

CHANNEL_NAMES = {
    "web": "Web self-care",
    "app": "Mobile app",
    "voice": "Contact centre",
    "ivr": "IVR",
    "store": "Retail store",
    "email": "Email",
    "chat": "Chat",
    "social": "Social",
    "messaging": "Messaging",  # SMS, MMS and WhatsApp (vendor formats, ingest/formats)
    "task": "Contact centre task",  # Amazon Connect tasks: open for days, kept apart from calls and chats
}

# Native customer segments that denote an organisation rather than a person.
_ORGANISATION_SEGMENTS = {"business", "organization", "organisation", "enterprise", "sme", "b2b"}


def channel(kind: str) -> list[dict[str, Any]]:
    return [{"id": kind, "name": CHANNEL_NAMES[kind], "role": "primary", "@referredType": "Channel"}]


def party(party_id: str, role: str, referred_type: str, name: str | None = None) -> dict[str, Any]:
    ref = {"id": party_id, "name": name, "role": role, "@referredType": referred_type}
    return {k: v for k, v in ref.items() if v is not None}


def customer(event: ChannelEvent, segment: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
    """The customer (the envelope's subject) as a related party; none for an anonymous contact."""
    if event.subject is None:
        return []
    kind = "Organization" if (segment or "").lower() in _ORGANISATION_SEGMENTS else "Individual"
    return [party(event.subject, "customer", kind, name)]


def agent(data: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The agent/CSR object at `path` ({"id", "name"}) as a related party, when there is one."""
    if optional(data, path, dict) is None:
        return []
    return [party(required(data, f"{path}.id"), "agent", "PartyRole", optional(data, f"{path}.name"))]


def first_id(parties: list[dict[str, Any]]) -> str | None:
    """The id of the first party in `parties` (e.g. the agent who wrote a note), if any."""
    return parties[0]["id"] if parties else None


def note(text: str | None, author: str | None, date: str | None) -> list[dict[str, Any]]:
    """A one-note list for free text (empty when there is no text)."""
    if not text:
        return []
    return [{k: v for k, v in {"author": author, "date": date, "text": text}.items() if v is not None}]


def seconds_between(start: str, end: str) -> int:
    """Whole seconds from `start` to `end`, date-times that `timestamp` has already checked."""
    began, ended = parse_date_time(start), parse_date_time(end)
    assert began is not None and ended is not None, "checked by timestamp()"
    return int((ended - began).total_seconds())


def interaction(
    *,
    type_name: str,
    kind: str,
    reason: str,
    direction: str,
    status: str,
    description: str,
    start: str,
    end: str | None,
    parties: list[dict[str, Any]],
    notes: list[dict[str, Any]] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A PartyInteraction create body for channel `kind`.

    `attributes` are further TMF attributes (attachment, interactionRelationship) and the channel
    details as extension attributes, allowed because `@type` names the subclass (e.g.
    VoiceCallInteraction); null values are left out.
    """
    document: dict[str, Any] = {
        "@type": type_name,
        "@baseType": "PartyInteraction",
        "reason": reason,
        "direction": direction,
        "status": status,
        "description": description,
        "interactionDate": {"startDateTime": start, **({"endDateTime": end} if end else {})},
        "channel": channel(kind),
        "relatedParty": parties,
    }
    if notes:
        document["note"] = notes
    document.update({k: _compact(v) for k, v in attributes.items() if v is not None})
    return document


def _compact(value: Any) -> Any:
    """Drop nulls from extension objects: absent native fields are left out, not sent as null."""
    if isinstance(value, dict):
        return {k: _compact(v) if isinstance(v, (dict, list)) else v for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


# -- changes ----------------------------------------------------------------------------------


def _model(document: dict[str, Any]) -> PartyInteractionCreate:
    try:
        return PartyInteractionCreate.model_validate(document)
    except ValidationError as error:
        raise AdapterError(f"not a valid PartyInteraction: {describe(error.errors(include_url=False))}") from None


def validated(document: dict[str, Any]) -> dict[str, Any]:
    """`document` in wire form if it is a valid PartyInteraction create body; AdapterError naming
    what is not. Workers store this form without validating it again."""
    return _model(document).to_json_dict()


def checked(document: dict[str, Any]) -> dict[str, Any]:
    """`document` itself if it is a valid PartyInteraction create body (AdapterError naming what is
    not), for documents a channel adapter built: those are in wire form already (aliases, no
    nulls; tests/unit/ingest/test_adapters.py holds every adapter to it), so unlike `validated` this does
    not serialise the model again (about a fifth of adapting an event)."""
    _model(document)
    return document


def upsert(event: ChannelEvent, native_id: str, document: dict[str, Any]) -> Change:
    """The change that makes the interaction `native_id` of the event's source equal `document`
    (a create: it replaces an older version of the same interaction, see storage.changes)."""
    return Change.at("create", interaction_id(event.source, native_id), event.time, checked(document))
