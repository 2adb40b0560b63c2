"""Kafka-fed sources: the topics a sources file names (`topic = ...`), read with their source's
format and put on the raw topic as the project's channel events, keyed by interaction id.

A feed's records are keyed as its producer keys them (a Kinesis bridge, Snowplow's enriched
stream, Debezium), and an erasure's watermarks are offsets of the raw topic. So a feed is not
applied where it is read: each of its records is split, wrapped and adapted (a record that cannot
be is a dead letter naming its source), and its events go to the raw topic, where everything
about one interaction meets in one partition, in order, and the projector applies them like any
other event. The feed's offsets commit only after the brokers have every event (acks=all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from ingest.adapters import AdapterError, adapt
from ingest.formats import FormatError, kept, wrap
from ingest.sources import Source
from schemas.channel_event import ChannelEvent
from schemas.common import describe
from schemas.dead_letter import DeadLetter
from stream_workers.pipeline import Message, dead_letter


@dataclass(slots=True)
class Bridged:
    raw: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value) for the raw topic
    dead_letters: list[DeadLetter] = field(default_factory=list)


def feeds(sources: Mapping[str, Source]) -> dict[str, Source]:
    """topic -> its source, for the Kafka-fed sources."""
    return {source.table.topic: source for source in sources.values() if source.table.topic}


def bridge(messages: Sequence[Message], by_topic: Mapping[str, Source]) -> Bridged:
    """What a batch of feed records puts on the raw topic, and the dead letters of those that
    cannot be read or adapted."""
    result = Bridged()
    for message in messages:
        source = by_topic[message.topic]
        try:
            events = _events(message, source)
            changes = [adapt(event) for event in events]
        except (FormatError, ValueError, ValidationError, AdapterError) as exc:
            reason = describe(exc.errors(include_url=False)) if isinstance(exc, ValidationError) else str(exc)
            result.dead_letters.append(dead_letter(message, reason, source.name))
            continue
        result.raw.extend(
            (change.interaction_id.encode(), event.to_bytes()) for event, change in zip(events, changes, strict=True)
        )
    return result


def _events(message: Message, source: Source) -> list[ChannelEvent]:
    if source.format is None:  # the project's envelope, in either CloudEvents content mode
        return [ChannelEvent.from_kafka(message.value, message.headers)]
    kind = _content_type(message.headers) or source.format.media_types[0]
    received = datetime.fromtimestamp(message.timestamp or 0, UTC).isoformat().replace("+00:00", "Z")
    settings = source.settings()
    records = kept(source.format, source.format.split(message.value, kind), settings)
    return [wrap(r, source.format_id, source.name, settings, received) for r in records]


def _content_type(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    for name, value in headers or ():
        if name.lower() == "content-type":
            return value.decode(errors="replace").split(";")[0].strip().lower()
    return None
