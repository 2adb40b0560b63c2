"""First-contact resolution's contacts (storage/search/contacts.py), kept from the change records.

Off the ingest path on purpose: a document is searchable as soon as the projector indexed it, and
the contacts follow a moment later. Every touched interaction has a change record with its state
after the batch (also when the batch left it unchanged, as a replay after a crash does), and
`ContactIndex.update` is idempotent and safe with concurrent writers, so records may come again or
from several workers at once. Offsets are committed after the update (at-least-once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.channel_event import is_ours

State = tuple[str, int, dict[str, Any] | None]


def states(records: Iterable[dict[str, Any]], index_alias: str) -> list[State]:
    """(interaction id, version, stored resource or None) of each (decoded) change record of
    `index_alias` that carries a state."""
    return [
        (record["interactionId"], record["version"], record["new"])
        for record in records
        if is_ours(record, index_alias) and "version" in record  # "rejected" answers to the API carry none
    ]
