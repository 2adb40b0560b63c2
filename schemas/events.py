"""TMF683 v4 notifications and hub subscriptions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.party_interaction import PartyInteraction


class EventType(StrEnum):
    CREATE = "PartyInteractionCreateEvent"
    ATTRIBUTE_VALUE_CHANGE = "PartyInteractionAttributeValueChangeEvent"
    STATUS_CHANGE = "PartyInteractionStatusChangeEvent"  # v4 says StatusChange, not StateChange
    DELETE = "PartyInteractionDeleteEvent"


class PartyInteractionEventPayload(BaseModel):
    partyInteraction: PartyInteraction


class PartyInteractionEvent(BaseModel):
    """Envelope shared by the four event types (fieldPath only on AttributeValueChange)."""

    model_config = ConfigDict(extra="forbid")

    eventId: str
    eventTime: str
    eventType: EventType
    correlationId: str | None = None
    domain: str | None = None
    title: str | None = None
    description: str | None = None
    priority: str | None = None
    timeOcurred: str | None = None  # sic: the spec's spelling
    fieldPath: str | None = None
    event: PartyInteractionEventPayload


DEFAULT_PORTS = {"http": 80, "https": 443}

# The form `callback_url` takes, as the OpenAPI states it for requests: http(s), a host name or an
# IPv4 address (or an IPv6 one in brackets), no credentials, a port from 1 to 65535, printable ASCII
# after that. A little narrower than what it takes (IDNA host names, for one).
CALLBACK_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://"
    r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:[/?#][!-~]*)?$"
)


def callback_url(text: str) -> httpx.URL:
    """The form a hub callback must have: an absolute http(s) URL with a host, a valid port and no
    credentials (they would travel, and be logged, with every notification). Parsed by the client
    that will call it, so what is checked is what gets called. Where it may point is checked at
    registration and before each delivery (interaction_hub.notifications.check_callback)."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if url.scheme not in DEFAULT_PORTS or not url.host:
        raise ValueError("must be an absolute http(s) URL")
    if url.userinfo:
        raise ValueError("must not contain credentials (user:password@)")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"port {url.port} is out of range")
    return url


class EventSubscriptionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # bounded: every queued notification carries its subscriber's callback
    callback: str = Field(
        max_length=2048,
        description="Absolute http(s) URL that receives the notifications. Its host must resolve, to public "
        "addresses only (unless IHUB_HUB_ALLOWED_NETWORKS or IHUB_HUB_LOOPBACK_CALLBACKS allows others), and "
        "not to this server; an IP address must be a valid one",
    )
    query: str | None = Field(
        default=None,
        description="TMF630 filter on the event, e.g. eventType=PartyInteractionCreateEvent"
        "&event.partyInteraction.status=completed: on the event's attributes, the interaction's under "
        "event.partyInteraction",
    )

    @field_validator("callback")
    @classmethod
    def _http_url(cls, value: str) -> str:
        callback_url(value)
        return value


class EventSubscription(EventSubscriptionInput):
    id: str


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    """Validate an event envelope built by the server (guards the notification contract)."""
    return PartyInteractionEvent.model_validate(event).model_dump(mode="json", exclude_none=True)


def changed_attributes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The top-level attributes whose values differ between two states of an interaction."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def change_events(
    old: dict[str, Any] | None, new: dict[str, Any] | None, now: str, changed: list[str] | None = None
) -> list[dict[str, Any]]:
    """The notifications one change of a PartyInteraction causes (old/new None: create/delete).
    `changed`: an update's changed attributes when the old state is not at hand (a change record
    carries them instead of the whole old state)."""
    from uuid import uuid4

    def envelope(event_type: EventType, resource: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "eventId": uuid4().hex,
            "eventTime": now,
            "eventType": event_type.value,
            "timeOcurred": now,
            "domain": "partyInteraction",
            "title": event_type.value,
            "priority": "normal",
            **extra,
            "event": {"partyInteraction": resource},
        }

    if changed is None:
        if old is None and new is not None:
            return [envelope(EventType.CREATE, new)]
        if new is None and old is not None:
            return [envelope(EventType.DELETE, old)]
        assert old is not None and new is not None
        changed = changed_attributes(old, new)
    if not changed or new is None:
        return []
    events = [envelope(EventType.ATTRIBUTE_VALUE_CHANGE, new, fieldPath=",".join(changed))]
    if "status" in changed:
        events.append(envelope(EventType.STATUS_CHANGE, new))
    return events
