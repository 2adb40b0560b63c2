"""Genesys Cloud conversations: analytics conversation detail records and the conversation detail
events Genesys Cloud publishes to Amazon EventBridge.

Both kinds of record describe the same interaction, keyed by the conversationId:

- An event (EventBridge: `detail-type` v2.detail.events.conversation.{id}.<step>, the notification
  in `detail`, the event itself in `detail.eventBody`; or the bare notification, `topicName` and
  `eventBody`) tells one step of the conversation while it is under way: customer.start/.end,
  acd.start/.end, user.start/.end, acw. Each contributes what it knows (the customer's address,
  the queue, the agent, the wrap-up code) to an interaction that stays `inProgress`.
- A detail record (the analytics API's conversation details query or job: one conversation, or
  `{"conversations": [...]}`) describes the whole conversation: participants by purpose, their
  sessions, segments and metrics. Once it has a conversationEnd it completes the interaction, with
  the handling figures.

Every record contributes (storage.changes: contribute), so the interaction is the same whatever
order they arrive in. What records disagree on, the newest decides, and a detail record is newer
than every event it summarises: its time is the last microsecond of the latest millisecond it
records (Genesys times are whole milliseconds, so it outranks the events of that millisecond, and
the microseconds the store adds to a version for each late record, never an event of a later
millisecond). Events put nothing in arrays that a detail record writes differently: agents are
party references by id alone (their names ride in `call.agentNames`), and wrap-up notes become
notes from the detail record only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ingest.adapters.common import AdapterError, interaction, note, optional, party, required, timestamp
from ingest.formats import (
    MAX_RECORDS,
    Format,
    FormatError,
    IdentifierKind,
    Record,
    contribute,
    external_id,
    identifier,
    record_of,
)
from schemas.channel_event import ChannelEvent
from schemas.common import MAX_DEPTH, deeper_than, parse_date_time
from storage.changes import Change

TOPIC_PREFIX = "v2.detail.events.conversation."

# What each event topic's step tells (the last part of its topic), for the description.
STEPS = {
    "customer.start": "customer connected",
    "customer.end": "customer disconnected",
    "acd.start": "waiting in queue",
    "acd.end": "left the queue",
    "user.start": "offered to an agent",
    "user.end": "agent disconnected",
    "acw": "after-call work done",
}

# Genesys media types (lower case in detail records, upper case in events) and their channels.
MEDIA = {
    "voice": ("voice", "Call"),
    "callback": ("voice", "Callback"),
    "video": ("voice", "Video call"),
    "chat": ("chat", "Chat"),
    "email": ("email", "Email"),
    "message": ("messaging", "Message"),
    "cobrowse": ("web", "Co-browse session"),
    "screenshare": ("web", "Screen share"),
}
# A message conversation's messageType, where it is not SMS-like messaging (the default).
MESSAGE_CHANNELS = {"facebook": "social", "instagram": "social", "twitter": "social", "webmessaging": "chat"}
TYPE_NAMES = {
    "voice": "VoiceCallInteraction",
    "chat": "ChatInteraction",
    "email": "EmailInteraction",
    "messaging": "MessagingInteraction",
    "social": "SocialMessageInteraction",
    "web": "WebSessionInteraction",
}
# How the address of a message conversation names the customer, by messageType; any other
# messageType (open, webmessaging, apple...) gives a platform identifier of scheme genesys-<type>.
MESSAGE_ADDRESSES: dict[str, tuple[IdentifierKind, str | None]] = {
    "sms": ("phone", None),
    "whatsapp": ("phone", None),
    "facebook": ("platform", "messenger-psid"),
    "instagram": ("platform", "instagram-id"),
    "twitter": ("platform", "twitter-id"),
    "line": ("platform", "line-user-id"),
}
EXTERNAL_CONTACT = "genesys-external-contact"
DIRECTIONS = {"inbound": "inbound", "outbound": "outbound"}
AGENT_PURPOSES = ("agent", "user")  # `user`: a user reached without a queue, who handles it too
# Segments in which an agent handles the conversation (not merely alerted: a call not answered
# makes no agent of that user).
HANDLING_SEGMENTS = ("interact", "hold", "wrapup")
# Session metrics (milliseconds) summed over the conversation, and where they go in `call`.
FIGURES = {
    "tTalk": "talkSeconds",
    "tHeld": "holdSeconds",
    "tAcw": "afterCallWorkSeconds",
    "tHandle": "handlingSeconds",
    "tAcd": "waitSeconds",
}
TRANSFERS = "nTransferred"
_LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


# -- split -------------------------------------------------------------------------------------


def split(body: bytes, media_type: str) -> list[Record]:
    """The records of one delivery: an EventBridge event, a notification, a detail record, the
    details query's or job's answer (`conversations`), or an array of any of them (a file)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise FormatError(f"not JSON: {error}") from None
    if isinstance(document, list):
        items, place = document, "body"
    elif isinstance(document, dict) and "conversationId" not in document and "conversations" in document:
        items, place = document["conversations"] or [], "conversations"
        if not isinstance(items, list):
            raise FormatError(f"conversations: expected an array, got {type(items).__name__}")
    else:
        return [_record(document, "body")]
    if len(items) > MAX_RECORDS:
        raise FormatError(f"{place}: {len(items)} records, more than the {MAX_RECORDS} a delivery may carry")
    return [_record(item, f"{place}[{index}]") for index, item in enumerate(items)]


def _record(item: Any, place: str) -> Record:
    if not isinstance(item, dict):
        raise FormatError(f"{place}: expected an object, got {type(item).__name__}")
    if deeper_than(item, MAX_DEPTH):
        raise FormatError(f"{place}: nests more than {MAX_DEPTH} levels of objects and arrays")
    if "detail" in item or "eventBody" in item:
        return _event_record(item, place)
    if "conversationId" in item:
        return _detail_record(item, place)
    raise FormatError(f"{place}: neither a conversation detail record (conversationId) nor an event (detail.eventBody)")


def _event_record(item: dict[str, Any], place: str) -> Record:
    prefix = _body_path(item)
    body = _lookup(item, prefix)
    if not isinstance(body, dict):
        raise FormatError(f"{place}.{prefix}: expected an object, got {type(body).__name__}")
    conversation_id = body.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise FormatError(f"{place}.{prefix}.conversationId: missing (not a conversation event)")
    time = _event_time(body.get("eventTime"))
    if time is None:
        raise FormatError(f"{place}.{prefix}.eventTime: expected milliseconds since the epoch")
    step = _step(item) or "?"
    who = body.get("participantId") if isinstance(body.get("participantId"), str) else "-"
    return Record(f"{conversation_id}/{step}/{who}@{body['eventTime']}", time, item)


def _detail_record(item: dict[str, Any], place: str) -> Record:
    conversation_id = item["conversationId"]
    if not isinstance(conversation_id, str) or not conversation_id:
        raise FormatError(f"{place}.conversationId: expected a non-empty string")
    latest = _latest_instant(item)
    if latest is None:  # no time at all: the delivery's; adapt names the missing conversationStart
        return Record(f"{conversation_id}@undated", None, item)
    # the last microsecond of its latest millisecond: it outranks the events it summarises
    moment = latest[0]
    time = moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000 + 999).isoformat()
    return Record(f"{conversation_id}@{time}", time, item)


# -- adapt -------------------------------------------------------------------------------------


def adapt(event: ChannelEvent) -> Change:
    record = record_of(event)
    if "detail" in record or "eventBody" in record:
        return _event_change(event, record)
    return _detail_change(event, record)


def _event_change(event: ChannelEvent, record: dict[str, Any]) -> Change:
    """One step of a conversation under way."""
    at = _body_path(record) + "."
    step = _step(record)
    if step not in STEPS:
        topic = optional(record, "detail.topicName") or optional(record, "topicName") or optional(record, "detail-type")
        raise AdapterError(
            f"data.detail-type: {topic!r} is not a conversation event this format reads ({', '.join(STEPS)})"
        )
    conversation_id = required(record, at + "conversationId")
    when = _event_time(required(record, at + "eventTime", int))
    if when is None:
        raise AdapterError(f"data.{at}eventTime: out of range")
    media, message_type = _media(record, at)
    channel, media_name = _channel(media, message_type)
    direction = _direction(record, at + "direction")
    role = step.split(".")[0]
    customer_ids: list[dict[str, Any]] = []
    if role == "customer":
        customer_ids = _addresses(record, at, media, message_type, direction)
        contact = optional(record, at + "externalContactId")
        customer_ids += [identifier("platform", contact, EXTERNAL_CONTACT)] if contact else []
    user = _handling_user(record, at, step)
    queue = optional(record, at + "queueId")
    wrap_up = optional(record, at + "wrapupCode") if step == "acw" else None
    document = interaction(
        type_name=TYPE_NAMES[channel],
        kind=channel,
        reason=_reason(media_name, wrap_up, queue),
        direction=direction,
        status="inProgress",
        description=f"{media_name} conversation in progress: {STEPS[step]}",
        start=when,
        end=None,
        parties=[party(user, "agent", "PartyRole")] if user else [],
        externalIdentifier=[external_id(conversation_id, event, "conversation")],
        customerIdentifier=_unique(customer_ids) or None,
        call={
            "conversationId": conversation_id,
            "mediaType": media,
            "messageType": message_type,
            "provider": optional(record, at + "provider"),
            "queue": queue,
            "queues": [queue] if queue else None,
            "wrapUpCode": wrap_up,
            "wrapUpNote": optional(record, at + "wrapupNotes") if step == "acw" else None,
            "disconnectType": _lower(optional(record, at + "disconnectType")) if step == "customer.end" else None,
        },
    )
    return contribute(event, conversation_id, document)


def _detail_change(event: ChannelEvent, record: dict[str, Any]) -> Change:
    """The whole conversation as analytics recorded it: completed once it has a conversationEnd."""
    conversation_id = required(record, "conversationId")
    start = timestamp(record, "conversationStart")
    ended = timestamp(record, "conversationEnd", needed=False) is not None
    participants = _objects(record, "participants")
    direction = _conversation_direction(record, participants)
    customer = _customer(record, participants, direction)
    primary = _primary_session(record, participants, customer)
    if primary is None:
        raise AdapterError("data.participants: no participant has a session (its mediaType gives the channel)")
    media, message_type = _media(record, primary + ".")
    channel, media_name = _channel(media, message_type)

    customer_ids: list[dict[str, Any]] = []
    disconnect_type = None
    if customer is not None:
        for session in _sessions(record, customer):
            session_media, session_type = _media(record, session + ".")
            session_direction = _direction(record, session + ".direction", direction)
            customer_ids += _addresses(record, session + ".", session_media, session_type, session_direction)
            for segment in _objects(record, session + ".segments"):
                disconnect_type = _lower(optional(record, segment + ".disconnectType")) or disconnect_type
        contact = optional(record, customer + ".externalContactId")
        customer_ids += [identifier("platform", contact, EXTERNAL_CONTACT)] if contact else []

    agents: dict[str, str | None] = {}
    queues: dict[str, str | None] = {}
    wrap_ups: list[tuple[str | None, str | None, str, str | None]] = []  # code, note, author, date
    ivr_seconds = 0.0
    transfer_targets = []
    for participant in participants:
        purpose = _lower(optional(record, participant + ".purpose"))
        name = optional(record, participant + ".participantName")
        user = optional(record, participant + ".userId")
        if purpose == "external" and participant != customer:
            transfer_targets.append({"name": name, "address": _external_address(record, participant)})
        for session in _sessions(record, participant):
            for segment in _objects(record, session + ".segments"):
                queue = optional(record, segment + ".queueId")
                if purpose == "acd" and queue:
                    queues.pop(queue, None)  # re-entered: it moves to the end, the latest queue
                    queues[queue] = name  # an acd participant is named after its queue
                elif purpose == "ivr":
                    ivr_seconds += _duration(record, segment)
                elif purpose in AGENT_PURPOSES and user:
                    if _lower(optional(record, segment + ".segmentType")) in HANDLING_SEGMENTS:
                        agents[user] = agents.get(user) or name
                    code = optional(record, segment + ".wrapUpCode")
                    text = optional(record, segment + ".wrapUpNote")
                    if code or text:
                        wrap_ups.append((code, text, user, _instant(record, segment + ".segmentEnd")))
    totals = _metric_totals(record, participants)
    figures: dict[str, Any] = {key: round(totals[name] / 1000) for name, key in FIGURES.items() if name in totals}

    queue = next(reversed(queues), None)
    queue_name = queues[queue] if queue else None
    wrap_up = next((code for code, _, _, _ in reversed(wrap_ups) if code), None)
    end = _latest_instant(record) if ended else None
    handled = f", handled in {figures['handlingSeconds']} s" if "handlingSeconds" in figures else ""
    document = interaction(
        type_name=TYPE_NAMES[channel],
        kind=channel,
        reason=_reason(media_name, wrap_up, queue_name or queue),
        direction=direction,
        status="completed" if ended else "inProgress",
        description=f"{media_name} conversation ended{handled}" if ended else f"{media_name} conversation in progress",
        start=start,
        end=end[1] if end else None,
        parties=[party(user, "agent", "PartyRole") for user in agents],
        notes=[n for _, text, author, date in wrap_ups for n in note(text, author, date)],
        externalIdentifier=[external_id(conversation_id, event, "conversation")],
        customerIdentifier=_unique(customer_ids) or None,
        call={
            "conversationId": conversation_id,
            "mediaType": media,
            "messageType": message_type,
            "provider": optional(record, primary + ".provider"),
            "customerName": optional(record, customer + ".participantName") if customer else None,
            "queue": queue,
            "queueName": queue_name,
            "queues": list(queues) or None,
            "agentNames": {user: name for user, name in agents.items() if name} or None,
            **figures,
            "transfers": round(totals[TRANSFERS]) if TRANSFERS in totals else None,
            "ivrSeconds": round(ivr_seconds) if ivr_seconds else None,
            "wrapUpCode": wrap_up,
            "wrapUpNote": next((text for _, text, _, _ in reversed(wrap_ups) if text), None),
            "disconnectType": disconnect_type,
            "transferTargets": transfer_targets or None,
        },
    )
    return contribute(event, conversation_id, document)


# -- reading records ---------------------------------------------------------------------------


def _lookup(data: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`participants.0.sessions`), None when a step is not there."""
    value: Any = data
    for key in path.split("."):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            value = value.get(key) if isinstance(value, dict) else None
    return value


def _body_path(record: dict[str, Any]) -> str:
    """Where an event's body lies: in EventBridge's `detail`, or in the bare notification."""
    return "detail.eventBody" if "detail" in record else "eventBody"


def _step(record: dict[str, Any]) -> str | None:
    """`customer.start` of the topic v2.detail.events.conversation.<id>.customer.start."""
    topic = _lookup(record, "detail.topicName") or record.get("topicName") or record.get("detail-type")
    if not isinstance(topic, str) or not topic.startswith(TOPIC_PREFIX):
        return None
    _, _, step = topic.removeprefix(TOPIC_PREFIX).partition(".")
    return step or None


def _event_time(value: Any) -> str | None:
    """An event's eventTime (milliseconds since the epoch) as Genesys writes times elsewhere."""
    if type(value) is not int or not 0 <= value <= _LATEST_MS:
        return None
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value % 1000:03d}Z"


def _instant(data: dict[str, Any], path: str) -> str | None:
    """A date-time of a segment or metric, or None when absent or not ISO 8601: published records
    carry some such (`2021-04-2T15:30:51.418Z`), and figures do not hang on them."""
    value = _lookup(data, path)
    return value if isinstance(value, str) and parse_date_time(value) is not None else None


def _latest_instant(conversation: dict[str, Any]) -> tuple[datetime, str] | None:
    """The latest instant a detail record holds (its end, segments' ends, metrics' emit dates), as
    a moment and as written; None when it holds none."""
    texts = [conversation.get("conversationStart"), conversation.get("conversationEnd")]
    for participant in _dicts(conversation.get("participants")):
        for session in _dicts(participant.get("sessions")):
            texts += [s.get(k) for s in _dicts(session.get("segments")) for k in ("segmentStart", "segmentEnd")]
            texts += [m.get("emitDate") for m in _dicts(session.get("metrics"))]
    moments = [(parse_date_time(t), t) for t in texts if isinstance(t, str)]
    known = [(moment, text) for moment, text in moments if moment is not None]
    return max(known, key=lambda pair: pair[0]) if known else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _objects(record: dict[str, Any], path: str) -> list[str]:
    """The paths of the objects in the optional array at `path` (errors name the field)."""
    items = optional(record, path, list, [])
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise AdapterError(f"data.{path}.{index}: expected an object, got {type(item).__name__}")
    return [f"{path}.{index}" for index in range(len(items))]


def _sessions(record: dict[str, Any], participant: str) -> list[str]:
    return _objects(record, participant + ".sessions")


def _handling_user(record: dict[str, Any], at: str, step: str) -> str | None:
    """The agent an event shows handling the conversation: the one who answered it (acd.end), who
    interacted with it (user.end) or who wrapped it up (acw); user.start is only an offer."""
    user: str | None = None
    if step == "acd.end":
        user = optional(record, at + "answeredUserId")
    elif step == "acw" or (step == "user.end" and optional(record, at + "interactingDurationMs", int, 0) > 0):
        user = optional(record, at + "userId")
    return user


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _unique(identifiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each identifier once, in order (linear, however many a record lists)."""
    first: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for found in identifiers:
        first.setdefault(tuple(sorted(found.items())), found)
    return list(first.values())


def _media(record: dict[str, Any], at: str) -> tuple[str, str | None]:
    """A session's or event's media type and, for messages, its messageType (both lower case)."""
    media = required(record, at + "mediaType").lower()
    if media not in MEDIA:
        raise AdapterError(f"data.{at}mediaType: unknown value {media!r}; expected one of {', '.join(MEDIA)}")
    return media, _lower(optional(record, at + "messageType")) if media == "message" else None


def _channel(media: str, message_type: str | None) -> tuple[str, str]:
    channel, name = MEDIA[media]
    return MESSAGE_CHANNELS.get(message_type or "", channel), name


def _direction(record: dict[str, Any], path: str, default: str | None = None) -> str:
    value = optional(record, path)
    if value is None and default is not None:
        return default
    direction = DIRECTIONS.get(required(record, path).lower())
    if direction is None:
        raise AdapterError(f"data.{path}: unknown value {value!r}; expected inbound or outbound")
    return direction


def _conversation_direction(record: dict[str, Any], participants: list[str]) -> str:
    """originatingDirection, else the direction of the first session that has one."""
    if optional(record, "originatingDirection") is None:
        for participant in participants:
            for session in _sessions(record, participant):
                if optional(record, session + ".direction") is not None:
                    return _direction(record, session + ".direction")
    return _direction(record, "originatingDirection")


def _customer(record: dict[str, Any], participants: list[str], direction: str) -> str | None:
    """The customer's participant: purpose customer; in a call an agent places, the external party."""
    purposes = [(_lower(optional(record, p + ".purpose")), p) for p in participants]
    found = next((p for purpose, p in purposes if purpose == "customer"), None)
    if found is None and direction == "outbound":
        found = next((p for purpose, p in purposes if purpose == "external"), None)
    return found


def _primary_session(record: dict[str, Any], participants: list[str], customer: str | None) -> str | None:
    """The session whose media is the conversation's: the customer's first, else the first one."""
    for participant in ([customer] if customer else []) + participants:
        sessions = _sessions(record, participant)
        if sessions:
            return sessions[0]
    return None


def _addresses(
    record: dict[str, Any], at: str, media: str, message_type: str | None, direction: str
) -> list[dict[str, Any]]:
    """How one session (or event) names the customer: the calling side of an inbound one, the
    called side of an outbound one; as Genesys wrote them."""
    inbound = direction == "inbound"
    found: list[dict[str, Any]] = []
    if media in ("voice", "callback", "video"):
        number = optional(record, at + ("ani" if inbound else "dnis"))
        found += [identifier("phone", number)] if number else []
        callback_numbers: list[Any] = optional(record, at + "callbackNumbers", list, [])
        found += [identifier("phone", n) for n in callback_numbers if isinstance(n, str) and n]
    elif media in ("email", "message"):
        address = optional(record, at + ("addressFrom" if inbound else "addressTo"))
        if address and media == "email":
            found.append(identifier("email", address))
        elif address:
            kind, scheme = MESSAGE_ADDRESSES.get(
                message_type or "", ("platform", f"genesys-{message_type or 'message'}")
            )
            found.append(identifier(kind, address, scheme))
    return found


def _external_address(record: dict[str, Any], participant: str) -> str | None:
    """Where a transfer to an external party went: its first session's dialled number or address."""
    for session in _sessions(record, participant):
        address = optional(record, session + ".dnis") or optional(record, session + ".addressTo")
        if address:
            return str(address)
    return None


def _duration(record: dict[str, Any], segment: str) -> float:
    began, ended = _instant(record, segment + ".segmentStart"), _instant(record, segment + ".segmentEnd")
    if began is None or ended is None:
        return 0.0
    start, end = parse_date_time(began), parse_date_time(ended)
    assert start is not None and end is not None, "checked by _instant"
    return max((end - start).total_seconds(), 0.0)


def _metric_totals(record: dict[str, Any], participants: list[str]) -> dict[str, float]:
    """The handling metrics (milliseconds; nTransferred a count) summed over every session."""
    totals: dict[str, float] = {}
    for participant in participants:
        for session in _sessions(record, participant):
            for metric in _objects(record, session + ".metrics"):
                name = optional(record, metric + ".name")
                if name in FIGURES or name == TRANSFERS:
                    value = required(record, metric + ".value", float)
                    if value < 0:
                        raise AdapterError(f"data.{metric}.value: must not be negative")
                    totals[name] = totals.get(name, 0) + value
    return totals


def _reason(media_name: str, wrap_up: str | None, queue: str | None) -> str:
    """The agent's wrap-up code when there is one (the only classification a record carries), else
    the queue the customer asked for."""
    if wrap_up:
        return f"Wrap-up code {wrap_up}"
    return f"{media_name} to queue {queue}" if queue else f"{media_name} conversation"


FORMAT = Format(id="genesys-cloud", split=split, adapt=adapt, media_types=("application/json",))
