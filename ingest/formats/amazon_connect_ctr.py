"""Amazon Connect contact records (CTRs): format `amazon-connect-ctr`.

Amazon Connect writes one contact record, a JSON object, per contact when the contact ends, and
writes it again, with a later `LastUpdateTimestamp`, whenever it changes afterwards (contact
attributes updated, a recording added): delivery is at least once. An instance's data streaming
sends them to Kinesis Data Streams (one stream record, one contact record) or to Kinesis Data
Firehose, whose files hold several records, one a line or simply concatenated (`}{`). `split`
takes all three.

Each contact is its own interaction. A transfer, a queued callback or a disconnect flow starts a
new contact, which Connect links to the others by PreviousContactId, NextContactId and
InitialContactId: these become `interactionRelationship` entries, never a second copy of one
contact. A record's native id is `ContactId@LastUpdateTimestamp` and its time LastUpdateTimestamp,
so a redelivery of one revision is the same event, a later revision replaces the interaction and
an older one is superseded.

Contact events (amazon_connect_event.py) move the same interaction through `inProgress` before the
record arrives: both read a contact with `contact_document`, so an event and a record of the same
contact make a document of the same shape, for the same interaction id (`contact_interaction_id`).

Channels: VOICE, CHAT and EMAIL are the project's voice, chat and email channels. A TASK (a unit
of work an agent does for a customer: a follow-up, a case to look into) is on a channel of its
own, `task`, so that tasks, which may stay open for days, count neither as calls nor as chats.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ingest.adapters.common import AdapterError, checked, humanize, interaction, party
from ingest.formats import (
    MAX_RECORDS,
    Format,
    FormatError,
    IdentifierKind,
    Record,
    external_id,
    identifier,
    record_of,
    settings_of,
)
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.common import MAX_DEPTH, deeper_than, parse_date_time
from schemas.party_interaction import MAX_ITEMS
from storage.changes import Change, version_at

FORMAT_ID = "amazon-connect-ctr"

MAX_BODY_BYTES = 128 * 1024 * 1024
"""The largest delivery split: a Firehose file (Firehose's largest buffer); MAX_RECORDS bounds the
records read from it."""

RECORD_KIND = "amazon-connect-contact"
"""The `externalIdentifierType` of a contact's ContactId, whichever record named it."""


class Options(BaseModel):
    """A source's own keys in the sources file, for contact records and contact events alike."""

    model_config = ConfigDict(extra="forbid")

    reason_attribute: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The contact attribute that holds the contact's reason (e.g. an intent a flow set)",
    )


# -- reading a delivery ---------------------------------------------------------------------------

_BLANK = re.compile(r"[ \t\r\n]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def json_objects(body: bytes, what: str) -> list[dict[str, Any]]:
    """The JSON objects a delivery holds: one, or several separated by whitespace or by nothing at
    all (Firehose concatenates records as they come). `what` names them in errors."""
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"the delivery is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"the delivery is not UTF-8 (byte {exc.start})") from None
    escapes_surrogates = _SURROGATE_ESCAPE.search(text) is not None
    objects: list[dict[str, Any]] = []
    at = _end_of_blank(text, 0)
    while at < len(text):
        if len(objects) == MAX_RECORDS:
            raise FormatError(f"the delivery carries more than {MAX_RECORDS} records")
        number = len(objects) + 1
        try:
            value, at = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise FormatError(
                f"{what} {number} is not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
            ) from None
        except RecursionError:
            raise FormatError(f"{what} {number} nests more than {MAX_DEPTH} levels of objects and arrays") from None
        except ValueError as exc:  # NaN, Infinity, a number of more digits than Python reads
            raise FormatError(f"{what} {number} is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise FormatError(f"{what} {number} is {kind_of(value)}, not a JSON object")
        if deeper_than(value, MAX_DEPTH):
            raise FormatError(f"{what} {number} nests more than {MAX_DEPTH} levels of objects and arrays")
        if escapes_surrogates and not _is_unicode(value):
            raise FormatError(f"{what} {number} is not JSON: a \\u escape of half a surrogate pair")
        objects.append(value)
        at = _end_of_blank(text, at)
    if not objects:
        raise FormatError("the delivery is empty")
    return objects


def _is_unicode(value: dict[str, Any]) -> bool:
    """Whether every string in `value` is Unicode text: Python's decoder lets an escaped half of a
    surrogate pair through, which no UTF-8 writer (the events', the stores') can write."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _end_of_blank(text: str, at: int) -> int:
    found = _BLANK.match(text, at)
    return found.end() if found else at


def digest(data: dict[str, Any]) -> str:
    """A short digest of a record's content: the same content, the same digest, key order aside."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def kind_of(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def lookup(data: dict[str, Any], name: str) -> Any:
    """`data[name]` matched without regard to case (Connect's records and events differ in it)."""
    if name in data:
        return data[name]
    wanted = name.lower()
    return next((value for key, value in data.items() if key.lower() == wanted), None)


def split(body: bytes, media_type: str) -> list[Record]:
    """The contact records of a Kinesis record or a Firehose file."""
    records = []
    for number, data in enumerate(json_objects(body, "contact record"), start=1):
        contact_id, updated = lookup(data, "ContactId"), lookup(data, "LastUpdateTimestamp")
        if not isinstance(contact_id, str) or not contact_id.strip():
            raise FormatError(
                f"contact record {number}: ContactId: expected a non-empty string, got {kind_of(contact_id)}"
            )
        if not isinstance(updated, str) or parse_date_time(updated) is None:
            raise FormatError(f"contact record {number}: LastUpdateTimestamp: expected an ISO 8601 date-time")
        records.append(Record(f"{contact_id}@{updated}", updated, data))
    return records


# -- reading a contact ----------------------------------------------------------------------------


class Fields:
    """One object of a contact, read by field name whatever its case: contact records write
    `Agent.ARN`, contact events `agentInfo.agentArn` and, in AWS's own samples, `AgentInfo.AgentArn`.
    Each reader takes the names a field goes by (the record's first); errors name a field as the
    contact wrote it, or by its first name when it is missing."""

    __slots__ = ("_values", "path")

    def __init__(self, data: dict[str, Any], path: str = "") -> None:
        self._values = {key.lower(): (key, value) for key, value in data.items()}
        self.path = path

    def _get(self, names: tuple[str, ...]) -> tuple[str, Any]:
        for name in names:
            key, value = self._values.get(name.lower(), (name, None))
            if value is not None:
                return key, value
        return names[0], None

    def where(self, name: str) -> str:
        """How errors name field `name` of this object."""
        return f"{self.path}.{name}" if self.path else name

    def _wrong(self, name: str, expected: str, value: Any) -> AdapterError:
        return AdapterError(f"{self.where(name)}: expected {expected}, got {kind_of(value)}")

    def text(self, *names: str) -> str | None:
        """A string field; absent, null or empty is None."""
        name, value = self._get(names)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(name, "a string", value)
        return value if value.strip() else None

    def one_of(self, values: dict[str, Any], *names: str) -> str:
        """A string field that must be one of `values`' keys (whatever its case)."""
        found = self.needed_text(*names)
        if found.upper() not in values:
            where = self.where(self._get(names)[0])
            raise AdapterError(f"{where}: unknown value {found!r}; expected one of {', '.join(values)}")
        return found

    def needed_text(self, *names: str) -> str:
        found = self.text(*names)
        if found is None:
            raise AdapterError(f"{self.where(names[0])}: missing")
        return found

    def time(self, *names: str) -> str | None:
        """An ISO 8601 date-time field, as written."""
        found = self.text(*names)
        if found is not None and parse_date_time(found) is None:
            raise AdapterError(f"{self.where(self._get(names)[0])}: not an ISO 8601 date-time: {found!r}")
        return found

    def seconds(self, *names: str) -> int | float | None:
        """A duration or a count: a number, not negative."""
        name, value = self._get(names)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self._wrong(name, "a number not below 0", value)
        number: int | float = value
        return number

    def mapping(self, *names: str) -> dict[str, Any] | None:
        name, value = self._get(names)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._wrong(name, "an object", value)
        return value

    def object(self, *names: str) -> Fields | None:
        found = self.mapping(*names)
        return None if found is None else Fields(found, self.where(self._get(names)[0]))

    def objects(self, *names: str) -> list[Fields]:
        """An array of objects (nulls in it skipped); absent is empty."""
        name, value = self._get(names)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(name, "an array", value)
        found = []
        for index, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, dict):
                raise self._wrong(f"{name}.{index}", "an object", item)
            found.append(Fields(item, self.where(f"{name}.{index}")))
        return found


CHANNELS = {
    # Connect's channel: (@type, the project's channel id, a noun for reasons and descriptions)
    "VOICE": ("VoiceCallInteraction", "voice", "call"),
    "CHAT": ("ChatInteraction", "chat", "chat"),
    "TASK": ("TaskInteraction", "task", "task"),
    "EMAIL": ("EmailInteraction", "email", "email"),
}

DIRECTIONS = {
    "INBOUND": "inbound",
    "OUTBOUND": "outbound",
    # a transfer, a queue transfer, a disconnect flow's contact and a supervisor's monitoring
    # carry on a contact already in the centre: they come in, to the agent or flow that takes them
    "TRANSFER": "inbound",
    "QUEUE_TRANSFER": "inbound",
    "DISCONNECT": "inbound",
    "MONITOR": "inbound",
    "CALLBACK": "outbound",
    "EXTERNAL_OUTBOUND": "outbound",
    "WEBRTC_API": "inbound",
    "AGENT_REPLY": "outbound",
    "FLOW": "outbound",
    "CAMPAIGN_PREVIEW": "outbound",
    "API": "inbound",  # a chat, task or email a customer's app started; a VOICE one is an outbound call
}
_TRANSFERS = ("TRANSFER", "QUEUE_TRANSFER")
_NOT_THE_CUSTOMER = ("EXTERNAL_OUTBOUND", "MONITOR")  # the endpoint is a third party or a supervisor

ENDPOINT_KINDS: dict[str, IdentifierKind] = {"TELEPHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email"}

_RECORDING_TYPES = {"AUDIO": "audioRecording", "VIDEO": "videoRecording", "CHAT": "chatTranscript"}
_MIME_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "json": "application/json", "mp4": "video/mp4"}

_CONTACT_TIMES = ("InitiationTimestamp", "ConnectedToSystemTimestamp", "DisconnectTimestamp")
_QUEUE_TIMES = ("EnqueueTimestamp", "DequeueTimestamp")
_AGENT_TIMES = (
    "ConnectedToAgentTimestamp",
    "AcceptedByAgentTimestamp",
    "AfterContactWorkStartTimestamp",
    "AfterContactWorkEndTimestamp",
)


def latest_time(data: dict[str, Any]) -> str | None:
    """The latest moment a contact (record or event) names, as written; None if it names none.
    Fields that are not date-times are left to the adapter to name."""
    found: list[tuple[datetime, str]] = []

    def take(parent: Any, names: tuple[str, ...]) -> None:
        if isinstance(parent, dict):
            for name in names:
                value = lookup(parent, name)
                moment = parse_date_time(value) if isinstance(value, str) else None
                if moment is not None:
                    found.append((moment, value))

    take(data, _CONTACT_TIMES)
    take(lookup(data, "QueueInfo") or lookup(data, "Queue"), _QUEUE_TIMES)
    take(lookup(data, "AgentInfo") or lookup(data, "Agent"), _AGENT_TIMES)
    return max(found)[1] if found else None


def instant(time: str) -> datetime:
    """The instant of a date-time the readers have checked."""
    moment = parse_date_time(time)
    assert moment is not None, "checked by Fields.time"
    return moment


def instance_id(arn: str) -> str:
    """The instance's id in its ARN (`arn:aws:connect:REGION:ACCOUNT:instance/ID`), or the ARN."""
    found = re.search(r"instance/([^/]+)", arn)
    return found.group(1) if found else arn


def agent_id(arn: str) -> str:
    """The agent's id in its ARN (`...:instance/ID/agent/AGENT`): a party id a URL path can carry
    (an ARN has slashes), the same in contact records and events; else the ARN."""
    found = re.search(r"/agent/([^/]+)$", arn)
    return found.group(1) if found else arn


def contact_interaction_id(instance_arn: str, contact_id: str) -> str:
    """A contact's interaction. Keyed by the Connect instance rather than by the source: contact
    records and contact events reach the hub as two sources, and must meet on one interaction."""
    return interaction_id(f"urn:ihub:amazon-connect:{instance_id(instance_arn)}", contact_id)


def contact_change(event: ChannelEvent, contact: Fields, version: int, event_type: str | None = None) -> Change:
    """The create change that makes a contact's interaction what `contact` (a contact record, or a
    contact event's detail, of type `event_type`) says, at `version`."""
    contact_id = contact.needed_text("ContactId")
    instance = contact.needed_text("InstanceARN", "InstanceArn")
    document = contact_document(event, contact, contact_id, instance, event_type)
    return Change(
        kind="create",
        interaction_id=contact_interaction_id(instance, contact_id),
        time=event.time,
        version=version,
        body=checked(document),
    )


def contact_document(
    event: ChannelEvent, contact: Fields, contact_id: str, instance: str, event_type: str | None
) -> dict[str, Any]:
    """The PartyInteraction create body of one contact."""
    channel_name = contact.one_of(CHANNELS, "Channel").upper()  # events write `Voice` too
    type_name, kind, noun = CHANNELS[channel_name]
    method = contact.one_of(DIRECTIONS, "InitiationMethod").upper()
    direction = "outbound" if method == "API" and channel_name == "VOICE" else DIRECTIONS[method]

    queue = contact.object("Queue", "QueueInfo")
    agent = contact.object("Agent", "AgentInfo")
    agent_arn = agent.text("ARN", "AgentArn") if agent else None
    username = agent.text("Username") if agent else None
    queue_name = queue.text("Name") if queue else None

    start = contact.time("InitiationTimestamp") or event.time
    disconnected = contact.time("DisconnectTimestamp")
    work_ended = agent.time("AfterContactWorkEndTimestamp") if agent else None
    # handling ends when the agent's after-contact work does, if that is after the customer left
    end = disconnected
    if end is not None and work_ended is not None and instant(work_ended) > instant(end):
        end = work_ended
    completed = disconnected is not None or event_type in ("DISCONNECTED", "COMPLETED")

    figures = _agent_figures(agent) if agent else {}
    attributes = contact.mapping("Attributes")
    details = {
        "contactId": contact_id,
        "channel": channel_name,
        "initiationMethod": method,
        "instance": instance,
        "eventType": event_type,
        "queue": queue_name,
        "queueArn": queue.text("ARN", "QueueArn") if queue else None,
        "agentArn": agent_arn,
        "enqueuedAt": queue.time("EnqueueTimestamp") if queue else None,
        "dequeuedAt": queue.time("DequeueTimestamp") if queue else None,
        "waitSeconds": queue.seconds("Duration") if queue else None,
        "connectedToSystemAt": contact.time("ConnectedToSystemTimestamp"),
        "connectedToAgentAt": agent.time("ConnectedToAgentTimestamp") if agent else None,
        "disconnectedAt": disconnected,
        "disconnectReason": contact.text("DisconnectReason"),
        **figures,
        "customerEndpoint": _endpoint(contact, "CustomerEndpoint"),
        "systemEndpoint": _endpoint(contact, "SystemEndpoint"),
        "transferredTo": _endpoint(contact, "TransferredToEndpoint"),
        "transferCompletedAt": contact.time("TransferCompletedTimestamp"),
        "lastUpdatedAt": contact.time("LastUpdateTimestamp"),
        "attributes": attributes or None,
    }
    document = interaction(
        type_name=type_name,
        kind=kind,
        reason=_reason(contact, attributes, settings_of(event), noun, queue_name),
        direction=direction,
        status="completed" if completed else "inProgress",
        description=_description(direction, noun, queue_name, username, figures, details, event_type),
        start=start,
        end=end,
        parties=[party(agent_id(agent_arn), "agent", "PartyRole", username)] if agent_arn else [],
        # the status changed when the contact began, or when its handling ended
        statusChangeDate=end if completed else start,
        attachment=_recordings(contact) or None,
        interactionRelationship=_related(contact, contact_id, instance, method) or None,
        externalIdentifier=[external_id(contact_id, event, RECORD_KIND)],
        customerIdentifier=None if method in _NOT_THE_CUSTOMER else _customer(contact) or None,
        contact=details,
    )
    return document


def _agent_figures(agent: Fields) -> dict[str, Any]:
    """The agent's handling figures (contact records have them; events have none of these)."""
    talk = agent.seconds("AgentInteractionDuration")
    hold = agent.seconds("CustomerHoldDuration")
    work = agent.seconds("AfterContactWorkDuration")
    parts = [value for value in (talk, hold, work) if value is not None]
    groups = agent.object("HierarchyGroups")
    levels = [groups.object(f"Level{level}") for level in range(1, 6)] if groups else []
    hierarchy = [name for level in levels if level and (name := level.text("GroupName", "Name"))]
    routing = agent.object("RoutingProfile")
    return {
        "agentUsername": agent.text("Username"),
        "routingProfile": routing.text("Name") if routing else None,
        "agentHierarchy": hierarchy or None,
        "talkSeconds": talk,
        "holdSeconds": hold,
        "holds": agent.seconds("NumberOfHolds"),
        "longestHoldSeconds": agent.seconds("LongestHoldDuration"),
        "afterContactWorkSeconds": work,
        "afterContactWorkEndedAt": agent.time("AfterContactWorkEndTimestamp"),
        "handlingSeconds": sum(parts) if parts else None,
    }


def _endpoint(contact: Fields, name: str) -> dict[str, Any] | None:
    endpoint = contact.object(name)
    if endpoint is None or endpoint.text("Address") is None:
        return None
    return {"address": endpoint.text("Address"), "type": endpoint.text("Type")}


def _customer(contact: Fields) -> list[dict[str, Any]]:
    """How the contact names its customer: the endpoint's phone number or e-mail address, as
    written, and the customer id a flow or Customer Profiles set (a CRM number)."""
    found = []
    endpoint = contact.object("CustomerEndpoint")
    address = endpoint.text("Address") if endpoint else None
    kind = ENDPOINT_KINDS.get(endpoint.text("Type") or "") if endpoint else None
    if address and kind:
        found.append(identifier(kind, address))
    customer_id = contact.text("CustomerId")
    if customer_id:
        found.append(identifier("crm", customer_id))
    return found


def _reason(
    contact: Fields, attributes: dict[str, Any] | None, settings: dict[str, Any], noun: str, queue: str | None
) -> str:
    """The source's reason attribute when the contact has it (a code like BILL_DISPUTE reads
    `Bill dispute`), else a task's name, else the queue the contact went to."""
    wanted = settings.get("reason_attribute")
    value = attributes.get(wanted) if attributes and isinstance(wanted, str) else None
    if isinstance(value, str) and value.strip():
        return value if " " in value.strip() else humanize(value)
    task_name = contact.text("Name") if noun == "task" else None
    if task_name:
        return task_name
    return f"{noun.capitalize()} to {queue}" if queue else f"{noun.capitalize()} to the contact centre"


def _description(
    direction: str,
    noun: str,
    queue: str | None,
    username: str | None,
    figures: dict[str, Any],
    details: dict[str, Any],
    event_type: str | None,
) -> str:
    """`Inbound call in queue Sales, agent jdoe, 239 s with the agent, 12 s on hold, customer disconnect`."""
    parts = [f"{direction.capitalize()} {noun}" + (f" in queue {queue}" if queue else "")]
    if username:
        parts.append(f"agent {username}")
    if figures.get("talkSeconds") is not None:
        parts.append(f"{figures['talkSeconds']} s with the agent")
    if figures.get("holdSeconds"):
        parts.append(f"{figures['holdSeconds']} s on hold")
    if details["transferredTo"]:
        parts.append(f"transferred to {details['transferredTo']['address']}")
    if details["disconnectReason"]:
        parts.append(humanize(details["disconnectReason"]).lower())
    elif event_type:
        parts.append(humanize(event_type).lower())
    return ", ".join(parts)


def _recordings(contact: Fields) -> list[dict[str, Any]]:
    """The contact's recordings and transcripts as attachment references (where Connect stored
    them: an S3 object, or a Kinesis video stream's ARN), each file once: a record lists a call
    recording both in `Recordings` and in the older `Recording`."""
    found: dict[str, dict[str, Any]] = {}
    single = contact.object("Recording")
    for item in [*contact.objects("Recordings"), *([single] if single else [])]:
        location = item.text("Location")
        if location is None or location in found:
            continue
        storage = item.text("StorageType") or "S3"
        media = item.text("MediaStreamType", "Type") or "AUDIO"
        status = item.text("Status")
        participant = item.text("ParticipantType")
        name = location.rsplit("/", 1)[-1]
        notes = [f"{media.lower()} recording"]
        notes += [text.lower() for text in (participant, status) if text and text != "AVAILABLE"]
        notes += [text for text in (item.text("DeletionReason"),) if text]
        found[location] = {
            "name": name,
            "attachmentType": _RECORDING_TYPES.get(media, "recording"),
            "mimeType": _MIME_TYPES.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None,
            "url": f"s3://{location}" if storage == "S3" and "://" not in location else location,
            "description": ", ".join(notes),
        }
    return [{k: v for k, v in item.items() if v is not None} for item in found.values()][: MAX_ITEMS["attachment"]]


def _related(contact: Fields, contact_id: str, instance: str, method: str) -> list[dict[str, Any]]:
    """The contacts this one is chained to, each once: the one it continues (transferred from, or
    followed up: a callback, a disconnect flow), the one it was transferred to, the contact that
    began the chain, and a contact a task was created for."""
    links = [
        (contact.text("PreviousContactId"), "transferredFrom" if method in _TRANSFERS else "followsUp"),
        (contact.text("NextContactId"), "transferredTo"),
        (contact.text("InitialContactId"), "initialContact"),
        (contact.text("RelatedContactId"), "relatedTo"),
    ]
    related: dict[str, dict[str, Any]] = {}
    for other, relationship in links:
        if other and other != contact_id and other not in related:
            related[other] = {"id": contact_interaction_id(instance, other), "relationshipType": relationship}
    return list(related.values())


def adapt(event: ChannelEvent) -> Change:
    """A contact record: its contact's interaction as of LastUpdateTimestamp (the event's time)."""
    return contact_change(event, Fields(record_of(event)), version_at(event.time))


FORMAT = Format(id=FORMAT_ID, split=split, adapt=adapt, options=Options)
