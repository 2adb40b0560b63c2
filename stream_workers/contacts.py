"""First-contact resolution's contacts (storage/search/contacts.py), kept from the change records.

Off the ingest path on purpose: a document is searchable as soon as the projector indexed it, and
the contacts follow a moment later. Every touched interaction has a change record with its state
after the batch (also when the batch left it unchanged, as a replay after a crash does), and
`ContactIndex.update` is idempotent and safe with concurrent writers, so records may come again or
from several workers at once. Offsets are committed after the update (at-least-once).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from stream_workers.pipeline import API_SOURCE

State = tuple[str, int, dict[str, Any] | None]


def states(records: Iterable[bytes]) -> Iterator[State]:
    """(interaction id, version, stored resource or None) of each change record that carries a state."""
    for raw in records:
        record = orjson.loads(raw)
        if "version" in record:  # "rejected" answers to the API carry none
            yield record["interactionId"], record["version"], record["new"]


def from_api(records: Iterable[bytes]) -> bool:
    return any(orjson.loads(raw).get("source") == API_SOURCE for raw in records)
