"""Pydantic v2 models of TMF683 v4.0.0: resource, sub-resources, errors, events, hub."""

from schemas.errors import Error
from schemas.events import EventSubscription, EventSubscriptionInput, EventType, PartyInteractionEvent
from schemas.party_interaction import (
    NOT_PATCHABLE,
    AttachmentRefOrValue,
    EntityRef,
    InteractionItem,
    InteractionRelationship,
    Note,
    PartyInteraction,
    PartyInteractionCreate,
    PartyInteractionUpdate,
    Quantity,
    RelatedChannel,
    RelatedEntityRefOrValue,
    RelatedParty,
    TimePeriod,
)

__all__ = [
    "NOT_PATCHABLE",
    "AttachmentRefOrValue",
    "EntityRef",
    "Error",
    "EventSubscription",
    "EventSubscriptionInput",
    "EventType",
    "InteractionItem",
    "InteractionRelationship",
    "Note",
    "PartyInteraction",
    "PartyInteractionCreate",
    "PartyInteractionEvent",
    "PartyInteractionUpdate",
    "Quantity",
    "RelatedChannel",
    "RelatedEntityRefOrValue",
    "RelatedParty",
    "TimePeriod",
]
