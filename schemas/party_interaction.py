"""TMF683 v4.0.0 PartyInteraction and its sub-resources (pydantic v2).

Validation follows the conformance profile (shared/CONFORMANCE.md), which is looser than the
swagger's `_Create` schema: on create only `reason`, `direction` and `channel[].id` are mandatory.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import MAX_DEPTH, DateTime, TmfModel, deeper_than, extension_rule, parse_date_time

# What an interaction's id is, whoever chose it (the API, a channel adapter, a TMF683 event's
# publisher): URL-safe as it is, since it is the last segment of the interaction's href.
INTERACTION_ID_PATTERN = r"^[A-Za-z0-9._~-]{1,128}$"
_INTERACTION_ID = re.compile(INTERACTION_ID_PATTERN)


def is_interaction_id(text: str) -> bool:
    return _INTERACTION_ID.fullmatch(text) is not None


# How many items each array of an interaction may hold. Each item is indexed on its own (the
# embedded store keeps a timeline row per related party, the engine a nested document), so an
# unbounded array turns one small request into a large amount of work and storage.
MAX_ITEMS = {
    "channel": 20,
    "relatedParty": 100,
    "note": 1000,
    "attachment": 100,
    "interactionItem": 1000,
    "interactionRelationship": 1000,
    "externalIdentifier": 100,
}

T = TypeVar("T")
Channels = Annotated[list[T], Field(max_length=MAX_ITEMS["channel"])]
Parties = Annotated[list[T], Field(max_length=MAX_ITEMS["relatedParty"])]
Notes = Annotated[list[T], Field(max_length=MAX_ITEMS["note"])]
Attachments = Annotated[list[T], Field(max_length=MAX_ITEMS["attachment"])]
Items = Annotated[list[T], Field(max_length=MAX_ITEMS["interactionItem"])]
Relationships = Annotated[list[T], Field(max_length=MAX_ITEMS["interactionRelationship"])]
Identifiers = Annotated[list[T], Field(max_length=MAX_ITEMS["externalIdentifier"])]


class TimePeriod(TmfModel):
    startDateTime: DateTime | None = None
    endDateTime: DateTime | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> TimePeriod:
        start = parse_date_time(self.startDateTime) if self.startDateTime else None
        end = parse_date_time(self.endDateTime) if self.endDateTime else None
        if start and end and end < start:
            raise ValueError("endDateTime is before startDateTime")
        return self


class Quantity(TmfModel):
    amount: float | None = None
    units: str | None = None


class Reference(TmfModel):
    """Common shape of the *Ref types: a pointer to an entity managed elsewhere."""

    id: str | None = None
    href: str | None = None
    name: str | None = None
    referredType: str | None = Field(default=None, alias="@referredType")


class RelatedChannel(Reference):
    id: str  # mandatory; href is optional in the conformance profile
    role: str | None = None


class RelatedParty(Reference):
    id: str
    referredType: str = Field(alias="@referredType")
    role: str | None = None


class RelatedEntityRefOrValue(Reference):
    type: str = Field(alias="@type")
    role: str


class EntityRef(Reference):
    id: str


class AttachmentRefOrValue(Reference):
    attachmentType: str | None = None
    content: str | None = None
    description: str | None = None
    mimeType: str | None = None
    url: str | None = None
    size: Quantity | None = None
    validFor: TimePeriod | None = None


class Note(TmfModel):
    id: str | None = None
    author: str | None = None
    date: DateTime | None = None
    text: str | None = None


class InteractionItem(TmfModel):
    id: str | None = None
    creationDate: DateTime | None = None
    reason: str | None = None
    resolution: str | None = None
    attachment: Attachments[AttachmentRefOrValue] | None = None
    channel: Channels[RelatedChannel] | None = None
    item: RelatedEntityRefOrValue | None = None
    itemDate: TimePeriod | None = None
    note: Notes[Note] | None = None
    relatedParty: Parties[RelatedParty] | None = None


class InteractionRelationship(TmfModel):
    id: str | None = None
    href: str | None = None
    relationshipType: str | None = None


class ExternalIdentifier(TmfModel):
    """TMF683 v5's: the interaction as another system knows it. Kept (and shown) for interactions
    written through v5 (schemas/party_interaction_v5.py); v4 has no such attribute."""

    id: str
    owner: str | None = None
    externalIdentifierType: str | None = None


class _PartyInteractionBody(TmfModel):
    """Attributes a client may write (the swagger's _Update attributes)."""

    tmf_name: ClassVar[str] = "PartyInteraction"

    @model_validator(mode="before")
    @classmethod
    def _bounded_depth(cls, data: Any) -> Any:
        if deeper_than(data, MAX_DEPTH):
            raise ValueError(f"a PartyInteraction nests at most {MAX_DEPTH} levels of objects and arrays")
        return data

    creationDate: DateTime | None = None
    description: str | None = None
    reason: str | None = None
    status: str | None = None
    statusChangeDate: DateTime | None = None
    attachment: Attachments[AttachmentRefOrValue] | None = None
    channel: Channels[RelatedChannel] | None = None
    interactionDate: TimePeriod | None = None
    interactionItem: Items[InteractionItem] | None = None
    interactionRelationship: Relationships[InteractionRelationship] | None = None
    note: Notes[Note] | None = None
    relatedParty: Parties[RelatedParty] | None = None
    externalIdentifier: Identifiers[ExternalIdentifier] | None = None


def _create_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    extension_rule(schema, model)
    schema["propertyNames"] = {"not": {"enum": ["id", "href"]}}  # the server's, even with a subclass


def _update_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    # no extension rule: what a merge patch makes of the stored interaction is checked
    schema["propertyNames"] = {"not": {"enum": list(NOT_PATCHABLE)}}


class PartyInteractionCreate(_PartyInteractionBody):
    """POST body. Server-owned attributes (id, href) are refused as unknown."""

    model_config = ConfigDict(json_schema_extra=_create_schema)

    direction: str
    reason: str
    channel: Channels[RelatedChannel] = Field(min_length=1)


class PartyInteractionUpdate(_PartyInteractionBody):
    """PATCH body (merge patch). id, href and direction are not patchable."""

    model_config = ConfigDict(json_schema_extra=_update_schema)


class PartyInteraction(PartyInteractionCreate):
    """The resource as stored and returned: what a client wrote plus server-set attributes."""

    model_config = ConfigDict(json_schema_extra=extension_rule)

    id: str
    href: str


# Attributes the server owns or that never change after creation (PATCH refuses them).
NOT_PATCHABLE = ("id", "href", "direction")


def validated_resource(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored resource validated and in wire form, `id` and `href` first."""
    model = PartyInteraction.model_validate(doc).to_json_dict()
    return {"id": model.pop("id"), "href": model.pop("href"), **model}


def stored_resource(
    body: dict[str, Any],
    *,
    interaction_id: str,
    href: str,
    now: str,
    previous: dict[str, Any] | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """The resource for a create body: server attributes set (the API, the workers and demo data
    all create resources through here). `previous`: the stored version it replaces, if any. `href`
    is kept for readers of the stored form; answers replace it (interaction_hub/references.py).

    `validate=False` is for a body that already is a validated create body in wire form (what the
    channel adapters return): adding the server attributes (`now` a valid date-time) cannot make it
    invalid, so only the attribute order of a validated resource is restored (tests compare both)."""
    doc = {**body, "id": interaction_id, "href": href}
    doc["creationDate"] = previous["creationDate"] if previous else now
    if "status" in body and "statusChangeDate" not in body:
        unchanged = previous is not None and previous.get("status") == body["status"]
        doc["statusChangeDate"] = previous.get("statusChangeDate", now) if previous and unchanged else now
    if not validate:
        return {**{name: doc[name] for name in _WIRE_ORDER if name in doc}, **doc}  # extensions last
    return validated_resource(doc)


# the order in which a validated resource lists its attributes: id, href, then the model's fields
_WIRE_ORDER = (
    "id",
    "href",
    *(info.alias or name for name, info in PartyInteraction.model_fields.items() if name not in ("id", "href")),
)
