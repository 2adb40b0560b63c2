"""Full mode's privacy records: erase markers on the raw topic, and the erasure log.

An erasure (of a party) or a retention purge (of what ended before a cut-off) is written to the log
of record BEFORE anything is deleted: one marker per partition of the raw topic, published into
that partition, so each partition's worker meets it in partition order, after every event
published there before it (docs/privacy.md).

Marker: a ChannelEvent of type `ERASE_TYPE` or `PURGE_TYPE`, key `MARKER_KEY_PREFIX + erasure id`
(a ':' no interaction id has), data `{"erasure", "partition", "partitions", "index", "partyId" |
"before"}`. `index` is the index alias of the deployment that asked: deployments sharing a Kafka
cluster share the raw topic, and each applies only its own markers (as with change records).

`ERASURES_TOPIC` holds what each worker erased at each marker, written before it deletes:
`{"erasure", "partition", "offset" (the marker's, the watermark), "index", "ids": [...]}`. Workers and
`ihub reindex` load it first and never apply a raw record below a watermark about an erased id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.channel_event import API_SOURCE, ChannelEvent

ERASURES_TOPIC = "ihub.erasures.v1"
"""What was erased at each marker: interaction ids and the marker's offset; kept as long as the raw topic."""

ERASE_TYPE = "ihub.privacy.erase"
PURGE_TYPE = "ihub.privacy.purge"
MARKER_TYPES = (ERASE_TYPE, PURGE_TYPE)
MARKER_KEY_PREFIX = b"ihub:erasure:"


@dataclass(frozen=True, slots=True)
class Marker:
    """One erasure's marker for one partition."""

    erasure_id: str
    partition: int
    partitions: int
    party_id: str | None = None  # an erasure of this party
    before: str | None = None  # a retention purge: what ended before this instant (ISO 8601)
    time: str = ""
    index: str | None = None  # the deployment (index alias) it is for; deployments may share the topics

    @property
    def event_id(self) -> str:
        return f"{self.erasure_id}.{self.partition}"

    @property
    def key(self) -> bytes:
        return MARKER_KEY_PREFIX + self.erasure_id.encode()

    def event(self) -> ChannelEvent:
        data: dict[str, Any] = {"erasure": self.erasure_id, "partition": self.partition, "partitions": self.partitions}
        if self.party_id is not None:
            data["partyId"] = self.party_id
        if self.before is not None:
            data["before"] = self.before
        if self.index is not None:
            data["index"] = self.index
        kind = ERASE_TYPE if self.party_id is not None else PURGE_TYPE
        return ChannelEvent(id=self.event_id, source=API_SOURCE, type=kind, time=self.time, data=data)

    @classmethod
    def from_event(cls, event: ChannelEvent) -> Marker:
        """The marker an event carries; ValueError if it is not a well-formed one."""
        data = event.data
        erasure, partition, partitions = data.get("erasure"), data.get("partition"), data.get("partitions")
        if not (isinstance(erasure, str) and erasure and isinstance(partition, int) and isinstance(partitions, int)):
            raise ValueError("an erase marker needs 'erasure', 'partition' and 'partitions'")
        if not 0 <= partition < partitions:
            raise ValueError("an erase marker's partition is not below its partition count")
        party, before, index = data.get("partyId"), data.get("before"), data.get("index")
        if event.type == ERASE_TYPE and not (isinstance(party, str) and party):
            raise ValueError("an erase marker needs 'partyId'")
        if event.type == PURGE_TYPE and not isinstance(before, str):
            raise ValueError("a purge marker needs 'before'")
        if event.type not in MARKER_TYPES:
            raise ValueError(f"not a marker type: {event.type}")
        return cls(
            erasure,
            partition,
            partitions,
            party if event.type == ERASE_TYPE else None,
            before if event.type == PURGE_TYPE else None,
            event.time,
            index if isinstance(index, str) else None,
        )


def is_marker_key(key: bytes | None) -> bool:
    return key is not None and key.startswith(MARKER_KEY_PREFIX)
