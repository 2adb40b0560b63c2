"""Twilio Programmable Messaging (SMS, MMS, WhatsApp) and Voice webhooks: form posts
(`application/x-www-form-urlencoded`) signed with `X-Twilio-Signature`.

One delivery is one record: the form's fields, each name with its first value.

- A message (MessageSid, alias SmsMessageSid/SmsSid) is one `MessagingInteraction` keyed by its
  MessageSid, whatever tells of it: the incoming message webhook (SmsStatus `received`, From, To,
  Body, NumMedia, MediaUrlN/MediaContentTypeN; WhatsApp adds ProfileName, WaId) and the status
  callbacks of an outbound message (MessageStatus queued|sent|delivered|undelivered|failed|read,
  ErrorCode). Each contributes its part (storage.changes: contribute).
- A call (CallSid) is one `VoiceCallInteraction` keyed by its CallSid: the incoming call webhook
  (CallStatus ringing, Direction, From, To, CallerName, ForwardedFrom) and the call's status
  callbacks (CallStatus initiated|ringing|in-progress|completed|busy|no-answer|failed|canceled,
  CallDuration, Timestamp), and the action callback of a <Dial> (DialCallSid).

Order. Messaging webhooks carry no time: a record's time is when the hub received it, and Twilio
does not promise to deliver callbacks in the order of the statuses. So a message's status is not
taken from whichever callback came last: each record adds its status to `message.statusHistory`
(keyed by status, so records merge in any order), and only the statuses that settle a message set
the interaction's `status`: received, delivered, read, partially_delivered -> completed;
failed, undelivered -> failed; canceled -> cancelled. Statuses on the way (accepted, scheduled,
queued, sending, sent, receiving) set none, so a late `sent` never undoes `delivered`. A message
seen only on its way (e.g. a carrier that reports `sent` and never a delivery) has no status; its
`statusHistory` shows how far it got. Voice status callbacks carry `Timestamp` (RFC 2822): their
records take Twilio's time, so a call's later status wins because it happened later.

`message_change` and `call_change` build the interaction from fields already read; the
twilio-event-streams format (twilio_event_streams.py) uses them too, so both give the same
interactions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ingest.adapters.common import AdapterError, interaction, note
from ingest.formats import (
    Format,
    FormatError,
    Record,
    SignedRequest,
    contribute,
    external_id,
    identifier,
    record_of,
)
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.common import parse_date_time
from storage.changes import Change

FORM = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 1024 * 1024
MAX_FIELDS = 500
MAX_MEDIA = 10  # Twilio's own limit of media per message
EMPTY_TWIML = ("text/xml", b'<?xml version="1.0" encoding="UTF-8"?><Response/>')

MESSAGE_SIDS = ("MessageSid", "SmsMessageSid", "SmsSid")

# Twilio's message status -> the interaction status it settles, or None for a status on the way.
MESSAGE_STATUSES: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": None,
    "receiving": None,
    "received": "completed",
    "delivered": "completed",
    "read": "completed",
    "partially_delivered": "completed",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "cancelled",
}
INBOUND_MESSAGE_STATUSES = frozenset({"receiving", "received"})

# Twilio's call status -> the interaction status; a call that ended has one of the last five.
CALL_STATUSES = {
    "queued": "inProgress",
    "initiated": "inProgress",
    "ringing": "inProgress",
    "in-progress": "inProgress",
    "completed": "completed",
    "busy": "cancelled",
    "no-answer": "cancelled",
    "canceled": "cancelled",
    "failed": "failed",
}
CALL_DIRECTIONS = {
    "inbound": "inbound",
    "outbound-api": "outbound",
    "outbound-dial": "outbound",
    "trunking-originating": "inbound",  # SIP trunking: from the public network into the customer's PBX
    "trunking-terminating": "outbound",  # SIP trunking: from the customer's PBX out
}

# Caller ID Twilio gives when there is none (the words spelt on a keypad): never a customer's.
NO_CALLER_ID = frozenset({"+266696687", "+86282452253", "+7378742833", "+2562533", "+8656696"})


# -- split --------------------------------------------------------------------------------------


def split(body: bytes, media_type: str) -> list[Record]:
    """The one record a webhook carries: its form fields (first value of each name)."""
    fields = form_fields(body, media_type)
    message_sid = _first_present(fields, MESSAGE_SIDS)
    if message_sid is not None:
        status = fields.get("MessageStatus") or fields.get("SmsStatus")
        if not status:
            raise FormatError("a message webhook without MessageStatus or SmsStatus")
        return [Record(f"{message_sid}@{status}", None, fields)]
    call_sid = fields.get("CallSid")
    if call_sid:
        status = fields.get("CallStatus") or ""
        time = rfc2822_time(fields["Timestamp"], "Timestamp") if fields.get("Timestamp") else None
        # a record without Twilio's time is told apart by its content (a retry repeats it exactly)
        revision = time or "#" + _digest(fields)
        return [Record(f"{call_sid}@{status}@{revision}", time, fields)]
    raise FormatError("not a Twilio messaging or voice webhook: no MessageSid or CallSid")


def form_fields(body: bytes, media_type: str) -> dict[str, str]:
    """A bounded, strictly parsed form body as {name: first value}; FormatError naming the problem."""
    if media_type != FORM:
        raise FormatError(f"a Twilio webhook is {FORM}, not {media_type!r}")
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"a Twilio webhook is at most {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise FormatError("the form is not UTF-8") from None
    except ValueError as exc:  # a field without "=", or more than MAX_FIELDS fields
        raise FormatError(f"not a form body: {exc}") from None
    if not parsed:
        raise FormatError("the form is empty")
    return {name: values[0] for name, values in parsed.items()}


def rfc2822_time(text: str, name: str) -> str:
    """Twilio's RFC 2822 date (`Tue, 20 Nov 2026 10:00:00 +0000`) as ISO 8601 with an offset."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise FormatError(f"{name}: not an RFC 2822 date: {text[:64]!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _first_present(fields: Mapping[str, str], names: Sequence[str]) -> str | None:
    return next((fields[name] for name in names if fields.get(name)), None)


def _digest(fields: Mapping[str, str]) -> str:
    canonical = "&".join(f"{name}={fields[name]}" for name in sorted(fields))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# -- adapt --------------------------------------------------------------------------------------


def adapt(event: ChannelEvent) -> Change:
    record = record_of(event)
    message_sid = next((sid for name in MESSAGE_SIDS if (sid := text(record, name))), None)
    if message_sid is not None:
        return _message(event, record, message_sid)
    if record.get("CallSid"):
        return _call(event, record)
    raise AdapterError("data.MessageSid: missing (and no CallSid: neither a message nor a call)")


def _message(event: ChannelEvent, record: dict[str, Any], sid: str) -> Change:
    status_field = "MessageStatus" if record.get("MessageStatus") else "SmsStatus"
    status = known(needed(record, status_field), status_field, MESSAGE_STATUSES)
    media = []
    count = number(record, "NumMedia")
    for index in range(min(count or 0, MAX_MEDIA)):
        url = text(record, f"MediaUrl{index}")
        if url is not None:
            media.append((url, text(record, f"MediaContentType{index}")))
    return message_change(
        event,
        sid=sid,
        status=status,
        sender=needed(record, "From"),
        recipient=needed(record, "To"),
        body=text(record, "Body"),
        media=media,
        error_code=text(record, "ErrorCode"),
        whatsapp_id=text(record, "WaId"),
        replied_to=text(record, "OriginalRepliedMessageSid"),
        details={
            "accountSid": text(record, "AccountSid"),
            "messagingServiceSid": text(record, "MessagingServiceSid"),
            "numMedia": count,
            "numSegments": number(record, "NumSegments"),
            "profileName": text(record, "ProfileName"),
            "messageType": text(record, "MessageType"),
        },
    )


def _call(event: ChannelEvent, record: dict[str, Any]) -> Change:
    return call_change(
        event,
        sid=needed(record, "CallSid"),
        status=known(needed(record, "CallStatus"), "CallStatus", CALL_STATUSES),
        direction=known(needed(record, "Direction"), "Direction", CALL_DIRECTIONS),
        caller=text(record, "From") or text(record, "Caller"),
        called=text(record, "To") or text(record, "Called"),
        duration=number(record, "CallDuration"),
        parent_sid=text(record, "ParentCallSid"),
        dialled_sid=text(record, "DialCallSid"),
        details={
            "accountSid": text(record, "AccountSid"),
            "callerName": text(record, "CallerName"),
            "forwardedFrom": text(record, "ForwardedFrom"),
            "answeredBy": text(record, "AnsweredBy"),
            "dialCallStatus": text(record, "DialCallStatus"),
            "dialCallDurationSeconds": number(record, "DialCallDuration"),
            "sipResponseCode": text(record, "SipResponseCode"),
        },
    )


# -- reading fields (Twilio sends every field as a string, and blanks for what it does not know) --


def text(record: Mapping[str, Any], name: str, where: str = "") -> str | None:
    """A string field (a JSON integer is taken as its digits); a blank one is absent. `where`: the
    path to `record` in the event's data, for errors."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AdapterError(f"data.{where}{name}: expected a string, got {type(value).__name__}")
    return str(value)


def needed(record: Mapping[str, Any], name: str, where: str = "") -> str:
    """A string field that must be there."""
    value = text(record, name, where)
    if value is None:
        raise AdapterError(f"data.{where}{name}: missing")
    return value


def number(record: Mapping[str, Any], name: str, where: str = "") -> int | None:
    """A whole non-negative number, written as digits (form fields) or as a JSON integer."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    raise AdapterError(f"data.{where}{name}: expected a whole number, got {str(value)[:32]!r}")


def known(value: str, name: str, table: Mapping[str, Any], where: str = "") -> str:
    """`value` (lower case) if `table` knows it; AdapterError naming the field otherwise."""
    lowered = value.lower()
    if lowered not in table:
        raise AdapterError(f"data.{where}{name}: unknown value {value[:64]!r}; expected one of {', '.join(table)}")
    return lowered


# -- the interactions, shared with twilio-event-streams ----------------------------------------------


def message_change(
    event: ChannelEvent,
    *,
    sid: str,
    status: str,
    sender: str,
    recipient: str,
    body: str | None = None,
    media: Sequence[tuple[str, str | None]] = (),
    error_code: str | None = None,
    whatsapp_id: str | None = None,
    replied_to: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """This record's part of message `sid`: `status` one of MESSAGE_STATUSES, at the event's time."""
    inbound = status in INBOUND_MESSAGE_STATUSES
    customer = sender if inbound else recipient
    whatsapp = sender.startswith("whatsapp:") or recipient.startswith("whatsapp:")
    label = "WhatsApp message" if whatsapp else "Text message"
    settled = MESSAGE_STATUSES[status]
    at = event.time
    identifiers = customer_identifiers(customer)
    if whatsapp_id:
        identifiers.append(identifier("platform", whatsapp_id, "whatsapp-user-id"))
    document = interaction(
        type_name="MessagingInteraction",
        kind="messaging",
        reason=label,
        direction="inbound" if inbound else "outbound",
        status=settled or "",
        description=f"{label} from {_number(sender)}" if inbound else f"{label} to {_number(recipient)}",
        start=at,
        end=at if settled else None,
        parties=[],
        notes=note(body, _number(sender), None),
        attachment=[_attachment(index, url, kind) for index, (url, kind) in enumerate(media)] or None,
        interactionRelationship=[_related(event, replied_to, "followsUp")] if replied_to else None,
        externalIdentifier=[external_id(sid, event, "message")],
        customerIdentifier=identifiers,
        message={
            "messageSid": sid,
            "channel": "whatsapp" if whatsapp else "sms",
            "from": sender,
            "to": recipient,
            "body": body,
            **(details or {}),
            "statusHistory": {status: {"at": at, "errorCode": error_code}},
        },
    )
    if settled is None:
        del document["status"]  # a status on the way settles nothing (see the module's docstring)
    return contribute(event, sid, document)


def call_change(
    event: ChannelEvent,
    *,
    sid: str,
    status: str,
    direction: str,
    caller: str | None,
    called: str | None,
    duration: int | None = None,
    parent_sid: str | None = None,
    dialled_sid: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """This record's part of call `sid`: `status` one of CALL_STATUSES and `direction` one of
    CALL_DIRECTIONS, at the event's time."""
    inbound = CALL_DIRECTIONS[direction] == "inbound"
    customer = caller if inbound else called
    state = CALL_STATUSES[status]
    ended = state != "inProgress"
    at = event.time
    start = _before(at, duration) if ended and duration else at
    relationships = []
    if parent_sid:
        relationships.append(_related(event, parent_sid, "transferredFrom"))  # a leg dialled from that call
    if dialled_sid:
        relationships.append(_related(event, dialled_sid, "transferredTo"))  # the leg this call dialled
    description = f"Call from {_number(caller or 'an unknown number')} to {_number(called or 'an unknown number')}"
    if ended:
        description += f", {status}" + (f" after {duration} s" if duration is not None else "")
    document = interaction(
        type_name="VoiceCallInteraction",
        kind="voice",
        reason="Phone call",
        direction="inbound" if inbound else "outbound",
        status=state,
        description=description,
        start=start,
        end=at if ended else None,
        parties=[],
        interactionRelationship=relationships or None,
        externalIdentifier=[external_id(sid, event, "call")],
        customerIdentifier=customer_identifiers(customer) if customer else [],
        call={
            "callSid": sid,
            "direction": direction,
            "from": caller,
            "to": called,
            "parentCallSid": parent_sid,
            "dialCallSid": dialled_sid,
            "durationSeconds": duration if ended else None,
            "handlingSeconds": duration if ended else None,
            **(details or {}),
            "statusHistory": {status: at},
        },
    )
    return contribute(event, sid, document)


def customer_identifiers(address: str) -> list[dict[str, Any]]:
    """How Twilio named the customer: a phone number as written (WhatsApp's without its
    `whatsapp:` prefix, with scheme `whatsapp`), a SIP address or a Twilio Client identity."""
    if address.startswith("whatsapp:"):
        return [identifier("phone", address.removeprefix("whatsapp:"), "whatsapp")]
    if address.startswith("sip:"):
        return [identifier("platform", address, "sip")]
    if address.startswith("client:"):
        return [identifier("platform", address.removeprefix("client:"), "twilio-client")]
    if address in NO_CALLER_ID or not address.strip():
        return []
    return [identifier("phone", address)]


def _number(address: str) -> str:
    return address.removeprefix("whatsapp:")


def _attachment(index: int, url: str, media_type: str | None) -> dict[str, Any]:
    """A reference to media Twilio keeps (the hub never fetches it)."""
    reference = {"name": f"media {index}", "url": url, "mimeType": media_type}
    if media_type:
        reference["attachmentType"] = media_type.split("/", 1)[0]
    return {k: v for k, v in reference.items() if v is not None}


def _related(event: ChannelEvent, sid: str, kind: str) -> dict[str, Any]:
    return {"id": interaction_id(event.source, sid), "relationshipType": kind}


def _before(time: str, seconds: int) -> str:
    moment = parse_date_time(time)
    if moment is None:  # the event's time is checked by its model
        raise AdapterError(f"time: not an ISO 8601 date-time: {time!r}")
    return (moment - timedelta(seconds=seconds)).isoformat()


# -- X-Twilio-Signature ------------------------------------------------------------------------


def verify(request: SignedRequest, secret: str) -> bool:
    """Whether X-Twilio-Signature holds: Base64 HMAC-SHA1, keyed with the account's Auth Token, of
    the URL Twilio called followed by each POST field's name and value, names sorted (a repeated
    name's distinct values sorted too), as Twilio's own request validators compute it. A request
    whose URL carries `bodySHA256` (a JSON body) is signed over the URL alone, and the body must
    have that SHA-256."""
    if not secret:
        return False  # an empty Auth Token would be a key anyone can sign with
    query = parse_qs(urlsplit(request.url).query)
    if "bodySHA256" in query:
        return signed_json(request, secret)
    signature = request.headers.get("x-twilio-signature", "")
    params = request.form or _form_of(request)
    if not signature or params is None:
        return False
    return _signature_matches(secret, request.url, params, signature)


def signed_json(request: SignedRequest, secret: str) -> bool:
    """Whether a JSON request is Twilio's: its URL's `bodySHA256` is the body's SHA-256 and
    X-Twilio-Signature holds over the URL."""
    signature = request.headers.get("x-twilio-signature", "")
    hashes = parse_qs(urlsplit(request.url).query).get("bodySHA256", [])
    if not secret or not signature or len(hashes) != 1:
        return False
    body_hash = hashlib.sha256(request.body).hexdigest()
    if not hmac.compare_digest(body_hash.encode(), hashes[0].lower().encode()):
        return False
    return _signature_matches(secret, request.url, {}, signature)


def _form_of(request: SignedRequest) -> Mapping[str, list[str]] | None:
    """The fields of a form body the ingress did not decode; None when it cannot be one."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return {} if not request.body else None
    try:
        return parse_qs(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None


def _signature_matches(secret: str, url: str, params: Mapping[str, list[str]], signature: str) -> bool:
    # Twilio's validators accept the URL with and without its port: what Twilio signed depends on
    # how the URL was configured
    given = signature.strip().encode()
    return any(
        hmac.compare_digest(_signature(secret, candidate, params).encode(), given) for candidate in _url_forms(url)
    )


def _signature(secret: str, url: str, params: Mapping[str, list[str]]) -> str:
    signed = url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_forms(url: str) -> list[str]:
    """`url` as it is, without its port and with it (the scheme's default when it names none)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a port number: only the URL as it is
        return [url]
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = hostport if port is None else hostport[: hostport.rfind(":")]
    prefix = f"{userinfo}@" if userinfo else ""
    default = 443 if parts.scheme == "https" else 80
    without = urlunsplit(parts._replace(netloc=prefix + host))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port or default}"))
    return list(dict.fromkeys([url, without, with_port]))


FORMAT = Format(
    id="twilio",
    split=split,
    adapt=adapt,
    media_types=(FORM,),
    verify=verify,
    answer=EMPTY_TWIML,
)
