"""Amazon Connect contact events: format `amazon-connect-event`.

Amazon Connect publishes a contact's progress to EventBridge as `Amazon Connect Contact Event`s:
INITIATED, CONNECTED_TO_SYSTEM, QUEUED, CONNECTED_TO_AGENT, CONTACT_DATA_UPDATED, DISCONNECTED,
COMPLETED (after the agent's after-contact work) and others AWS adds over time. A delivery is the
EventBridge event (an API destination posts it whole) or its bare `detail` (a rule's input
transformer, or a function that forwards it); several may follow one another in a file.

Each event is a snapshot of its contact so far, so it makes the contact's whole interaction, the
same one as the contact's record (amazon_connect_ctr.py: same id, same document shape): status
`inProgress`, then `completed` once the contact is disconnected. The contact record, written when
the contact has ended, completes it with the handling figures, whatever the order they arrive in:

- an event's time is the latest moment its detail names (its own event time where it names none),
  so events replace one another in the order of what they describe;
- two events that name the same latest moment (a CONTACT_DATA_UPDATED names no moment of its own)
  rank by how far the contact had got (`STEPS`): the disconnection outranks the connection to the
  agent it followed, so a contact never goes back to `inProgress`;
- an event's version is over a second below its time. Contact records write whole seconds, and a
  record's LastUpdateTimestamp is never before the moments it describes, so a record of the same
  contact always outranks an event: an event arriving after the record is superseded, and the
  record arriving after the events replaces what they made.

Native id: the EventBridge event's id; for a bare detail, which has none, the contact id, the
event type and a digest of the content (a redelivery is the same event, another event is not).
"""

from __future__ import annotations

from typing import Any

from ingest.adapters.common import AdapterError
from ingest.formats import Format, FormatError, Record, record_of
from ingest.formats.amazon_connect_ctr import (
    Fields,
    Options,
    contact_change,
    digest,
    json_objects,
    kind_of,
    latest_time,
    lookup,
)
from schemas.channel_event import ChannelEvent
from schemas.common import parse_date_time
from storage.changes import Change, version_at

FORMAT_ID = "amazon-connect-event"
DETAIL_TYPE = "Amazon Connect Contact Event"

STEPS = {
    "INITIATED": 0,
    "CONNECTED_TO_SYSTEM": 1,
    "QUEUED": 2,
    "CONNECTED_TO_AGENT": 3,
    "DISCONNECTED": 5,
    "COMPLETED": 6,
}
"""How far a contact has got at each event type; any other type (CONTACT_DATA_UPDATED, answering
machine detection, types AWS adds) is between the agent's connection and the disconnection."""
_OTHER_STEP = 4
_LAST_STEP = max(STEPS.values())

# In versions (microseconds): the precision of a contact record's timestamps, and a step, below
# the milliseconds events write, so steps order only events that name the same moment.
_SECOND = 1_000_000
_STEP = 100


def split(body: bytes, media_type: str) -> list[Record]:
    """The contact events of a delivery: EventBridge events or bare details."""
    records = []
    for number, data in enumerate(json_objects(body, "contact event"), start=1):
        detail = _detail(data, f"contact event {number}: ", FormatError)
        envelope = detail is not data
        contact_id = lookup(detail, "contactId")
        if not isinstance(contact_id, str) or not contact_id.strip():
            where = "detail.contactId" if envelope else "contactId"
            raise FormatError(
                f"contact event {number}: {where}: expected a non-empty string, got {kind_of(contact_id)}"
            )
        sent = data.get("time") if envelope else None
        time = latest_time(detail) or (sent if isinstance(sent, str) and parse_date_time(sent) else None)
        event_id = data.get("id") if envelope else None
        if isinstance(event_id, str) and event_id.strip():
            native_id = event_id
        else:
            native_id = f"{contact_id}/{lookup(detail, 'eventType')}/{digest(data)}"
        records.append(Record(native_id, time, data))
    return records


def _detail(data: dict[str, Any], where: str, error: type[ValueError]) -> dict[str, Any]:
    """The contact's detail: the EventBridge event's `detail`, or the bare detail itself; `error`
    (with `where` before its message) when the event is not a contact event."""
    if "detail" not in data and "detail-type" not in data:
        return data
    kind = data.get("detail-type")
    if kind != DETAIL_TYPE:
        raise error(f"{where}detail-type: expected {DETAIL_TYPE!r}, got {kind!r}")
    detail = data.get("detail")
    if not isinstance(detail, dict):
        raise error(f"{where}detail: expected an object, got {kind_of(detail)}")
    return detail


def adapt(event: ChannelEvent) -> Change:
    """A contact event: its contact's interaction as the event describes it, ranked below any
    contact record of the same contact (module docstring)."""
    record = record_of(event)
    detail = _detail(record, "", AdapterError)
    contact = Fields(detail, "detail" if detail is not record else "")
    event_type = contact.needed_text("eventType")
    below = _SECOND + (_LAST_STEP - STEPS.get(event_type, _OTHER_STEP)) * _STEP
    return contact_change(event, contact, version_at(event.time) - below, event_type)


FORMAT = Format(id=FORMAT_ID, split=split, adapt=adapt, options=Options)
