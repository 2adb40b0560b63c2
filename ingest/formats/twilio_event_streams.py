"""Twilio Event Streams, webhook sink (`twilio-event-streams`): a JSON array of CloudEvents
(structured mode), each one record: native id the CloudEvent's `id` (Twilio's event sid), time the
event's `data.timestamp` (else the CloudEvent's `time`, else when the delivery was received).

Mapped event types, to the same interactions as the `twilio` format (key MessageSid or CallSid,
same document: twilio.message_change, twilio.call_change):
- `com.twilio.messaging.inbound-message.received`: data {messageSid, timestamp, accountSid, from,
  to, body, numMedia, messagingServiceSid, ...}: an inbound message;
- `com.twilio.messaging.message.<status>` (queued, sent, delivered, undelivered, failed, read, and
  Twilio's other message statuses): data {messageSid, timestamp, from, to, messageStatus, errorCode,
  body, messagingServiceSid, numberOfSegments, ...}: a status of an outbound message;
- `com.twilio.voice.status-callback.call.<step>` (initiated, ringing, answered, completed; also
  under the older `com.twilio.voice.webhook.status-callback.call.`): data {sid, timestamp, request
  {parameters {CallSid, CallStatus, Direction, From, To, CallDuration, ParentCallSid, ...}}}: the
  call's status callback as Twilio posted it. Parameter names are read as Twilio writes them in
  status callbacks (CallStatus) or in snake case (call_status) or camel case (callStatus).

Any other type (Verify, Conversations, Studio, ...) is an AdapterError naming it: subscribe the sink
to the mapped types only. The status of a message follows the rule of the `twilio` format (only a
status that settles a message sets it: twilio.py's docstring); a call's records take Twilio's time.

Signed like Twilio's webhooks: the sink's URL gets `bodySHA256=<hex SHA-256 of the body>` and
X-Twilio-Signature signs that URL (twilio.signed_json).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ingest.adapters.common import AdapterError
from ingest.formats import MAX_RECORDS, Format, FormatError, Record, record_of, twilio
from schemas.channel_event import ChannelEvent
from schemas.common import deeper_than, parse_date_time
from storage.changes import Change

MEDIA_TYPES = ("application/json", "application/cloudevents-batch+json", "application/cloudevents+json")
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_NESTING = 32  # Twilio's events nest four or five levels

INBOUND_MESSAGE = "com.twilio.messaging.inbound-message.received"
MESSAGE_PREFIX = "com.twilio.messaging.message."
CALL_PREFIXES = ("com.twilio.voice.status-callback.call.", "com.twilio.voice.webhook.status-callback.call.")
CALL_STEPS = {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress", "completed": "completed"}
ENDED_CALL_STATUSES = ("completed", "busy", "no-answer", "canceled", "failed")
PARAMETERS = "request.parameters."


# -- split --------------------------------------------------------------------------------------


def split(body: bytes, media_type: str) -> list[Record]:
    """Each CloudEvent of a delivery (an array of them, or one)."""
    if media_type not in MEDIA_TYPES:
        raise FormatError(f"Event Streams delivers {', '.join(MEDIA_TYPES)}, not {media_type!r}")
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"a delivery is at most {MAX_BODY_BYTES} bytes")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}") from None
    if deeper_than(document, MAX_NESTING):
        raise FormatError(f"a delivery nests at most {MAX_NESTING} levels of objects and arrays")
    events = document if isinstance(document, list) else [document]
    if not events:
        raise FormatError("an empty array: no events")
    if len(events) > MAX_RECORDS:
        raise FormatError(f"more than {MAX_RECORDS} events in one delivery")
    return [_record(cloud_event, index) for index, cloud_event in enumerate(events)]


def _record(cloud_event: Any, index: int) -> Record:
    where = f"event {index}"
    if not isinstance(cloud_event, dict):
        raise FormatError(f"{where}: not a CloudEvent (an object)")
    for name in ("id", "type"):
        value = cloud_event.get(name)
        if not isinstance(value, str) or not value.strip():
            raise FormatError(f"{where}: {name}: missing or not a string")
    if not isinstance(cloud_event.get("data"), dict):
        raise FormatError(f"{where}: data: missing or not an object")
    return Record(cloud_event["id"], _time(cloud_event, where), cloud_event)


def _time(cloud_event: dict[str, Any], where: str) -> str | None:
    """The event's own time: `data.timestamp`, else the CloudEvent's `time`, else none."""
    for path, value in (("data.timestamp", cloud_event["data"].get("timestamp")), ("time", cloud_event.get("time"))):
        if value is None:
            continue
        moment = parse_date_time(value) if isinstance(value, str) else None
        if moment is None:
            raise FormatError(f"{where}: {path}: not an ISO 8601 date-time: {str(value)[:64]!r}")
        return moment.isoformat()
    return None


# -- adapt --------------------------------------------------------------------------------------


def adapt(event: ChannelEvent) -> Change:
    cloud_event = record_of(event)
    kind = cloud_event.get("type")
    data = cloud_event.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise AdapterError("data.type, data.data: missing (not a CloudEvent of Event Streams)")
    if kind == INBOUND_MESSAGE:
        return _message(event, data, "received")
    if kind.startswith(MESSAGE_PREFIX):
        status = kind.removeprefix(MESSAGE_PREFIX).replace("-", "_")
        if status not in twilio.MESSAGE_STATUSES or status == "received":
            raise AdapterError(f"type: {kind!r} is not a message status event this format knows")
        return _message(event, data, status)
    for prefix in CALL_PREFIXES:
        if kind.startswith(prefix):
            step = kind.removeprefix(prefix)
            if step not in CALL_STEPS:
                raise AdapterError(f"type: {kind!r} is not a call status event this format knows")
            return _call(event, data, step)
    raise AdapterError(
        f"type: {kind!r} is not mapped: this format takes {INBOUND_MESSAGE}, {MESSAGE_PREFIX}<status> and "
        f"{CALL_PREFIXES[0]}<initiated|ringing|answered|completed> events"
    )


def _message(event: ChannelEvent, data: dict[str, Any], status: str) -> Change:
    return twilio.message_change(
        event,
        sid=twilio.needed(data, "messageSid"),
        status=status,
        sender=twilio.needed(data, "from"),
        recipient=twilio.needed(data, "to"),
        body=twilio.text(data, "body"),
        error_code=twilio.text(data, "errorCode"),
        details={
            "accountSid": twilio.text(data, "accountSid"),
            "messagingServiceSid": twilio.text(data, "messagingServiceSid"),
            "numMedia": twilio.number(data, "numMedia"),
            "numSegments": twilio.number(data, "numberOfSegments"),
        },
    )


def _call(event: ChannelEvent, data: dict[str, Any], step: str) -> Change:
    params = _parameters(data)
    status = CALL_STEPS[step]
    if step == "completed" and params.get("CallStatus"):
        # how the call ended: completed, busy, no-answer, canceled or failed
        status = twilio.known(
            twilio.needed(params, "CallStatus", PARAMETERS), "CallStatus", twilio.CALL_STATUSES, PARAMETERS
        )
        if status not in ENDED_CALL_STATUSES:
            raise AdapterError(f"data.{PARAMETERS}CallStatus: {status!r} in a call.completed event")
    direction = twilio.needed(params, "Direction", PARAMETERS)
    return twilio.call_change(
        event,
        sid=twilio.text(data, "sid") or twilio.needed(params, "CallSid", PARAMETERS),
        status=status,
        direction=twilio.known(direction, "Direction", twilio.CALL_DIRECTIONS, PARAMETERS),
        caller=twilio.text(params, "From", PARAMETERS) or twilio.text(params, "Caller", PARAMETERS),
        called=twilio.text(params, "To", PARAMETERS) or twilio.text(params, "Called", PARAMETERS),
        duration=twilio.number(params, "CallDuration", PARAMETERS),
        parent_sid=twilio.text(params, "ParentCallSid", PARAMETERS),
        details={
            "accountSid": twilio.text(params, "AccountSid", PARAMETERS),
            "callerName": twilio.text(params, "CallerName", PARAMETERS),
            "forwardedFrom": twilio.text(params, "ForwardedFrom", PARAMETERS),
            "answeredBy": twilio.text(params, "AnsweredBy", PARAMETERS),
            "sipResponseCode": twilio.text(params, "SipResponseCode", PARAMETERS),
        },
    )


def _parameters(data: dict[str, Any]) -> dict[str, Any]:
    """The status callback's parameters, by the names Twilio gives them in status callbacks
    (CallStatus), whichever way the event spells them (CallStatus, call_status, callStatus)."""
    request = data.get("request")
    given = request.get("parameters") if isinstance(request, dict) else None
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise AdapterError(f"data.{PARAMETERS[:-1]}: expected an object, got {type(given).__name__}")
    parameters: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(name, str):
            parameters.setdefault(_pascal(name), value)
    return parameters


def _pascal(name: str) -> str:
    """`call_status` and `callStatus` -> `CallStatus` (Twilio's own names pass unchanged)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"_+", name) if part)


FORMAT = Format(
    id="twilio-event-streams",
    split=split,
    adapt=adapt,
    media_types=MEDIA_TYPES,
    verify=twilio.signed_json,
)
