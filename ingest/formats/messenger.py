"""Messenger Platform webhooks (`messenger`): private messages between customers and a Facebook Page
(`object: page`) or an Instagram professional account (`object: instagram`, same webhook shape).

A delivery (POST, JSON, signed with the App Secret: `_meta.verify`):
    {"object": "page" | "instagram", "entry": [{"id": <page id>, "time": <ms>, "messaging": [item]}]}
with item {sender {id}, recipient {id}, timestamp (ms), and one of:
    message {mid, text, attachments [{type, payload {url, title}}], quick_reply {payload},
             reply_to {mid}, is_echo, app_id}
    postback {mid, title, payload}
    delivery {mids, watermark}
    read {watermark} (Messenger) or {mid} (Instagram)}

Each item is one record, whose data is `{"object": ..., "messaging": item}`:
- a message from the customer (inbound): native id its mid; its own interaction, `completed` when
  received. The customer is the sender (PSID, or IGSID on Instagram), the page the recipient.
- an echo (`is_echo`: a message the page sent, outbound): native id its mid; it contributes to the
  message's interaction (`inProgress`, sent), the customer being the recipient.
- a postback (a button the customer tapped): native id its mid (older postbacks have none:
  `postback:<sender>:<timestamp>`); its own interaction.
- a delivery: one record per mid it lists, native id `<mid>@delivered`; it contributes to that
  message's interaction (`completed`). A delivery without mids names no message: not mapped.
- a read naming a mid (Instagram): native id `<mid>@read`, likewise. A Messenger read carries only a
  watermark (everything the page sent before it was read) and names no message: not mapped, since
  finding the messages it covers would take reading the store, which adapt does not do.
Other items (reactions, opt-ins, referrals, message edits, handover, standby) are not mapped.

The time of a record is its `timestamp` (for a delivery or read without one, its watermark), plus
its step (_meta: STEPS), so that a message's interaction ends in the furthest state seen whatever
order the records arrive in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ingest.adapters.common import AdapterError, interaction, note, one_of, optional, required
from ingest.formats import Format, FormatError, Record, contribute, external_id, identifier, record_of, upsert
from ingest.formats._meta import Records, entries, epoch_time, handshake, iso, objects_at, record_time, text_at, verify
from schemas.channel_event import ChannelEvent, interaction_id
from storage.changes import Change

FORMAT_ID = "messenger"


class Network(NamedTuple):
    id: str  # as the social channel names networks
    label: str
    scheme: str  # of the customer's platform identifier
    records: str  # prefix of the kinds of its records in externalIdentifier


NETWORKS = {
    "page": Network("facebook", "Messenger", "messenger-psid", "messenger"),
    "instagram": Network("instagram", "Instagram", "instagram-id", "instagram"),
}
EVENTS = ("message", "postback", "delivery", "read")
TIME_PATHS = ("timestamp", "delivery.watermark", "read.watermark")


def split(body: bytes, media_type: str) -> list[Record]:
    kind, found = entries(body, tuple(NETWORKS))
    records = Records()
    for e, entry in enumerate(found):
        for i, item in enumerate(objects_at(entry, "messaging", f"entry[{e}].messaging", needed=False)):
            here = f"entry[{e}].messaging[{i}]"
            made = _records(item, here)
            try:
                moment = _moment(item) if made else None
            except ValueError as error:
                raise FormatError(f"{here}.{error}") from None
            for native_id, step, narrowed in made:
                records.add(native_id, record_time(moment, step), {"object": kind, "messaging": narrowed})
    return list(records)


def _records(item: dict[str, Any], here: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(native id, step, item) of each record an item makes: a delivery makes one per mid."""
    for name in EVENTS:
        if item.get(name) is not None and not isinstance(item[name], dict):
            raise FormatError(f"{here}.{name}: expected an object")
    if item.get("message") is not None:
        message = item["message"]
        mid = text_at(message, "mid", f"{here}.message.mid")
        return [(mid, "sent" if message.get("is_echo") is True else "message", item)]
    if item.get("postback") is not None:
        postback = _postback_id(item)
        if postback is None:
            raise FormatError(f"{here}.postback.mid: missing, and no sender.id and timestamp to name it by")
        return [(postback, "message", item)]
    if item.get("delivery") is not None:
        delivery = item["delivery"]
        mids = delivery.get("mids") or []
        if not isinstance(mids, list) or not all(isinstance(mid, str) and mid.strip() for mid in mids):
            raise FormatError(f"{here}.delivery.mids: expected an array of non-empty strings")
        return [(f"{mid}@delivered", "delivered", {**item, "delivery": {**delivery, "mids": [mid]}}) for mid in mids]
    if item.get("read") is not None and item["read"].get("mid") is not None:
        mid = text_at(item["read"], "mid", f"{here}.read.mid")
        return [(f"{mid}@read", "read", item)]
    return []  # module docstring: not mapped


def _moment(item: dict[str, Any]) -> Any:
    """When an item happened: its timestamp, else its receipt's watermark (ms); None if it has
    neither; ValueError naming the field when that is not a time."""
    for path in TIME_PATHS:
        parent, _, key = path.rpartition(".")
        holder = item.get(parent) if parent else item
        if isinstance(holder, dict) and holder.get(key) is not None:
            try:
                return epoch_time(holder[key], 1000)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
    return None


def _postback_id(item: dict[str, Any]) -> str | None:
    """A postback's native id: its mid, or, for the older ones without, who tapped when."""
    postback, sender = item.get("postback") or {}, item.get("sender")
    if isinstance(postback.get("mid"), str) and postback["mid"].strip():
        return str(postback["mid"])
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    timestamp = item.get("timestamp")
    if isinstance(sender_id, str) and sender_id and type(timestamp) is int:
        return f"postback:{sender_id}:{timestamp}"
    return None


def adapt(event: ChannelEvent) -> Change:
    record = record_of(event)
    network = NETWORKS[one_of(record, "object", {name: name for name in NETWORKS})]
    required(record, "messaging", dict)
    if optional(record, "messaging.message", dict) is not None:
        return _message(event, record, network)
    if optional(record, "messaging.postback", dict) is not None:
        return _postback(event, record, network)
    if optional(record, "messaging.delivery", dict) is not None:
        return _receipt(event, record, network, "delivered", required(record, "messaging.delivery.mids.0"))
    if optional(record, "messaging.read.mid") is not None:
        return _receipt(event, record, network, "read", required(record, "messaging.read.mid"))
    raise AdapterError("data.messaging: neither a message, a postback, a delivery nor a read naming a message")


def _message(event: ChannelEvent, record: dict[str, Any], network: Network) -> Change:
    at_message = "messaging.message"
    mid = required(record, f"{at_message}.mid")
    echo = optional(record, f"{at_message}.is_echo", bool, False)
    sender = required(record, "messaging.sender.id")
    recipient = required(record, "messaging.recipient.id")
    customer, page = (recipient, sender) if echo else (sender, recipient)
    at = _time(event, record)
    reply_to = optional(record, f"{at_message}.reply_to.mid")
    attachments = _attachments(record)
    shared = f", {len(attachments)} attachment{'s' if len(attachments) != 1 else ''}" if attachments else ""
    document = interaction(
        type_name="SocialMessageInteraction",
        kind="social",
        reason=f"{network.label} message",
        direction="outbound" if echo else "inbound",
        # a received message is complete; one the page sent is complete once delivered
        status="inProgress" if echo else "completed",
        description=f"{network.label} message {'to' if echo else 'from'} {customer}{shared}",
        start=at,
        end=at,
        parties=[],
        notes=note(optional(record, f"{at_message}.text"), sender, at),
        attachment=attachments or None,
        interactionRelationship=[{"id": interaction_id(event.source, reply_to), "relationshipType": "replyTo"}]
        if reply_to
        else None,
        externalIdentifier=[external_id(mid, event, f"{network.records}-message")],
        customerIdentifier=[identifier("platform", customer, network.scheme)],
        social={
            **_social(network, mid, page),
            "quickReplyPayload": optional(record, f"{at_message}.quick_reply.payload"),
            "repliesTo": reply_to,
            "appId": _text(record, f"{at_message}.app_id"),
            "deleted": optional(record, f"{at_message}.is_deleted", bool),
            "unsupported": optional(record, f"{at_message}.is_unsupported", bool),
            "statuses": {"sent": at} if echo else None,
        },
    )
    # an echo shares its interaction with the message's delivery and read records
    return contribute(event, mid, document) if echo else upsert(event, mid, document)


def _attachments(record: dict[str, Any]) -> list[dict[str, Any]]:
    """References to what the message carried (the platform's URLs), never its bytes."""
    found = []
    at_list = "messaging.message.attachments"
    for index in range(len(optional(record, at_list, list, []))):
        at = f"{at_list}.{index}"
        attachment = {
            "attachmentType": required(record, f"{at}.type"),
            "url": optional(record, f"{at}.payload.url"),
            "name": optional(record, f"{at}.payload.title"),
        }
        found.append({k: v for k, v in attachment.items() if v is not None})
    return found


def _postback(event: ChannelEvent, record: dict[str, Any], network: Network) -> Change:
    postback = _postback_id(required(record, "messaging", dict))
    if postback is None:
        raise AdapterError("data.messaging.postback.mid: missing, and no sender.id and timestamp to name it by")
    sender = required(record, "messaging.sender.id")
    title = optional(record, "messaging.postback.title")
    at = _time(event, record)
    document = interaction(
        type_name="SocialMessageInteraction",
        kind="social",
        reason=f"{network.label} message",
        direction="inbound",
        status="completed",
        description=f"{network.label} button {repr(title) + ' ' if title else ''}tapped by {sender}",
        start=at,
        end=at,
        parties=[],
        notes=note(title, sender, at),
        externalIdentifier=[external_id(postback, event, f"{network.records}-postback")],
        customerIdentifier=[identifier("platform", sender, network.scheme)],
        social={
            **_social(network, postback, optional(record, "messaging.recipient.id")),
            "kind": "postback",
            "postbackPayload": optional(record, "messaging.postback.payload"),
        },
    )
    return upsert(event, postback, document)


def _receipt(event: ChannelEvent, record: dict[str, Any], network: Network, state: str, mid: str) -> Change:
    """A delivery or read of a message the page sent: the customer is its sender."""
    customer = required(record, "messaging.sender.id")
    at = _time(event, record)
    document = interaction(
        type_name="SocialMessageInteraction",
        kind="social",
        reason=f"{network.label} message",
        direction="outbound",
        status="completed",
        description=f"{network.label} message to {customer}, {state}",
        start=at,
        end=None,  # when it was sent (the echo) ends its handling, not when it was delivered
        parties=[],
        externalIdentifier=[external_id(mid, event, f"{network.records}-message")],
        customerIdentifier=[identifier("platform", customer, network.scheme)],
        social={**_social(network, mid, optional(record, "messaging.recipient.id")), "statuses": {state: at}},
    )
    return contribute(event, mid, document)


def _social(network: Network, message_id: str, page: str | None) -> dict[str, Any]:
    """The `social` extension attributes, as the social channel's own adapter writes them."""
    return {"network": network.id, "messageId": message_id, "kind": "dm", "visibility": "private", "pageId": page}


def _text(record: dict[str, Any], path: str) -> str | None:
    """An id Meta writes as a number or a string (app_id)."""
    item, _, key = path.rpartition(".")
    value = optional(record, item, dict, {}).get(key)
    return None if value is None or isinstance(value, (dict, list, bool)) else str(value)


def _time(event: ChannelEvent, record: dict[str, Any]) -> str:
    """The item's own time (its timestamp, else the receipt's watermark), else the event's."""
    try:
        moment = _moment(required(record, "messaging", dict))
    except ValueError as error:
        raise AdapterError(f"data.messaging.{error}") from None
    return event.time if moment is None else iso(moment)


FORMAT = Format(
    id=FORMAT_ID,
    split=split,
    adapt=adapt,
    media_types=("application/json",),
    verify=verify,
    handshake=handshake,
)
