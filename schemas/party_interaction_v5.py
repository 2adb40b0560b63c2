"""TMF683 v5.0.0 PartyInteraction: the v5 view of the one stored form, and the way back.

Interactions are stored in one form, the v4 resource (schemas/party_interaction.py); v5 is a view
of it. This module is the only place that knows how the two shapes correspond (docs/v5.md has the
table), in both directions:

- `to_v5(stored, href=, last_update=)`: the v5 resource for a stored interaction;
- `from_v5(resource)`: the stored form for a v5 resource (what a v5 create or patch writes);
- `stored_path(path)`: a TMF630 attribute path of v5 (`relatedChannel.channel.id`) as a path of the
  stored form (`channel.id`), so both stores compile v5 queries with their one compiler;
- `check_v5(resource, create=)`: a body against TM Forum's v5 schemas (`PartyInteraction_FVO` on
  create, `_MVO` for a patch's result; schemas/tmf683_v5.schema.json, derived from the v5 OpenAPI by
  scripts/v5_schemas.py), and what the stored form needs besides.

What v5 adds is kept: `externalIdentifier` as an attribute of the stored form (v4 shows it too); a
related party given by value, or a reference v4 cannot tell apart (PartyRoleRef with a
`@referredType` other than PartyRole, `partyId`), as a `partyOrPartyRole` extension attribute of the
v4 relatedParty item, whose `@type` (`RelatedPartyOrPartyRole`) names the subclass that has it.
An interaction item's `interactionItemType`, `interactionItemRelationship` and `lastUpdate`
(the item's own, as the client gives it: the server keeps no time per item) are kept as extension
attributes of the v4 item, whose `@type` then names the subclass that has them (`InteractionItemV5`
when v5's is the default `InteractionItem`). The resource's `lastUpdate` is the time of the
interaction's version (every change sets a new one), so it is never stored. v5 `@type` values
that are the default for their place are implied: the stored form leaves them out, the v5 view
puts them in.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema

from schemas.common import parse_date_time

Document = dict[str, Any]

RESOURCE_TYPE = "PartyInteraction"
RELATED_CHANNEL = "RelatedChannel"
CHANNEL_REF = "ChannelRef"
RELATED_PARTY = "RelatedPartyOrPartyRole"
ITEM_RELATED_PARTY = "RelatedPartyRefOrPartyRoleRef"  # an interactionItem's relatedParty
PARTY_REF, PARTY_ROLE_REF = "PartyRef", "PartyRoleRef"
NOTE = "Note"
INTERACTION_ITEM = "InteractionItem"
# the stored @type of a default-typed v5 interaction item with attributes only v5 has: v4 takes
# extension attributes only when @type names a subclass (schemas/common.py)
STORED_V5_ITEM = "InteractionItemV5"
INTERACTION_ITEM_RELATIONSHIP = "InteractionItemRelationship"
RELATED_ENTITY = "RelatedEntityRefOrValue"
ENTITY, ENTITY_REF = "Entity", "EntityRef"
INTERACTION_RELATIONSHIP = "InteractionRelationship"
EXTERNAL_IDENTIFIER = "ExternalIdentifier"
ATTACHMENT, ATTACHMENT_REF = "Attachment", "AttachmentRef"

_REF_KEYS = ("id", "href", "name", "@referredType")
# attributes only an Attachment (by value) has; without any of them, an item with an id is a reference
_ATTACHMENT_VALUE_KEYS = ("attachmentType", "content", "description", "mimeType", "url", "size", "validFor")
# set by the server: a v5 client may send them (the _FVO/_MVO schemas list lastUpdate), they change nothing
SERVER_SET = ("lastUpdate",)
# in neither _FVO nor _MVO: the server's (creationDate, statusChangeDate) or fixed at creation
NOT_WRITABLE = ("id", "href", "creationDate", "statusChangeDate")
NOT_PATCHABLE = (*NOT_WRITABLE, "direction")
# v5 attributes of an interaction item v4's InteractionItem does not declare: kept as extensions
_ITEM_V5_ONLY = ("interactionItemRelationship", "interactionItemType", "lastUpdate")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class V5Invalid(ValueError):
    """A v5 body that breaks a v5 rule, or that the stored form cannot keep (-> 400)."""


def last_update(version: int) -> str:
    """lastUpdate: the time of the interaction's version (microseconds since the epoch)."""
    moment = _EPOCH + timedelta(microseconds=version)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- stored form -> v5 ------------------------------------------------------------------------


def to_v5(stored: Document, *, href: str, last_update: str) -> Document:
    """The v5 resource for a stored interaction, `href` its v5 URL."""
    out: Document = {"id": stored["id"], "href": href, "@type": stored.get("@type", RESOURCE_TYPE)}
    for key, value in stored.items():
        if key in ("id", "href", "@type"):
            continue
        if key == "channel":
            out["relatedChannel"] = [_channel_to_v5(item) for item in value]
        elif key == "relatedParty":
            out["relatedParty"] = [_party_to_v5(item, RELATED_PARTY) for item in value]
        elif key == "interactionItem":
            out["interactionItem"] = [_item_to_v5(item) for item in value]
        elif key in _LISTS:
            out[key] = [_LISTS[key][0](item) for item in value]
        else:
            out[key] = value
    out["lastUpdate"] = last_update
    return out


def _typed(obj: Document, default: str) -> Document:
    return {"@type": obj.get("@type", default), **{k: v for k, v in obj.items() if k != "@type"}}


def _attachment_type(attachment: Document) -> str:
    by_value = any(key in attachment for key in _ATTACHMENT_VALUE_KEYS)
    return ATTACHMENT_REF if "id" in attachment and not by_value else ATTACHMENT


def _channel_to_v5(item: Document) -> Document:
    ref = {key: item[key] for key in _REF_KEYS if key in item}
    rest = {key: value for key, value in item.items() if key not in _REF_KEYS and key != "@type"}
    return {"@type": item.get("@type", RELATED_CHANNEL), **rest, "channel": {"@type": CHANNEL_REF, **ref}}


def _party_ref_type(referred_type: Any) -> str:
    return PARTY_ROLE_REF if referred_type == "PartyRole" else PARTY_REF


def _party_to_v5(item: Document, default: str) -> Document:
    given = item.get("partyOrPartyRole")
    ref = {key: item[key] for key in _REF_KEYS if key in item}
    if isinstance(given, dict):  # kept as v5 sent it; id, href and name are the v4 item's
        party = {**given, **{key: ref[key] for key in ("id", "href", "name") if key in ref}}
    else:
        party = {"@type": _party_ref_type(ref.get("@referredType")), **ref}
    rest = {k: v for k, v in item.items() if k not in _REF_KEYS and k not in ("@type", "partyOrPartyRole")}
    return {"@type": item.get("@type", default), **rest, "partyOrPartyRole": party}


def _related_entity_to_v5(item: Document) -> Document:
    entity = {k: v for k, v in item.items() if k not in ("@type", "role")}
    entity = {"@type": ENTITY_REF if "id" in item else ENTITY, **entity}
    if "@type" in item:  # v4 names the entity's type in @type; v5 in the entity's @referredType
        entity["@referredType"] = item["@type"]
    out: Document = {"@type": RELATED_ENTITY}
    if "role" in item:
        out["role"] = item["role"]
    out["entity"] = entity
    return out


def _item_to_v5(item: Document) -> Document:
    stored_type = item.get("@type", INTERACTION_ITEM)
    out: Document = {"@type": INTERACTION_ITEM if stored_type == STORED_V5_ITEM else stored_type}
    for key, value in item.items():
        if key == "@type":
            continue
        if key == "channel":
            out["relatedChannel"] = [_channel_to_v5(c) for c in value]
        elif key == "relatedParty":
            out["relatedParty"] = [_party_to_v5(p, ITEM_RELATED_PARTY) for p in value]
        elif key == "item":
            out["item"] = _related_entity_to_v5(value)
        elif key in _LISTS:
            out[key] = [_LISTS[key][0](x) for x in value]
        else:
            out[key] = value
    return out


# -- v5 -> stored form ------------------------------------------------------------------------


def from_v5(resource: Document) -> Document:
    """The stored form of a v5 resource (checked with `check_v5` first). id, href and lastUpdate
    are the server's and are not carried over."""
    out: Document = {}
    for key, value in resource.items():
        if key in ("id", "href", *SERVER_SET):
            continue
        if key == "@type":
            if value != RESOURCE_TYPE:
                out["@type"] = value
        elif key == "relatedChannel":
            out["channel"] = [_channel_from_v5(item) for item in value]
        elif key == "relatedParty":
            out["relatedParty"] = [_party_from_v5(item, RELATED_PARTY) for item in value]
        elif key == "interactionItem":
            out["interactionItem"] = [_item_from_v5(item) for item in value]
        elif key in _LISTS:
            out[key] = [_LISTS[key][1](item) for item in value]
        else:
            out[key] = value
    return out


def _untyped(obj: Document, default: str) -> Document:
    return {k: v for k, v in obj.items() if not (k == "@type" and v == default)}


def _attachment_from_v5(attachment: Document) -> Document:
    return _untyped(attachment, _attachment_type({k: v for k, v in attachment.items() if k != "@type"}))


def _channel_from_v5(item: Document) -> Document:
    channel = item["channel"]
    ref = {key: channel[key] for key in _REF_KEYS if key in channel}
    rest = {k: v for k, v in _untyped(item, RELATED_CHANNEL).items() if k != "channel"}
    return {**ref, **rest}


def _party_from_v5(item: Document, default: str) -> Document:
    party: Document = item["partyOrPartyRole"]
    referred = party.get("@referredType")
    plain = (
        party["@type"] in (PARTY_REF, PARTY_ROLE_REF)
        and set(party) <= {"@type", *_REF_KEYS}
        and referred is not None
        and _party_ref_type(referred) == party["@type"]
    )
    out: Document = {key: party[key] for key in ("id", "href", "name") if key in party}
    out["@referredType"] = referred if referred is not None else party["@type"]
    rest = {k: v for k, v in item.items() if k not in ("@type", "partyOrPartyRole")}
    out.update(rest)
    if plain:
        if item["@type"] != default:
            out["@type"] = item["@type"]
    else:  # what v4 cannot say is kept whole, as the subclass's extension attribute
        out["@type"] = item["@type"]
        out["partyOrPartyRole"] = {k: v for k, v in party.items() if k not in ("id", "href", "name")}
    return out


def _related_entity_from_v5(item: Document) -> Document:
    entity: Document = item["entity"]
    out = {k: v for k, v in entity.items() if k not in ("@type", "@referredType")}
    out["@type"] = entity.get("@referredType") or entity["@type"]
    if "role" in item:
        out["role"] = item["role"]
    return out


def _item_from_v5(item: Document) -> Document:
    out: Document = {}
    for key, value in item.items():
        if key == "@type":
            if value != INTERACTION_ITEM:
                out["@type"] = value
        elif key == "relatedChannel":
            out["channel"] = [_channel_from_v5(c) for c in value]
        elif key == "relatedParty":
            out["relatedParty"] = [_party_from_v5(p, ITEM_RELATED_PARTY) for p in value]
        elif key == "item":
            out["item"] = _related_entity_from_v5(value)
        elif key in _LISTS:
            out[key] = [_LISTS[key][1](x) for x in value]
        else:
            out[key] = value
    if "@type" not in out and any(name in out for name in _ITEM_V5_ONLY):
        out = {"@type": STORED_V5_ITEM, **out}
    return out


# the lists whose items differ only by an implied @type: (to v5, from v5)
_LISTS: dict[str, tuple[Any, Any]] = {
    "note": (lambda x: _typed(x, NOTE), lambda x: _untyped(x, NOTE)),
    "attachment": (lambda x: _typed(x, _attachment_type(x)), _attachment_from_v5),
    "interactionRelationship": (
        lambda x: _typed(x, INTERACTION_RELATIONSHIP),
        lambda x: _untyped(x, INTERACTION_RELATIONSHIP),
    ),
    "externalIdentifier": (lambda x: _typed(x, EXTERNAL_IDENTIFIER), lambda x: _untyped(x, EXTERNAL_IDENTIFIER)),
}


# -- the v5 rules -----------------------------------------------------------------------------

# TM Forum's v5 component schemas, derived from its OpenAPI by scripts/v5_schemas.py
SCHEMA_FILE = Path(__file__).with_name("tmf683_v5.schema.json")
_DATE_TIME = "an ISO 8601 date-time such as 2026-01-31T09:30:00Z"
_ARTICLES = {"array": "an array", "object": "an object", "integer": "an integer"}


@functools.cache
def spec_schemas() -> Document:
    """The schemas file: `{"components": {"schemas": {name: JSON Schema}}}`."""
    loaded: Document = json.loads(SCHEMA_FILE.read_text())
    return loaded


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    formats = jsonschema.FormatChecker(formats=())
    # the v4 rule for date-times (schemas/common.py), so both versions take the same ones
    formats.checks("date-time")(lambda value: not isinstance(value, str) or parse_date_time(value) is not None)
    schema = {**spec_schemas(), "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


@functools.cache
def _declared(name: str) -> frozenset[str]:
    """The attributes a component schema declares, with those of the schemas it extends."""
    schema = spec_schemas()["components"]["schemas"][name]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _declared(part["$ref"].rsplit("/", 1)[1]) if "$ref" in part else set(part.get("properties", {}))
    return frozenset(names)


def check_v5(resource: Any, *, create: bool, current: Document | None = None) -> None:
    """V5Invalid unless `resource` is a valid v5 `PartyInteraction_FVO` (create) or `_MVO` (the
    result of a patch) that the stored form can keep. For a patch, `current` is the v5 view it was
    applied to: only what the patch changed is held to the schema (what v4 wrote is not v5's to refuse)."""
    if not isinstance(resource, dict):
        raise V5Invalid("a PartyInteraction is a JSON object")
    checked = resource
    if current is not None:  # what the patch changed, and @type, which every resource needs
        checked = {key: value for key, value in resource.items() if key == "@type" or current.get(key) != value}
    errors = list(_validator("PartyInteraction_FVO" if create else "PartyInteraction_MVO").iter_errors(checked))
    if errors:
        raise V5Invalid(_message(errors))
    _check_stored_form(resource)


def _message(errors: list[jsonschema.ValidationError]) -> str:
    """The first error in document order (a place before what is inside it, its `@type` first),
    with the place it is at: `relatedChannel[0].channel: required: id`."""
    first = min(errors, key=_order)
    path = list(first.absolute_path)
    if first.validator == "required":
        missing = [
            name
            for error in errors
            if error.validator == "required" and list(error.absolute_path) == path
            for name in error.validator_value
            if name not in error.instance
        ]
        if "@type" in missing:
            text = "'@type' is required (TMF683 v5: every resource is Extensible)"
        else:
            text = f"required: {', '.join(dict.fromkeys(missing))}"
    elif first.validator == "type":
        kinds = first.validator_value if isinstance(first.validator_value, list) else [first.validator_value]
        text = "must be " + " or ".join(_ARTICLES.get(kind, f"a {kind}") for kind in kinds)
    elif first.validator == "format":
        text = f"must be {_DATE_TIME}"
    elif first.validator == "enum":
        text = f"must be one of {', '.join(map(str, first.validator_value))}"
    else:
        text = first.message
    if path and path[-1] == "@type":  # said of the object whose @type it is (a discriminator's)
        path, text = path[:-1], f"'@type' {text}"
    where = _place(path)
    return f"{where}: {text}" if where else text


def _order(error: jsonschema.ValidationError) -> tuple[list[str], bool]:
    path = [str(part) for part in error.absolute_path]
    return path, not (error.validator == "required" and "@type" not in error.instance)


def _place(path: list[Any]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


# -- what the stored form needs that the spec does not say (docs/v5.md)


def _check_stored_form(resource: Document) -> None:
    _not_v4(resource, "", "channel")
    # v5 allows none (on create and patch); every v4 view needs one (shared/CONFORMANCE.md)
    if resource.get("relatedChannel") == []:
        raise V5Invalid("relatedChannel: at least one is required")
    _check_places(resource, "")


def _check_places(obj: Document, where: str) -> None:
    """The relatedChannel, relatedParty and interactionItem items of a resource or item."""
    for name, check in (("relatedChannel", _check_channel), ("relatedParty", _check_party)):
        for index, item in enumerate(obj.get(name) or ()):
            check(item, f"{where}{name}[{index}]")
    for index, item in enumerate(obj.get("interactionItem") or ()):
        _check_item(item, f"interactionItem[{index}]")


def _not_v4(obj: Document, where: str, *names: str) -> None:
    """Refuse attributes the stored form has at this place but v5 has elsewhere (they would be
    taken for the stored form's)."""
    found = [name for name in names if name in obj]
    if found:
        raise V5Invalid(f"{where + ': ' if where else ''}not a TMF683 v5 attribute here: {', '.join(found)}")


def _object(obj: Document, name: str, where: str) -> Document:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise V5Invalid(f"{where}.{name}: must be an object")
    if "@type" not in value:
        raise V5Invalid(f"{where}.{name}: '@type' is required (TMF683 v5: every resource is Extensible)")
    return value


def _need_id(obj: Document, where: str) -> None:
    if obj.get("id") is None:
        raise V5Invalid(f"{where}: required: id")


def _check_channel(item: Document, where: str) -> None:
    _not_v4(item, where, *_REF_KEYS)
    channel = _object(item, "channel", where)  # the stored form needs the channel's id
    if channel["@type"] != CHANNEL_REF:
        raise V5Invalid(f"{where}.channel: '@type' must be {CHANNEL_REF}")
    _need_id(channel, f"{where}.channel")
    extra = sorted(set(channel) - {"@type", *_REF_KEYS})
    if extra:
        names = ", ".join(extra)
        raise V5Invalid(f"{where}.channel: a ChannelRef has only id, href, name, @referredType (not {names})")


def _check_party(item: Document, where: str) -> None:
    _not_v4(item, where, *_REF_KEYS)
    _need_id(_object(item, "partyOrPartyRole", where), f"{where}.partyOrPartyRole")  # the stored form needs it


def _check_item(item: Document, where: str) -> None:
    _not_v4(item, where, "channel")
    if item["@type"] == STORED_V5_ITEM:  # shown as InteractionItem: it would not come back as sent
        raise V5Invalid(f"{where}: '@type' {STORED_V5_ITEM} is this server's stored name of an {INTERACTION_ITEM}")
    unknown = sorted(set(item) - _declared(INTERACTION_ITEM)) if item["@type"] == INTERACTION_ITEM else []
    if unknown:
        names = ", ".join(unknown)
        subclass = "extension attributes need '@type' naming the subclass"
        raise V5Invalid(f"{where}: unknown attribute(s): {names}; {subclass}")
    _check_places(item, f"{where}.")
    if "item" in item:
        related = _object(item, "item", where)
        if related["@type"] != RELATED_ENTITY:
            raise V5Invalid(f"{where}.item: '@type' must be {RELATED_ENTITY}")
        _object(related, "entity", f"{where}.item")


# -- query paths ------------------------------------------------------------------------------

# a v5 path -> the stored form's; first matching prefix wins (segments)
_PATHS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("relatedChannel", "channel"), ("channel",)),
    (("relatedChannel",), ("channel",)),
    (("interactionItem", "relatedChannel", "channel"), ("interactionItem", "channel")),
    (("interactionItem", "relatedChannel"), ("interactionItem", "channel")),
    (("interactionItem", "item", "entity", "@referredType"), ("interactionItem", "item", "@type")),
    (("interactionItem", "item", "entity"), ("interactionItem", "item")),
)
# by-reference parties keep id, href, name and @referredType in the relatedParty item itself
_PARTY_KEYS = ("id", "href", "name", "@referredType")
# not in the stored form as v5 shows them: refused rather than answered wrongly. lastUpdate is the
# version, which the query model cannot address (not a document path; the search engine's _version
# is not searchable); href is the v5 view's, the stored one is v4's. docs/v5.md has the details.
_UNQUERYABLE = ("lastUpdate", "href")


def stored_path(path: str) -> str:
    """The stored form's path for a v5 attribute path (TMF630 filters and sort), or V5Invalid."""
    parts = tuple(path.split("."))
    if path in _UNQUERYABLE or parts[-1] == "@type":
        raise V5Invalid(f"'{path}' cannot be used to filter or sort PartyInteractions in v5 (see docs/v5.md)")
    for prefix in ("relatedParty",), ("interactionItem", "relatedParty"):
        n = len(prefix)
        if parts[:n] == prefix and parts[n:] in {("partyOrPartyRole", key) for key in _PARTY_KEYS}:
            return ".".join((*prefix, parts[n + 1]))
    for v5, stored in _PATHS:
        if parts[: len(v5)] == v5:
            return ".".join((*stored, *parts[len(v5) :]))
    return path


# -- events -----------------------------------------------------------------------------------


def v5_event(event: Document, *, href_base: str) -> Document:
    """The v5 notification for a v4 one (schemas/events.py builds those): the interaction in its
    v5 view (`href_base` + id its href; lastUpdate the event's time, when the change was applied),
    `@type` naming the event (Extensible), and `timeOccurred` as the v5 schema spells it."""
    interaction = event["event"]["partyInteraction"]
    out: Document = {"@type": event["eventType"]}
    for key, value in event.items():
        if key == "timeOcurred":
            out["timeOccurred"] = value
        elif key != "event":
            out[key] = value
    out["event"] = {
        "partyInteraction": to_v5(interaction, href=f"{href_base}{interaction['id']}", last_update=event["eventTime"])
    }
    return out
