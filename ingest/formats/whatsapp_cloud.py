"""WhatsApp Cloud API webhooks (`whatsapp-cloud`): the messages customers send to the business's
WhatsApp numbers, and the statuses of the messages the business sends them.

A delivery (POST, JSON, signed with the App Secret: `_meta.verify`):
    {"object": "whatsapp_business_account", "entry": [{"id": <account id>, "changes": [
        {"field": "messages", "value": {messaging_product, metadata {display_phone_number,
         phone_number_id}, contacts [{profile {name}, wa_id, user_id}], messages [...],
         statuses [...]}}]}]}
Changes of other fields (account, template and quality updates) carry no interaction: skipped.

Each message and each status is one record, whose data is the change's `value` narrowed to it (and
to the contact it names):
- a message (from a customer: inbound): native id its wamid, time its `timestamp` (seconds, a
  string). message {from, id, timestamp, type, context {from, id, forwarded}, errors, referral,
  text {body} | image|audio|video|document|sticker {id, mime_type, sha256, caption, filename} |
  location {latitude, longitude, name, address, url} | interactive {type, button_reply|list_reply
  {id, title, description}} | button {text, payload} | reaction {message_id, emoji} | contacts [..]}
- a status (of a message the business sent: outbound): native id `<wamid>@<status>`.
  status {id, status sent|delivered|read|failed, timestamp, recipient_id, conversation {id, origin
  {type}, expiration_timestamp}, pricing {billable, pricing_model, category}, errors [{code, title,
  message, error_data {details}}]}

One interaction per message, its key the wamid: inbound messages carry no conversation id (only the
statuses of outbound messages name Meta's pricing conversation), so messages cannot be grouped into
conversations deterministically. An inbound message is `completed` when received. The statuses of an
outbound message each contribute to its interaction: `messaging.statuses` maps each status seen to
its time, and the interaction's status is the furthest one (sent: inProgress, delivered and read:
completed, failed: failed) whatever order they arrive in (_meta: STEPS).
"""

from __future__ import annotations

from typing import Any

from ingest.adapters.common import AdapterError, interaction, note, one_of, optional, required
from ingest.formats import Format, FormatError, Record, contribute, external_id, identifier, record_of, upsert
from ingest.formats._meta import (
    Records,
    entries,
    epoch_time,
    handshake,
    identifiers,
    iso,
    objects_at,
    record_time,
    text_at,
    verify,
)
from schemas.channel_event import ChannelEvent, interaction_id
from storage.changes import Change

FORMAT_ID = "whatsapp-cloud"
RECORD_KIND = "whatsapp-message"
REASON = "WhatsApp message"
MEDIA = ("image", "audio", "video", "document", "sticker")
STATUSES = {"sent": "inProgress", "delivered": "completed", "read": "completed", "failed": "failed"}


def split(body: bytes, media_type: str) -> list[Record]:
    _, found = entries(body, ("whatsapp_business_account",))
    records = Records()
    for e, entry in enumerate(found):
        for c, change in enumerate(objects_at(entry, "changes", f"entry[{e}].changes")):
            if change.get("field", "messages") != "messages":
                continue
            where = f"entry[{e}].changes[{c}].value"
            value = change.get("value")
            if not isinstance(value, dict):
                raise FormatError(f"{where}: expected an object")
            contacts = objects_at(value, "contacts", f"{where}.contacts", needed=False)
            shared = {key: value[key] for key in ("messaging_product", "metadata") if key in value}
            for m, message in enumerate(objects_at(value, "messages", f"{where}.messages", needed=False)):
                here = f"{where}.messages[{m}]"
                wamid = text_at(message, "id", f"{here}.id")
                narrowed = {**shared, **_contacts(contacts, message.get("from")), "messages": [message]}
                records.add(wamid, record_time(_moment(message, here), "message"), narrowed)
            for s, status in enumerate(objects_at(value, "statuses", f"{where}.statuses", needed=False)):
                here = f"{where}.statuses[{s}]"
                wamid = text_at(status, "id", f"{here}.id")
                state = text_at(status, "status", f"{here}.status")
                narrowed = {**shared, **_contacts(contacts, status.get("recipient_id")), "statuses": [status]}
                records.add(f"{wamid}@{state}", record_time(_moment(status, here), state), narrowed)
    return list(records)


def _contacts(contacts: list[dict[str, Any]], wa_id: Any) -> dict[str, Any]:
    """The contact a message or status names (the change lists those of all its messages)."""
    named = [contact for contact in contacts if wa_id is not None and contact.get("wa_id") == wa_id]
    return {"contacts": named} if named else {}


def _moment(item: dict[str, Any], where: str) -> Any:
    try:
        return epoch_time(item.get("timestamp"), 1)
    except ValueError as error:
        raise FormatError(f"{where}.timestamp: {error}") from None


def adapt(event: ChannelEvent) -> Change:
    value = record_of(event)
    if optional(value, "messages.0", dict) is not None:
        return _message(event, value)
    if optional(value, "statuses.0", dict) is not None:
        return _status(event, value)
    raise AdapterError("data: neither messages nor statuses (not a WhatsApp message or status record)")


def _message(event: ChannelEvent, value: dict[str, Any]) -> Change:
    wamid = required(value, "messages.0.id")
    sender = required(value, "messages.0.from")
    kind = required(value, "messages.0.type")
    at = _time(event, value, "messages.0.timestamp")
    text, attachments, content = _content(value, kind)
    relationships = []
    context = optional(value, "messages.0.context.id")
    if context:
        relationships.append({"id": interaction_id(event.source, context), "relationshipType": "replyTo"})
    if kind == "reaction":
        reacted = content["reaction"]["messageId"]
        relationships.append({"id": interaction_id(event.source, reacted), "relationshipType": "reactsTo"})
    document = interaction(
        type_name="MessagingInteraction",
        kind="messaging",
        reason=REASON,
        direction="inbound",
        status="completed",
        description=f"WhatsApp {kind} message from {sender}",
        start=at,
        end=at,
        parties=[],
        notes=note(text, sender, at),
        attachment=attachments or None,
        interactionRelationship=relationships or None,
        externalIdentifier=[external_id(wamid, event, RECORD_KIND)],
        customerIdentifier=identifiers(identifier("phone", sender, "whatsapp"), *_contact_identifiers(value)),
        messaging={
            **_business(value),
            "messageId": wamid,
            "type": kind,
            "profileName": optional(value, "contacts.0.profile.name"),
            "repliesTo": context,
            "forwarded": optional(value, "messages.0.context.forwarded", bool),
            "frequentlyForwarded": optional(value, "messages.0.context.frequently_forwarded", bool),
            "referral": _referral(value),
            "errors": _errors(value, "messages.0.errors") or None,
            **content,
        },
    )
    return upsert(event, wamid, document)


def _content(value: dict[str, Any], kind: str) -> tuple[str | None, list[dict[str, Any]], dict[str, Any]]:
    """What a message of `kind` says: its text (a note), attachments, and details for `messaging`."""
    at = f"messages.0.{kind}"
    if kind == "text":
        return optional(value, f"{at}.body"), [], {}
    if kind in MEDIA:
        # a reference to the media (Graph API id), never its bytes
        media = {
            "id": required(value, f"{at}.id"),
            "mimeType": optional(value, f"{at}.mime_type"),
            "sha256": optional(value, f"{at}.sha256"),
            "caption": optional(value, f"{at}.caption"),
            "filename": optional(value, f"{at}.filename"),
        }
        attachment = {
            "id": media["id"],
            "attachmentType": kind,
            "mimeType": media["mimeType"],
            "description": media["caption"],
            "name": media["filename"],
        }
        return media["caption"], [{k: v for k, v in attachment.items() if v is not None}], {"media": media}
    if kind == "location":
        location = {
            "latitude": required(value, f"{at}.latitude", float),
            "longitude": required(value, f"{at}.longitude", float),
            "name": optional(value, f"{at}.name"),
            "address": optional(value, f"{at}.address"),
            "url": optional(value, f"{at}.url"),
        }
        place = ", ".join(part for part in (location["name"], location["address"]) if part)
        coordinates = f"{location['latitude']}, {location['longitude']}"
        return f"Location: {place or coordinates}", [], {"location": location}
    if kind == "interactive":
        reply_type = required(value, f"{at}.type")
        reply = {
            "type": reply_type,
            "id": optional(value, f"{at}.{reply_type}.id"),
            "title": optional(value, f"{at}.{reply_type}.title"),
            "description": optional(value, f"{at}.{reply_type}.description"),
        }
        return reply["title"], [], {"interactive": reply}
    if kind == "button":
        button = {"text": optional(value, f"{at}.text"), "payload": optional(value, f"{at}.payload")}
        return button["text"], [], {"button": button}
    if kind == "reaction":
        reaction = {"messageId": required(value, f"{at}.message_id"), "emoji": optional(value, f"{at}.emoji")}
        return reaction["emoji"], [], {"reaction": reaction}
    if kind == "contacts":
        cards = len(optional(value, at, list, []))
        return f"{cards} contact card{'s' if cards != 1 else ''} shared", [], {"contactCards": cards}
    return None, [], {}  # order, system, unsupported...: described by type (and errors) only


def _status(event: ChannelEvent, value: dict[str, Any]) -> Change:
    wamid = required(value, "statuses.0.id")
    state = required(value, "statuses.0.status")
    status = one_of(value, "statuses.0.status", STATUSES)
    recipient = optional(value, "statuses.0.recipient_id")
    at = _time(event, value, "statuses.0.timestamp")
    errors = _errors(value, "statuses.0.errors")
    described = f": {errors[0].get('title') or errors[0].get('code')}" if errors else ""
    conversation = optional(value, "statuses.0.conversation", dict)
    pricing = optional(value, "statuses.0.pricing", dict)
    document = interaction(
        type_name="MessagingInteraction",
        kind="messaging",
        reason=REASON,
        direction="outbound",
        status=status,
        description=f"WhatsApp message{f' to {recipient}' if recipient else ''}, {state}{described}",
        start=at,
        end=at if state == "sent" else None,  # an outbound message is handled when sent
        parties=[],
        notes=[{"date": at, "text": f"Not delivered: {_error_text(error)}"} for error in errors],
        externalIdentifier=[external_id(wamid, event, RECORD_KIND)],
        customerIdentifier=identifiers(
            *([identifier("phone", recipient, "whatsapp")] if recipient else []),
            *_contact_identifiers(value),
            *_user_id(value, "statuses.0.recipient_user_id"),
        )
        or None,
        messaging={
            **_business(value),
            "messageId": wamid,
            "statuses": {state: at},
            "conversation": {
                "id": optional(value, "statuses.0.conversation.id"),
                "originType": optional(value, "statuses.0.conversation.origin.type"),
                "expiresAt": _optional_time(value, "statuses.0.conversation.expiration_timestamp"),
            }
            if conversation is not None
            else None,
            "pricing": {
                "billable": optional(value, "statuses.0.pricing.billable", bool),
                "pricingModel": optional(value, "statuses.0.pricing.pricing_model"),
                "category": optional(value, "statuses.0.pricing.category"),
            }
            if pricing is not None
            else None,
            "errors": errors or None,
        },
    )
    return contribute(event, wamid, document)


def _business(value: dict[str, Any]) -> dict[str, Any]:
    """The business number the message went through."""
    return {
        "platform": "whatsapp",
        "businessPhoneNumber": optional(value, "metadata.display_phone_number"),
        "phoneNumberId": optional(value, "metadata.phone_number_id"),
    }


def _contact_identifiers(value: dict[str, Any]) -> list[dict[str, Any]]:
    wa_id = optional(value, "contacts.0.wa_id")
    return [
        *([identifier("phone", wa_id, "whatsapp")] if wa_id else []),
        *_user_id(value, "contacts.0.user_id"),
    ]


def _user_id(value: dict[str, Any], path: str) -> list[dict[str, Any]]:
    user_id = optional(value, path)
    return [identifier("platform", user_id, "whatsapp-user-id")] if user_id else []


def _referral(value: dict[str, Any]) -> dict[str, Any] | None:
    """The ad or post a click-to-WhatsApp message came from."""
    if optional(value, "messages.0.referral", dict) is None:
        return None
    at = "messages.0.referral"
    return {
        "sourceType": optional(value, f"{at}.source_type"),
        "sourceId": optional(value, f"{at}.source_id"),
        "sourceUrl": optional(value, f"{at}.source_url"),
        "headline": optional(value, f"{at}.headline"),
    }


def _errors(value: dict[str, Any], path: str) -> list[dict[str, Any]]:
    errors = []
    for index in range(len(optional(value, path, list, []))):
        at = f"{path}.{index}"
        error = {
            "code": optional(value, f"{at}.code", int),
            "title": optional(value, f"{at}.title"),
            "message": optional(value, f"{at}.message"),
            "details": optional(value, f"{at}.error_data.details"),
        }
        errors.append({k: v for k, v in error.items() if v is not None})
    return errors


def _error_text(error: dict[str, Any]) -> str:
    words = [f"{error['code']}" if "code" in error else "", error.get("title", ""), error.get("details", "")]
    return " ".join(word for word in words if word) or "no reason given"


def _time(event: ChannelEvent, value: dict[str, Any], path: str) -> str:
    """The message's or status's own time (ISO 8601), or the event's when it has none."""
    moment = _optional_time(value, path)
    return moment if moment is not None else event.time


def _optional_time(value: dict[str, Any], path: str) -> str | None:
    item, _, key = path.rpartition(".")
    found = optional(value, item, dict, {})
    try:
        moment = epoch_time(found.get(key), 1)
    except ValueError as error:
        raise AdapterError(f"data.{path}: {error}") from None
    return None if moment is None else iso(moment)


FORMAT = Format(
    id=FORMAT_ID,
    split=split,
    adapt=adapt,
    media_types=("application/json",),
    verify=verify,
    handshake=handshake,
)
