"""Debezium change events of a contact-history table: format `debezium`.

A CRM that records its contacts in a relational table (a legacy contact history) reaches the hub
through change data capture: Debezium's PostgreSQL connector reads the database's write-ahead log
and writes one change event per row change to a Kafka topic (`<topic.prefix>.<schema>.<table>`),
which the source names (`topic = ...`). Each row is one interaction: a snapshot read (`r`), an
insert (`c`) or an update (`u`) makes the interaction what the row now says; a delete (`d`)
deletes it. A truncate (`t`) is refused, naming it: it would delete every interaction of the
table at once, which the hub leaves to an operator. The tombstone Kafka writes after a delete (a
record without a value) carries nothing: `split` gives no record for it.

An event is the value Kafka Connect's JsonConverter writes: with `schemas.enable=true` an object
`{"schema": ..., "payload": {...}}`, without it the payload alone. The payload:
    before, after (the row before and after the change, column -> value), op (c|r|u|d|t),
    source {version, connector, name, ts_ms, ts_us?, ts_ns?, snapshot, db, schema, table, lsn,
    txId}, ts_ms (when the connector handled it), transaction.

A row's columns mean what the source's mapping says (`Options`): which columns are the table's
primary key, which column holds each TMF683 attribute, how coded values read (channel, status,
direction) and how the connector encodes a timestamp column. Debezium writes a `timestamp` as
microseconds since the epoch (io.debezium.time.MicroTimestamp) or milliseconds (Timestamp), a
`timestamptz` as an ISO 8601 string (ZonedTimestamp) and a `date` as days since the epoch (Date):
the mapping may declare the encoding of a column, else the schema part names it when the event
has one, else a string is read as ISO 8601. A `timestamp` without time zone is read as UTC.
Columns the mapping does not use ride along in the extension object `crmRecord`, so that nothing
of the row is lost.

The record's time (the change's version) is the transaction's commit time, `source.ts_us` (or
`source.ts_ms`, for connectors before Debezium 2.6): a later commit replaces an earlier one, and a
redelivery (Debezium delivers at least once) is the same event. The record's native id is
`<schema>.<table>@<lsn>:<op>:<digest of the row image>`: `split` reads no source settings, so it
cannot tell the key columns; the row image tells the rows of one snapshot apart, the log position
one change of a row from the next. The record's data is the payload, with the Debezium type names
of the row's columns (`columnTypes`) when the event carried its schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.adapters.common import CHANNEL_NAMES, AdapterError, interaction, party
from ingest.formats import (
    MAX_RECORDS,
    Format,
    FormatError,
    Record,
    external_id,
    identifier,
    record_of,
    settings_of,
    upsert,
)
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.common import MAX_DEPTH, deeper_than, describe, parse_date_time
from storage.changes import Change

FORMAT_ID = "debezium"

MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest delivery split: a Kafka record value (1 MB by Kafka's default), or a file of them,
one a line, replayed by `ihub ingest`."""

OPS = {"c": "create", "r": "read (snapshot)", "u": "update", "d": "delete", "t": "truncate"}
ROW_OPS = ("c", "r", "u")  # the ops whose `after` is the row

TYPE_NAMES = {
    "voice": "VoiceCallInteraction",
    "chat": "ChatInteraction",
    "email": "EmailInteraction",
    "web": "WebSessionInteraction",
    "app": "AppSessionInteraction",
    "ivr": "IvrSessionInteraction",
    "store": "StoreVisitInteraction",
    "social": "SocialMessageInteraction",
    "messaging": "MessagingInteraction",
    "task": "TaskInteraction",
}

DIRECTION_WORDS = {
    # a direction column's values read without the mapping's direction_values, in any case
    "inbound": "inbound",
    "in": "inbound",
    "incoming": "inbound",
    "outbound": "outbound",
    "out": "outbound",
    "outgoing": "outbound",
}

Encoding = Literal["micros", "millis", "nanos", "seconds", "days", "iso"]

SCHEMA_ENCODINGS: dict[str, Encoding] = {
    # the semantic type names Debezium and Kafka Connect give time columns in the schema part
    "io.debezium.time.MicroTimestamp": "micros",
    "io.debezium.time.Timestamp": "millis",
    "io.debezium.time.NanoTimestamp": "nanos",
    "io.debezium.time.ZonedTimestamp": "iso",
    "io.debezium.time.IsoTimestamp": "iso",
    "io.debezium.time.Date": "days",
    "org.apache.kafka.connect.data.Timestamp": "millis",
    "org.apache.kafka.connect.data.Date": "days",
}

_PER_SECOND = {"micros": 1_000_000, "millis": 1_000, "nanos": 1_000_000_000, "seconds": 1, "days": 1 / 86_400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: the last instant an ISO 8601 year can write
_COLUMN_TYPES = "columnTypes"


# -- the source's mapping -------------------------------------------------------------------------

Column = Annotated[str, Field(min_length=1, max_length=128)]
Attribute = Literal[
    "startDateTime", "endDateTime", "channel", "direction", "reason", "description", "status", "customer", "agent"
]
ATTRIBUTES: tuple[str, ...] = get_args(Attribute)


class Columns(BaseModel):
    """Which column holds each TMF683 attribute (`[sources.NAME.columns]`)."""

    model_config = ConfigDict(extra="forbid")

    startDateTime: Column
    channel: Column | None = None
    endDateTime: Column | None = None
    direction: Column | None = None
    reason: Column | None = None
    description: Column | None = None
    status: Column | None = None
    customer: Column | None = Field(default=None, description="The CRM's party id of the customer")
    agent: Column | None = Field(default=None, description="The agent's id (a login)")

    @model_validator(mode="before")
    @classmethod
    def _known_attributes(cls, value: Any) -> Any:
        if isinstance(value, dict):
            unknown = sorted(str(key) for key in value if key not in ATTRIBUTES)
            if unknown:
                raise ValueError(
                    f"unknown attribute {', '.join(map(repr, unknown))}; "
                    f"the attributes mapped are {', '.join(ATTRIBUTES)}"
                )
        return value


class Options(BaseModel):
    """A debezium source's own keys in the sources file: the table's column mapping."""

    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="`schema.table` (or `table`) whose events the source takes; events of another are refused",
    )
    key: list[Column] = Field(min_length=1, max_length=16, description="The table's primary key column(s)")
    columns: Columns
    channel: str | None = Field(
        default=None, description="The channel of the table's rows, or of those whose channel column is null"
    )
    channel_values: dict[str, str] = Field(
        default_factory=dict, description="Channel column value -> channel id; without it, the value is the id"
    )
    direction_values: dict[str, Literal["inbound", "outbound"]] = Field(
        default_factory=dict,
        description="Direction column value -> inbound|outbound; without it, in, inbound, incoming, out, ...",
    )
    default_direction: Literal["inbound", "outbound"] = "inbound"
    status_values: dict[str, Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=dict, description="Status column value -> status; without it, the value is the status"
    )
    timestamps: dict[Column, Encoding] = Field(
        default_factory=dict,
        description="How the connector encodes a time column: micros|millis|nanos|seconds|days|iso",
    )

    @field_validator("channel_values")
    @classmethod
    def _known_channels(cls, values: dict[str, str]) -> dict[str, str]:
        wrong = sorted({channel for channel in values.values() if channel not in CHANNEL_NAMES})
        if wrong:
            raise ValueError(f"unknown channel {', '.join(map(repr, wrong))}; one of {', '.join(CHANNEL_NAMES)}")
        return values

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str | None) -> str | None:
        if channel is not None and channel not in CHANNEL_NAMES:
            raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNEL_NAMES)}")
        return channel

    @model_validator(mode="after")
    def _has_a_channel(self) -> Options:
        if self.columns.channel is None and self.channel is None:
            raise ValueError(
                "no channel: map the column that holds it (columns.channel), or name the table's one channel (channel)"
            )
        return self


def options_of(event: ChannelEvent) -> Options:
    """The mapping of the event's source (the sources file checked it; an event made elsewhere,
    or replayed under another version of the mapping, is refused naming what is wrong)."""
    settings = settings_of(event)
    try:
        return Options.model_validate({k: v for k, v in settings.items() if k in Options.model_fields})
    except ValidationError as exc:
        raise AdapterError(f"the source's mapping: {describe(exc.errors(include_url=False))}") from None


# -- reading a delivery ---------------------------------------------------------------------------


def split(body: bytes, media_type: str) -> list[Record]:
    """The change event of a Kafka record value (none for a tombstone), or of each line of a file
    of them (one value a line, as `kafka-console-consumer` prints them)."""
    if not body or not body.strip():
        return []  # a tombstone: Kafka's record after a delete, with no value
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"the delivery is larger than {MAX_BODY_BYTES} bytes")
    records = []
    for number, value in _values(body):
        record = _record(value, number)
        if record is not None:
            records.append(record)
    return records


def _values(body: bytes) -> list[tuple[int, Any]]:
    """The JSON values of a delivery, numbered: the whole body, or each of its lines when the first
    line is a JSON value of its own."""
    try:
        return [(1, orjson.loads(body))]
    except orjson.JSONDecodeError as whole:
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) < 2 or not _parses(lines[0]):
            raise FormatError(f"the change event is not JSON: {whole}") from None
    if len(lines) > MAX_RECORDS:
        raise FormatError(f"the delivery carries more than {MAX_RECORDS} change events")
    values = []
    for number, line in enumerate(lines, start=1):
        try:
            values.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"change event {number} is not JSON: {exc}") from None
    return values


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _record(value: Any, number: int) -> Record | None:
    """The record of one change event; None for a tombstone."""
    where = f"change event {number}"
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FormatError(f"{where} is {_kind(value)}, not a JSON object")
    if deeper_than(value, MAX_DEPTH):
        raise FormatError(f"{where} nests more than {MAX_DEPTH} levels of objects and arrays")
    column_types: dict[str, str] = {}
    payload: Any = value
    if "payload" in value and "op" not in value:  # JsonConverter with schemas.enable=true
        payload = value["payload"]
        if payload is None:
            return None  # the tombstone of a converter that writes one
        if not isinstance(payload, dict):
            raise FormatError(f"{where}: payload: expected an object, got {_kind(payload)}")
        column_types = _column_types(value.get("schema"), where)
    op = payload.get("op")
    if op not in OPS:
        raise FormatError(f"{where}: op: expected one of {', '.join(OPS)}, got {_shown(op)}")
    source = payload.get("source")
    if not isinstance(source, dict):
        raise FormatError(f"{where}: source: expected an object, got {_kind(source)}")
    table = source.get("table")
    if not isinstance(table, str) or not table.strip() or len(table) > 255:
        raise FormatError(f"{where}: source.table: expected a table name, got {_shown(table)}")
    if source.get("schema") is not None and not isinstance(source["schema"], str):
        raise FormatError(f"{where}: source.schema: expected a string, got {_kind(source['schema'])}")
    for image in ("before", "after"):
        if payload.get(image) is not None and not isinstance(payload[image], dict):
            raise FormatError(f"{where}: {image}: expected an object or null, got {_kind(payload[image])}")
    row_image = "after" if op in ROW_OPS else "before" if op == "d" else None
    if row_image is not None and payload.get(row_image) is None:
        raise FormatError(f"{where}: {row_image}: missing (a change of op {op} carries the row)")
    time, instant = _commit_time(payload, source, where)
    lsn = source.get("lsn")
    position = lsn if isinstance(lsn, int) and not isinstance(lsn, bool) else instant
    row = payload.get(row_image) if row_image else None
    native_id = f"{qualified_table(source)}@{position}:{op}:{_digest(row)}"
    data = {**payload, _COLUMN_TYPES: column_types} if column_types else payload
    return Record(native_id, time, data)


def _commit_time(payload: dict[str, Any], source: dict[str, Any], where: str) -> tuple[str, int]:
    """When the change was committed (ISO 8601, UTC) and that instant as the event wrote it."""
    for parent, name, unit in ((source, "ts_us", "micros"), (source, "ts_ms", "millis"), (payload, "ts_ms", "millis")):
        value = parent.get(name)
        if value is None:
            continue
        path = f"source.{name}" if parent is source else name
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormatError(f"{where}: {path}: expected an integer, got {_kind(value)}")
        time = _epoch_time(value, unit)
        if time is None:
            raise FormatError(f"{where}: {path}: {value} is not a time between 1970 and 9999")
        return time, value
    raise FormatError(f"{where}: source.ts_ms: missing (the commit time)")


def _column_types(schema: Any, where: str) -> dict[str, str]:
    """Column -> semantic type name (io.debezium.time.MicroTimestamp, ...) of the row's columns
    that have one, from the schema part of the event."""
    if schema is None:
        return {}
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        raise FormatError(f"{where}: schema: expected an object with an array of fields")
    found: dict[str, str] = {}
    for envelope_field in schema["fields"]:
        if not isinstance(envelope_field, dict) or envelope_field.get("field") not in ("before", "after"):
            continue
        columns = envelope_field.get("fields")
        if not isinstance(columns, list):
            raise FormatError(f"{where}: schema: {envelope_field['field']}: expected an array of fields")
        for column in columns:
            if (
                isinstance(column, dict)
                and isinstance(column.get("field"), str)
                and isinstance(column.get("name"), str)
            ):
                found[column["field"]] = column["name"]
    return found


def qualified_table(source: dict[str, Any]) -> str:
    """`schema.table` as the source block names it (`table` alone when it names no schema)."""
    schema = source.get("schema")
    return f"{schema}.{source['table']}" if isinstance(schema, str) and schema else str(source["table"])


def _digest(row: Any) -> str:
    """A short digest of a row image: the same row, the same digest, whatever its key order."""
    return hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _epoch_time(value: int | float, unit: str) -> str | None:
    """`value` (in `unit` since the epoch) as ISO 8601 in UTC, or None when out of range."""
    seconds = value / _PER_SECOND[unit]
    if not 0 <= seconds <= _LAST_SECOND:
        return None
    if unit == "days":
        return (_EPOCH + timedelta(days=int(value))).strftime("%Y-%m-%dT%H:%M:%SZ")
    # whole microseconds, from integers, so that no rounding of a float moves a time
    micros = value * 1_000_000 // _PER_SECOND[unit] if unit != "nanos" else value // 1_000
    return iso(_EPOCH + timedelta(microseconds=int(micros)))


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, to the microsecond when it has any."""
    text = moment.astimezone(UTC).isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) and len(value) <= 64 else _kind(value)


# -- a row as an interaction ----------------------------------------------------------------------


class Row:
    """One row image (`after`, or `before` of a delete), read column by column; errors name the
    column as `after.<column>`."""

    __slots__ = ("image", "types", "values")

    def __init__(self, values: dict[str, Any], image: str, types: dict[str, str]) -> None:
        self.values, self.image, self.types = values, image, types

    def where(self, column: str) -> str:
        return f"{self.image}.{column}"

    def text(self, column: str | None) -> str | None:
        """A column's value as text (a number reads as written); null or blank is None."""
        if column is None:
            return None
        value = self.values.get(column)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise AdapterError(f"{self.where(column)}: expected text or a number, got {_kind(value)}")
        text = str(value).strip()
        return text or None

    def needed_text(self, column: str, attribute: str) -> str:
        found = self.text(column)
        if found is None:
            raise AdapterError(f"{self.where(column)}: missing (the {attribute})")
        return found

    def time(self, column: str | None, declared: dict[str, Encoding]) -> str | None:
        """A time column as ISO 8601 (UTC), read by its declared encoding, else by the type the
        schema part names, else as an ISO 8601 string."""
        if column is None or self.values.get(column) is None:
            return None
        value = self.values[column]
        encoding = declared.get(column) or SCHEMA_ENCODINGS.get(self.types.get(column, ""))
        if encoding is None:
            if not isinstance(value, str):
                raise AdapterError(
                    f"{self.where(column)}: {_kind(value)}, but the mapping declares no encoding for it "
                    f"(timestamps.{column} = micros|millis|nanos|seconds|days)"
                )
            encoding = "iso"
        if encoding == "iso":
            moment = parse_date_time(value) if isinstance(value, str) else None
            if moment is None:
                raise AdapterError(f"{self.where(column)}: not an ISO 8601 date-time: {_shown(value)}")
            return iso(moment)
        if isinstance(value, bool) or not isinstance(value, int):
            raise AdapterError(f"{self.where(column)}: expected an integer ({encoding} since 1970), got {_kind(value)}")
        found = _epoch_time(value, encoding)
        if found is None:
            raise AdapterError(f"{self.where(column)}: {value} {encoding} is not a time between 1970 and 9999")
        return found

    def key(self, columns: list[str]) -> str:
        """The row's primary key: its key columns' values, joined by `/` when there are several."""
        parts = []
        for column in columns:
            value = self.values.get(column)
            if value is None:
                raise AdapterError(f"{self.where(column)}: missing (a key column)")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise AdapterError(f"{self.where(column)}: a key column must be text or an integer, got {_kind(value)}")
            parts.append(str(value))
        return "/".join(parts)


def adapt(event: ChannelEvent) -> Change:
    """A row change: the row's interaction as the row now is, or its deletion."""
    record = record_of(event)
    options = options_of(event)
    op = record.get("op")
    source = record.get("source")
    if op not in OPS or not isinstance(source, dict) or not isinstance(source.get("table"), str):
        raise AdapterError("data.record: not a Debezium change event (op, source.table)")
    table = qualified_table(source)
    if options.table is not None and options.table not in (table, source["table"]):
        raise AdapterError(f"source.table: {table} is not this source's table {options.table}")
    if op == "t":
        raise AdapterError(
            f"op t: a TRUNCATE of {table} is not mapped (it would delete every interaction of the table)"
        )
    image = "before" if op == "d" else "after"
    values = record.get(image)
    if not isinstance(values, dict):
        raise AdapterError(f"{image}: missing (a change of op {op} carries the row)")
    types = record.get(_COLUMN_TYPES)
    row = Row(values, image, types if isinstance(types, dict) else {})
    key = row.key(options.key)
    if op == "d":
        return Change.at("delete", interaction_id(event.source, key), event.time)
    return upsert(event, key, _document(event, row, key, table, options))


def _document(event: ChannelEvent, row: Row, key: str, table: str, options: Options) -> dict[str, Any]:
    """The PartyInteraction create body of one row."""
    columns = options.columns
    start = row.time(columns.startDateTime, options.timestamps)
    if start is None:
        raise AdapterError(f"{row.where(columns.startDateTime)}: missing (the startDateTime)")
    end = row.time(columns.endDateTime, options.timestamps)
    kind = options.channel
    if columns.channel is not None and (kind is None or row.text(columns.channel) is not None):
        kind = _coded(row, columns.channel, options.channel_values, {kind: kind for kind in CHANNEL_NAMES}, "channel")
    assert kind is not None, "Options: a channel column or the table's channel"
    direction: str = options.default_direction
    if columns.direction is not None and row.text(columns.direction) is not None:
        direction = _coded(row, columns.direction, options.direction_values, DIRECTION_WORDS, "direction")
    status = "completed" if end else "inProgress"
    if columns.status is not None and row.text(columns.status) is not None:
        status = _coded(row, columns.status, options.status_values, None, "status")
    customer = row.text(columns.customer)
    agent = row.text(columns.agent)
    used = {*options.key, *(column for column in columns.model_dump().values() if column)}
    unmapped = {column: _raw(row, column, options.timestamps) for column in row.values if column not in used}
    unmapped = {column: value for column, value in unmapped.items() if value is not None}
    return interaction(
        type_name=TYPE_NAMES.get(kind, "CrmContactInteraction"),
        kind=kind,
        reason=row.text(columns.reason) or f"Contact recorded in {table}",
        direction=direction,
        status=status,
        description=row.text(columns.description) or f"{direction.capitalize()} {kind} contact recorded in {table}",
        start=start,
        end=end,
        # this CRM names its own party ids: the customer column is the customer's party
        parties=[
            *([party(customer, "customer", "Individual")] if customer else []),
            *([party(agent, "agent", "PartyRole")] if agent else []),
        ],
        externalIdentifier=[external_id(key, event, table)],
        customerIdentifier=[identifier("crm", customer)] if customer else None,
        crmRecord=unmapped or None,
    )


def _coded(row: Row, column: str, values: Mapping[str, str], known: Mapping[str, str] | None, attribute: str) -> str:
    """A coded column read through the mapping's table of values; without one, as written (a
    channel or a direction in any case, which must then be one of those `known`)."""
    found = row.needed_text(column, attribute)
    if not values and known is None:
        return found
    table, written = (values, found) if values else (known or {}, found.lower())
    if written not in table:
        raise AdapterError(f"{row.where(column)}: unknown {attribute} {found!r}; one of {', '.join(table)}")
    return table[written]


def _raw(row: Row, column: str, declared: dict[str, Encoding]) -> Any:
    """An unmapped column's value, a time column's as ISO 8601."""
    if declared.get(column) or row.types.get(column) in SCHEMA_ENCODINGS:
        return row.time(column, declared)
    return row.values[column]


FORMAT = Format(id=FORMAT_ID, split=split, adapt=adapt, options=Options)
