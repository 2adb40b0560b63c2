"""Debezium change events (ingest/formats/debezium.py): split, wrap, adapt and apply, on the
published PostgreSQL connector events (a create, and the update and delete, repaired) and on
events written as the PostgreSQL connector writes them for a CRM's contact-history table, with and
without their schema part: snapshot then streaming, every op, redelivery and order, the mapping's
value tables and time encodings, missing and null columns, the sources file's checks of a mapping,
and hostile deliveries."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ingest.adapters import AdapterError, adapt
from ingest.formats import FORMATS, FormatError, source_urn, wrap
from ingest.formats import debezium as dbz
from ingest.formats.debezium import FORMAT, Options, split
from ingest.sources import SourcesError, parse
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, Change, Outcome, State, apply
from tests.vendor_samples import sample

SOURCE = "legacy-crm"
RECEIVED = "2026-11-20T10:00:00Z"
HREF = "http://h/x/"

CREATE = "debezium/postgresql-create-event-schema-and-payload.json"
UPDATE = "debezium/postgresql-update-event-value.json"
DELETE = "debezium/postgresql-delete-event-value.json"

TABLE = "public.contact_history"

MAPPING: dict[str, Any] = {
    "table": TABLE,
    "key": ["id"],
    "columns": {
        "startDateTime": "started_at",
        "endDateTime": "ended_at",
        "channel": "channel",
        "direction": "direction",
        "reason": "subject",
        "description": "notes",
        "status": "outcome",
        "customer": "customer_no",
        "agent": "agent_login",
    },
    "channel_values": {"PHONE": "voice", "EMAIL": "email", "SHOP": "store"},
    "direction_values": {"IN": "inbound", "OUT": "outbound"},
    "status_values": {"DONE": "completed", "OPEN": "inProgress"},
    "timestamps": {"started_at": "micros", "ended_at": "iso", "follow_up_on": "days"},
}

# Debezium's own docs table (inventory.customers): no time column; the tests add one
CUSTOMERS: dict[str, Any] = {"table": "public.customers", "key": ["id"], "channel": "email"}
CUSTOMERS["columns"] = {"startDateTime": "registered_at"}

# 2026-11-20T09:00:00Z and 09:07:30Z, as the connector writes a `timestamp` (micros since 1970)
STARTED = 1_795_165_200_000_000
ENDED_ISO = "2026-11-20T09:07:30.250000Z"
COMMIT_US = 1_795_165_800_000_000  # 2026-11-20T09:10:00Z

# the schema part's `after` struct, as the connector describes the table (its column types)
ROW_SCHEMA = [
    {"type": "int32", "optional": False, "field": "id"},
    {
        "type": "int64",
        "optional": False,
        "name": "io.debezium.time.MicroTimestamp",
        "version": 1,
        "field": "started_at",
    },
    {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "ended_at"},
    {"type": "string", "optional": True, "field": "channel"},
    {"type": "string", "optional": True, "field": "direction"},
    {"type": "string", "optional": True, "field": "subject"},
    {"type": "string", "optional": True, "field": "notes"},
    {"type": "string", "optional": True, "field": "outcome"},
    {"type": "string", "optional": True, "field": "customer_no"},
    {"type": "string", "optional": True, "field": "agent_login"},
    {"type": "string", "optional": True, "field": "branch"},
    {"type": "int32", "optional": True, "name": "io.debezium.time.Date", "version": 1, "field": "follow_up_on"},
]


def row(**columns: Any) -> dict[str, Any]:
    """One contact-history row as the connector writes it; `columns` replace or add columns."""
    written: dict[str, Any] = {
        "id": 1001,
        "started_at": STARTED,
        "ended_at": ENDED_ISO,
        "channel": "PHONE",
        "direction": "IN",
        "subject": "Bill dispute",
        "notes": "Customer disputes the October invoice; credit note issued",
        "outcome": "DONE",
        "customer_no": "C-000417",
        "agent_login": "asilva",
        "branch": "Lisbon",
        "follow_up_on": 20_412,  # 2025-11-20, days since 1970
    }
    written.update(columns)
    return written


def payload(
    op: str,
    after: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    *,
    commit_us: int = COMMIT_US,
    lsn: int | None = 24_023_128,
    snapshot: str = "false",
    table: str = "contact_history",
) -> dict[str, Any]:
    """A change event's payload, as Debezium's PostgreSQL connector (3.x) writes it."""
    return {
        "before": before,
        "after": after,
        "source": {
            "version": "3.6.1.Final",
            "connector": "postgresql",
            "name": "crm",
            "ts_ms": commit_us // 1000,
            "snapshot": snapshot,
            "db": "crm",
            "sequence": f'[null,"{lsn}"]',
            "ts_us": commit_us,
            "ts_ns": commit_us * 1000,
            "schema": "public",
            "table": table,
            "txId": 771,
            "lsn": lsn,
            "xmin": None,
        },
        "transaction": None,
        "op": op,
        "ts_ms": commit_us // 1000 + 120,
        "ts_us": commit_us + 120_345,
        "ts_ns": (commit_us + 120_345) * 1000 + 678,
    }


def with_schema(event_payload: dict[str, Any]) -> dict[str, Any]:
    """The value JsonConverter writes with schemas.enable=true: the schema part, then the payload."""
    struct = {"type": "struct", "fields": ROW_SCHEMA, "optional": True, "name": "crm.public.contact_history.Value"}
    fields = [
        {**struct, "field": "before"},
        {**struct, "field": "after"},
        {"type": "struct", "fields": [], "optional": False, "name": "io.debezium.connector.postgresql.Source"},
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
    ]
    fields[2]["field"] = "source"
    schema = {"type": "struct", "fields": fields, "optional": False, "name": "crm.public.contact_history.Envelope"}
    return {"schema": schema, "payload": event_payload}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def events_of(delivery: bytes, mapping: dict[str, Any] | None = None) -> list[ChannelEvent]:
    settings = {"name": SOURCE, **(MAPPING if mapping is None else mapping)}
    return [wrap(r, FORMAT.id, SOURCE, settings, received=RECEIVED) for r in split(delivery, "application/json")]


def event_of(value: Any, mapping: dict[str, Any] | None = None) -> ChannelEvent:
    (event,) = events_of(body(value), mapping)
    return event


def applied(value: Any, state: State = ABSENT, mapping: dict[str, Any] | None = None) -> Outcome:
    return apply(state, adapt(event_of(value, mapping)), href=HREF)


def document(value: Any, mapping: dict[str, Any] | None = None) -> dict[str, Any]:
    outcome = applied(value, mapping=mapping)
    assert outcome.kind == "create"
    doc = outcome.new.doc
    assert doc is not None
    validated_resource(doc)
    return doc


def the_interaction(key: str) -> str:
    return interaction_id(source_urn(SOURCE), key)


# -- the published events -------------------------------------------------------------------------


def repaired(name: str) -> bytes:
    """A published update or delete event made JSON by the two smallest edits: the schema part the
    docs elide as `{ ... }` becomes null, and the trailing comma after `ts_ns` goes."""
    text = sample(name).decode()
    assert text.count("{ ... }") == 1
    text = text.replace("{ ... }", "null")
    last_comma = text.rindex(",", 0, text.rindex("}", 0, text.rindex("}")))
    assert text[last_comma + 1 :].strip().startswith("}")
    return (text[:last_comma] + text[last_comma + 1 :]).encode()


def with_registration(delivery: bytes) -> dict[str, Any]:
    """A published event whose customers row has the registration time a contact table would have
    (Debezium's docs table has no time column to map to startDateTime)."""
    value = json.loads(delivery)
    for image in ("before", "after"):
        if value["payload"][image] is not None:
            value["payload"][image]["registered_at"] = "2019-05-28T08:58:00Z"
    return value


def test_the_published_create_event_is_one_record_of_its_row_at_its_commit_time():
    (record,) = split(sample(CREATE), "application/json")
    assert record.native_id.startswith("public.customers@24023128:c:")
    assert record.time == "2019-05-28T08:58:24.863123Z"  # source.ts_us: the commit, to the microsecond
    assert record.data["after"] == {
        "id": 1,
        "first_name": "Anne",
        "last_name": "Kretchmar",
        "email": "annek@noanswer.org",
    }
    assert "schema" not in record.data and "columnTypes" not in record.data  # its columns have no semantic types


def test_the_published_create_event_needs_the_mappings_start_time_column():
    with pytest.raises(AdapterError, match=r"after\.registered_at: missing \(the startDateTime\)"):
        adapt(events_of(sample(CREATE), CUSTOMERS)[0])


def test_the_published_create_event_with_a_start_time_makes_an_interaction_keeping_every_column():
    doc = document(with_registration(sample(CREATE)), CUSTOMERS)
    assert doc["id"] == the_interaction("1")
    assert doc["@type"] == "EmailInteraction"
    assert doc["channel"][0]["id"] == "email"
    assert doc["interactionDate"] == {"startDateTime": "2019-05-28T08:58:00Z"}
    assert doc["status"] == "inProgress"  # no end, no status column
    assert doc["externalIdentifier"] == [{"id": "1", "owner": SOURCE, "externalIdentifierType": "public.customers"}]
    assert doc["crmRecord"] == {"first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"}
    assert doc["relatedParty"] == []
    assert "customerIdentifier" not in doc


@pytest.mark.parametrize("name", [UPDATE, DELETE])
def test_the_published_update_and_delete_events_are_not_json_as_published(name):
    with pytest.raises(FormatError, match=r"the change event is not JSON: .*line 2 column 17"):
        split(sample(name), "application/json")


def test_the_published_update_and_delete_repaired_update_then_delete_the_created_interaction():
    created = applied(with_registration(sample(CREATE)), mapping=CUSTOMERS)
    (update,) = events_of(body(with_registration(repaired(UPDATE))), CUSTOMERS)
    assert update.id.startswith("debezium:public.customers@24023128:u:")
    assert update.time == "2019-05-28T08:58:24.863769Z"  # the same millisecond as the create, a later microsecond
    updated = apply(created.new, adapt(update), href=HREF)
    assert updated.kind == "update"
    assert updated.new.doc is not None and updated.new.doc["crmRecord"]["first_name"] == "Anne Marie"
    (delete,) = events_of(repaired(DELETE), CUSTOMERS)
    change = adapt(delete)
    assert (change.kind, change.interaction_id, change.time) == ("delete", the_interaction("1"), delete.time)
    deleted = apply(updated.new, change, href=HREF)
    assert deleted.kind == "delete" and deleted.new.doc is None


def test_the_format_is_registered_unsigned_with_its_mapping_as_options():
    assert FORMATS["debezium"] is FORMAT
    assert FORMAT.verify is None and FORMAT.handshake is None
    assert FORMAT.options is Options


# -- a contact-history table ----------------------------------------------------------------------


@pytest.mark.parametrize("schemas_enabled", [True, False])
def test_a_snapshot_row_becomes_its_interaction(schemas_enabled):
    value = payload("r", after=row(), snapshot="true")
    doc = document(with_schema(value) if schemas_enabled else value)
    assert doc["id"] == the_interaction("1001")
    assert doc["@type"] == "VoiceCallInteraction"
    assert doc["channel"][0]["id"] == "voice"
    assert doc["direction"] == "inbound"
    assert doc["status"] == "completed"
    assert doc["interactionDate"] == {"startDateTime": "2026-11-20T09:00:00Z", "endDateTime": ENDED_ISO}
    assert doc["reason"] == "Bill dispute"
    assert doc["description"] == "Customer disputes the October invoice; credit note issued"
    assert doc["relatedParty"] == [
        {"id": "C-000417", "role": "customer", "@referredType": "Individual"},
        {"id": "asilva", "role": "agent", "@referredType": "PartyRole"},
    ]
    assert doc["customerIdentifier"] == [{"kind": "crm", "value": "C-000417", "id": "crm:C-000417"}]
    assert doc["externalIdentifier"] == [{"id": "1001", "owner": SOURCE, "externalIdentifierType": TABLE}]
    assert doc["crmRecord"] == {"branch": "Lisbon", "follow_up_on": "2025-11-20T00:00:00Z"}
    assert doc["creationDate"] == "2026-11-20T09:10:00Z"  # the commit


def test_with_its_schema_a_row_needs_no_declared_time_encodings():
    mapping = {**MAPPING, "timestamps": {}}
    value = with_schema(payload("r", after=row(), snapshot="true"))
    (record,) = split(body(value), "application/json")
    assert record.data["columnTypes"] == {
        "started_at": "io.debezium.time.MicroTimestamp",
        "ended_at": "io.debezium.time.ZonedTimestamp",
        "follow_up_on": "io.debezium.time.Date",
    }
    assert document(value, mapping) == document(value)


def test_without_its_schema_a_number_time_needs_its_declared_encoding():
    mapping = {**MAPPING, "timestamps": {}}
    with pytest.raises(
        AdapterError,
        match=r"after\.started_at: a number, but the mapping declares no encoding .*timestamps\.started_at",
    ):
        adapt(event_of(payload("r", after=row()), mapping))


@pytest.mark.parametrize("snapshot", ["true", "first", "last", "incremental", True])
def test_every_snapshot_marker_reads_the_same(snapshot):
    assert document(payload("r", after=row(), snapshot=snapshot))["status"] == "completed"


def test_snapshot_then_streaming_insert_update_delete_and_tombstone():
    snapshot = applied(payload("r", after=row(id=7, outcome="OPEN", ended_at=None), snapshot="last", lsn=100))
    assert snapshot.kind == "create"
    assert snapshot.new.doc is not None and snapshot.new.doc["status"] == "inProgress"
    assert "endDateTime" not in snapshot.new.doc["interactionDate"]

    closed = row(id=7, outcome="DONE")
    update = payload("u", after=closed, before=None, commit_us=COMMIT_US + 60_000_000, lsn=200)
    updated = applied(update, snapshot.new)
    assert updated.kind == "update"
    assert updated.new.doc is not None and updated.new.doc["status"] == "completed"
    assert updated.new.doc["interactionDate"]["endDateTime"] == ENDED_ISO
    assert updated.new.doc["statusChangeDate"] == "2026-11-20T09:11:00Z"

    inserted = applied(payload("c", after=row(id=8, channel="EMAIL", direction="OUT"), lsn=250))
    assert inserted.new.doc is not None and inserted.new.doc["id"] == the_interaction("8")
    assert inserted.new.doc["@type"] == "EmailInteraction" and inserted.new.doc["direction"] == "outbound"

    # REPLICA IDENTITY DEFAULT: the before image of a delete holds the key (and nulls)
    delete = payload("d", before={**dict.fromkeys(row()), "id": 7}, commit_us=COMMIT_US + 120_000_000, lsn=300)
    change = adapt(event_of(delete))
    assert change.interaction_id == the_interaction("7")
    assert apply(updated.new, change, href=HREF).kind == "delete"
    assert split(b"", "application/json") == []  # the tombstone after it


def test_an_insert_of_an_open_contact_is_in_progress():
    doc = document(payload("c", after=row(outcome="OPEN", ended_at=None)))
    assert doc["status"] == "inProgress"
    assert doc["interactionDate"] == {"startDateTime": "2026-11-20T09:00:00Z"}


def test_a_redelivery_is_the_same_event_and_the_same_change_and_changes_nothing():
    value = body(with_schema(payload("u", after=row(), lsn=555)))
    first, again = events_of(value)[0], events_of(value)[0]
    assert first == again
    change = adapt(first)
    assert change == adapt(again)
    stored = apply(ABSENT, change, href=HREF)
    assert apply(stored.new, adapt(again), href=HREF).kind == "unchanged"


def test_a_later_change_of_the_row_is_a_new_record_and_an_older_one_arriving_late_is_superseded():
    older = event_of(payload("u", after=row(subject="First call"), lsn=600))
    newer = event_of(payload("u", after=row(subject="Second call"), commit_us=COMMIT_US + 1, lsn=601))
    assert older.id != newer.id
    stored = apply(ABSENT, adapt(newer), href=HREF)
    late = apply(stored.new, adapt(older), href=HREF)
    assert late.kind == "superseded"
    assert late.new.doc is not None and late.new.doc["reason"] == "Second call"


def test_rows_of_one_snapshot_share_its_log_position_and_are_still_records_of_their_own():
    first, second = (event_of(payload("r", after=row(id=n), snapshot="true", lsn=900)) for n in (1, 2))
    assert first.id != second.id and first.time == second.time


def test_a_truncate_is_refused_naming_it():
    (event,) = events_of(body(payload("t")))
    with pytest.raises(AdapterError, match=r"op t: a TRUNCATE of public\.contact_history is not mapped"):
        adapt(event)


def test_events_of_another_table_are_refused_naming_both():
    with pytest.raises(AdapterError, match=r"source\.table: public\.contacts_archive is not this source's table"):
        adapt(event_of(payload("c", after=row(), table="contacts_archive")))


def test_without_a_table_the_source_takes_any_table_and_names_it():
    doc = document(payload("c", after=row(), table="contacts_archive"), {**MAPPING, "table": None})
    assert doc["externalIdentifier"][0]["externalIdentifierType"] == "public.contacts_archive"


def test_a_composite_key_is_the_key_columns_joined():
    mapping = {**MAPPING, "key": ["branch", "id"]}
    doc = document(payload("c", after=row()), mapping)
    assert doc["id"] == the_interaction("Lisbon/1001")
    assert doc["externalIdentifier"][0]["id"] == "Lisbon/1001"
    assert "branch" not in doc.get("crmRecord", {})


@pytest.mark.parametrize(
    ("code", "channel", "type_name"),
    [
        ("PHONE", "voice", "VoiceCallInteraction"),
        ("EMAIL", "email", "EmailInteraction"),
        ("SHOP", "store", "StoreVisitInteraction"),
    ],
)
def test_the_channel_column_reads_through_the_mappings_values(code, channel, type_name):
    doc = document(payload("c", after=row(channel=code)))
    assert (doc["channel"][0]["id"], doc["@type"]) == (channel, type_name)


def test_without_channel_values_the_column_holds_the_channel_id():
    mapping = {**MAPPING, "channel_values": {}}
    assert document(payload("c", after=row(channel="Chat")), mapping)["channel"][0]["id"] == "chat"
    with pytest.raises(AdapterError, match=r"after\.channel: unknown channel 'PHONE'; one of web, app, voice"):
        adapt(event_of(payload("c", after=row()), mapping))


@pytest.mark.parametrize(("written", "direction"), [("Outgoing", "outbound"), ("OUT", "outbound"), ("in", "inbound")])
def test_without_direction_values_the_common_words_give_the_direction(written, direction):
    mapping = {**MAPPING, "direction_values": {}}
    assert document(payload("c", after=row(direction=written)), mapping)["direction"] == direction


def test_the_tables_one_channel_stands_for_a_null_channel_column():
    mapping = {**MAPPING, "channel": "messaging"}
    assert document(payload("c", after=row(channel=None)), mapping)["channel"][0]["id"] == "messaging"
    assert document(payload("c", after=row()), mapping)["channel"][0]["id"] == "voice"


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"channel": "FAX"}, r"after\.channel: unknown channel 'FAX'; one of PHONE, EMAIL, SHOP"),
        ({"channel": None}, r"after\.channel: missing \(the channel\)"),
        ({"outcome": "LOST"}, r"after\.outcome: unknown status 'LOST'; one of DONE, OPEN"),
        ({"direction": "SIDEWAYS"}, r"after\.direction: unknown direction 'SIDEWAYS'; one of IN, OUT"),
        ({"started_at": None}, r"after\.started_at: missing \(the startDateTime\)"),
        ({"started_at": "soon"}, r"after\.started_at: expected an integer \(micros since 1970\), got a string"),
        ({"started_at": 10**18}, r"after\.started_at: 1000000000000000000 micros is not a time between 1970 and 9999"),
        ({"started_at": -1}, r"after\.started_at: -1 micros is not a time"),
        ({"ended_at": "yesterday"}, r"after\.ended_at: not an ISO 8601 date-time: 'yesterday'"),
        ({"id": None}, r"after\.id: missing \(a key column\)"),
        ({"id": 1.5}, r"after\.id: a key column must be text or an integer, got a number"),
        ({"customer_no": {"id": 1}}, r"after\.customer_no: expected text or a number, got an object"),
        ({"agent_login": True}, r"after\.agent_login: expected text or a number, got a boolean"),
    ],
)
def test_a_row_that_cannot_be_adapted_names_the_column(columns, reason):
    with pytest.raises(AdapterError, match=reason):
        adapt(event_of(payload("c", after=row(**columns))))


def test_null_optional_columns_leave_their_attributes_out():
    nulls = dict.fromkeys(["ended_at", "direction", "subject", "notes", "outcome", "customer_no", "agent_login"])
    doc = document(payload("c", after=row(**nulls, branch=None, follow_up_on=None)))
    assert doc["direction"] == "inbound"  # the mapping's default direction
    assert doc["status"] == "inProgress"
    assert doc["reason"] == "Contact recorded in public.contact_history"
    assert doc["description"] == "Inbound voice contact recorded in public.contact_history"
    assert doc["relatedParty"] == []
    assert "customerIdentifier" not in doc and "crmRecord" not in doc


def test_a_row_with_only_its_key_start_and_channel_is_enough():
    mapping = {"key": ["id"], "columns": {"startDateTime": "opened", "channel": "kind"}}
    doc = document(payload("c", after={"id": "X-1", "opened": "2026-11-20T09:00:00+01:00", "kind": "web"}), mapping)
    assert doc["interactionDate"] == {"startDateTime": "2026-11-20T08:00:00Z"}
    assert doc["@type"] == "WebSessionInteraction"


def test_a_numeric_customer_or_agent_id_reads_as_written():
    doc = document(payload("c", after=row(customer_no=417, agent_login=12)))
    assert [p["id"] for p in doc["relatedParty"]] == ["417", "12"]
    assert doc["customerIdentifier"] == [{"kind": "crm", "value": "417", "id": "crm:417"}]


@pytest.mark.parametrize(
    ("encoding", "value", "expected"),
    [
        ("micros", 1_795_165_200_123_456, "2026-11-20T09:00:00.123456Z"),
        ("millis", 1_795_165_200_123, "2026-11-20T09:00:00.123000Z"),
        ("nanos", 1_795_165_200_123_456_789, "2026-11-20T09:00:00.123456Z"),
        ("seconds", 1_795_165_200, "2026-11-20T09:00:00Z"),
        ("days", 20_777, "2026-11-20T00:00:00Z"),
        ("iso", "2026-11-20T10:00:00+01:00", "2026-11-20T09:00:00Z"),
        ("iso", "2026-11-20T09:00:00", "2026-11-20T09:00:00Z"),  # a `timestamp` as text: read as UTC
    ],
)
def test_each_declared_time_encoding_reads_as_iso_8601_in_utc(encoding, value, expected):
    mapping = {**MAPPING, "timestamps": {"started_at": encoding}}
    doc = document(payload("c", after=row(started_at=value, ended_at=None)), mapping)
    assert doc["interactionDate"]["startDateTime"] == expected


def test_the_declared_encoding_wins_over_the_schemas():
    mapping = {**MAPPING, "timestamps": {"started_at": "millis"}}
    value = with_schema(payload("c", after=row(started_at=STARTED // 1000)))
    assert document(value, mapping)["interactionDate"]["startDateTime"] == "2026-11-20T09:00:00Z"


def test_without_source_times_the_connectors_own_time_is_the_records():
    value = payload("c", after=row())
    for name in ("ts_ms", "ts_us", "ts_ns"):
        del value["source"][name]
    (record,) = split(body(value), "application/json")
    assert record.time == "2026-11-20T09:10:00.120000Z"
    assert record.native_id.startswith("public.contact_history@24023128:c:")


def test_without_a_log_position_the_commit_time_places_the_record():
    (record,) = split(body(payload("c", after=row(), lsn=None)), "application/json")
    assert record.native_id.startswith(f"public.contact_history@{COMMIT_US}:c:")


def test_a_file_of_events_one_a_line_is_split_in_order_skipping_tombstones():
    lines = [payload("r", after=row(id=n), snapshot="true") for n in (1, 2)] + [None, payload("d", before={"id": 1})]
    delivery = b"\n".join(json.dumps(line).encode() for line in lines) + b"\n"
    records = split(delivery, "application/json")
    assert [r.data["op"] for r in records] == ["r", "r", "d"]
    with pytest.raises(FormatError, match="change event 2 is not JSON"):
        split(json.dumps(lines[0]).encode() + b'\n{"op": \n', "application/json")


def test_adapting_is_pure():
    event = event_of(with_schema(payload("u", after=row())))
    kept = copy.deepcopy(event.data)
    changes = [adapt(event) for _ in range(3)]
    assert changes[0] == changes[1] == changes[2]
    assert isinstance(changes[0], Change)
    assert event.data == kept


def test_an_event_without_the_sources_mapping_is_refused_naming_what_is_missing():
    (record,) = split(body(payload("c", after=row())), "application/json")
    event = wrap(record, FORMAT.id, SOURCE, {"name": SOURCE}, received=RECEIVED)
    with pytest.raises(AdapterError, match=r"the source's mapping: key: Field required; columns: Field required"):
        adapt(event)


# -- the sources file's checks of a mapping ---------------------------------------------------------

SOURCES_FILE = """
[sources.legacy-crm]
format = "debezium"
topic = "crm.public.contact_history"
table = "public.contact_history"
key = ["id"]
[sources.legacy-crm.columns]
startDateTime = "started_at"
endDateTime = "ended_at"
channel = "channel"
direction = "direction"
reason = "subject"
description = "notes"
status = "outcome"
customer = "customer_no"
agent = "agent_login"
[sources.legacy-crm.channel_values]
PHONE = "voice"
EMAIL = "email"
SHOP = "store"
[sources.legacy-crm.status_values]
DONE = "completed"
OPEN = "inProgress"
[sources.legacy-crm.timestamps]
started_at = "micros"
"""


def test_a_sources_file_with_a_mapping_gives_the_adapter_its_settings():
    source = parse(SOURCES_FILE, check_env=False)["legacy-crm"]
    settings = source.settings()
    assert settings["key"] == ["id"] and settings["columns"]["customer"] == "customer_no"
    assert settings["timestamps"] == {"started_at": "micros"}
    (record,) = split(body(payload("c", after=row())), "application/json")
    doc = apply(ABSENT, adapt(wrap(record, FORMAT.id, "legacy-crm", settings, RECEIVED)), href=HREF).new.doc
    assert doc is not None and doc["status"] == "completed"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (('startDateTime = "started_at"\n', 'startedAt = "started_at"\n'), "unknown attribute 'startedAt'"),
        (('startDateTime = "started_at"\n', ""), r"columns\.startDateTime: Field required"),
        (('key = ["id"]\n', ""), "key: Field required"),
        (('key = ["id"]\n', "key = []\n"), "key: List should have at least 1 item"),
        (('channel = "channel"\n', ""), r"no channel: map the column that holds it \(columns\.channel\)"),
        (('SHOP = "store"\n', 'SHOP = "shop"\n'), r"channel_values: unknown channel 'shop'"),
        (('started_at = "micros"\n', 'started_at = "epoch"\n'), r"timestamps\.started_at: Input should be 'micros'"),
        (("table = ", "tables = "), "tables: Extra inputs are not permitted"),
    ],
)
def test_a_bad_mapping_is_named_by_the_sources_file_check(edit, problem):
    old, new = edit
    assert old in SOURCES_FILE
    with pytest.raises(SourcesError, match=problem) as raised:
        parse(SOURCES_FILE.replace(old, new, 1), check_env=False)
    assert all(p.startswith("sources.legacy-crm: ") for p in raised.value.problems)


# -- hostile deliveries -----------------------------------------------------------------------------

GOOD = payload("c", after=row())


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def changed(**fields: Any) -> bytes:
    return body({**GOOD, **fields})


def in_source(**fields: Any) -> bytes:
    return body({**GOOD, "source": {**GOOD["source"], **fields}})


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        (b"not json", "the change event is not JSON"),
        (b'{"payload": {"op": "c"', "the change event is not JSON"),  # truncated
        (b"[1, 2]", "change event 1 is an array, not a JSON object"),
        (b'"c"', "change event 1 is a string, not a JSON object"),
        (b"[" * 5000 + b"]" * 5000, "the change event is not JSON: depth limit exceeded"),
        (body({"op": "c", "after": {"notes": nested(70)}}), "nests more than 64 levels"),
        (body({"schema": {}, "payload": []}), "payload: expected an object, got an array"),
        (body({"schema": "x", "payload": GOOD}), "schema: expected an object with an array of fields"),
        (changed(op="m"), "op: expected one of c, r, u, d, t, got 'm'"),
        (changed(op=None), "op: expected one of c, r, u, d, t, got null"),
        (changed(source=None), "source: expected an object, got null"),
        (in_source(table=7), "source.table: expected a table name, got a number"),
        (in_source(table=""), "source.table: expected a table name, got ''"),
        (in_source(schema=["public"]), "source.schema: expected a string, got an array"),
        (in_source(ts_us="1795165800000000"), "source.ts_us: expected an integer, got a string"),
        (in_source(ts_us=-5), "source.ts_us: -5 is not a time between 1970 and 9999"),
        (in_source(ts_us=10**18), "source.ts_us: 1000000000000000000 is not a time between 1970 and 9999"),
        (in_source(ts_us=10**30), "source.ts_us: expected an integer, got a number"),  # past 64 bits: a float
        (changed(ts_ms=None, source={"table": "t"}), "source.ts_ms: missing"),
        (changed(after=None), "after: missing \\(a change of op c carries the row\\)"),
        (changed(after=[1]), "after: expected an object or null, got an array"),
        (body(payload("d")), "before: missing \\(a change of op d carries the row\\)"),
        (b"\xff\xfe\x00", "the change event is not JSON"),
    ],
)
def test_a_delivery_that_cannot_be_split_is_a_format_error_naming_the_problem(delivery, message):
    with pytest.raises(FormatError, match=message):
        split(delivery, "application/json")


@pytest.mark.parametrize("tombstone", [b"", b"  \n", b"null", body({"schema": None, "payload": None})])
def test_a_tombstone_is_no_record(tombstone):
    assert split(tombstone, "application/json") == []


def test_a_delivery_larger_than_the_bound_is_refused(monkeypatch):
    monkeypatch.setattr(dbz, "MAX_BODY_BYTES", 1000)
    with pytest.raises(FormatError, match="larger than 1000 bytes"):
        split(body(GOOD) + b" " * 1000, "application/json")


def test_a_file_of_more_events_than_the_bound_is_refused_before_reading_them(monkeypatch):
    monkeypatch.setattr(dbz, "MAX_RECORDS", 3)
    with pytest.raises(FormatError, match="more than 3 change events"):
        split(b"\n".join([body(GOOD)] * 4), "application/json")
