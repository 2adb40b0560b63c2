"""A dead letter: a record of the raw topic (or of a source's feed) that could not be decoded or
adapted, on `DLQ_TOPIC` exactly as it came (key and value byte for byte, so nothing is lost,
invalid UTF-8 included), with why and where from in its headers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

REASON, SOURCE, TOPIC, PARTITION, OFFSET = (
    "ihub-dlq-reason",
    "ihub-dlq-source",
    "ihub-dlq-topic",
    "ihub-dlq-partition",
    "ihub-dlq-offset",
)
MAX_REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    reason: str
    topic: str
    partition: int
    offset: int
    source: str | None = None  # the sources file's name of a feed's source

    def headers(self) -> list[tuple[str, bytes]]:
        found = [
            (REASON, self.reason[:MAX_REASON_CHARS].encode()),
            (TOPIC, self.topic.encode()),
            (PARTITION, str(self.partition).encode()),
            (OFFSET, str(self.offset).encode()),
        ]
        if self.source is not None:
            found.append((SOURCE, self.source.encode()))
        return found

    @classmethod
    def from_record(cls, key: bytes | None, value: bytes, headers: Iterable[tuple[str, bytes]]) -> DeadLetter:
        """A dead letter as read back from the topic; ValueError if its headers are not ours."""
        found = {name: raw.decode(errors="replace") for name, raw in headers}
        try:
            return cls(
                key,
                value,
                found[REASON],
                found[TOPIC],
                int(found[PARTITION]),
                int(found[OFFSET]),
                found.get(SOURCE),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a dead letter of this project: {exc}") from None
