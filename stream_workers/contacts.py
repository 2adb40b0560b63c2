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

from schemas.channel_event import API_SOURCE, is_ours

State = tuple[str, int, dict[str, Any] | None]


def states(records: Iterable[dict[str, Any]], index_alias: str) -> tuple[list[State], bool]:
    """(interaction id, version, stored resource or None) of each (decoded) change record of
    `index_alias` that carries a state, and whether any came from the API (whose writers expect
    to read them back soon)."""
    found: list[State] = []
    from_api = False
    for record in records:
        if not is_ours(record, index_alias):
            continue
        from_api = from_api or record.get("source") == API_SOURCE
        if "version" in record:  # "rejected" answers to the API carry none
            found.append((record["interactionId"], record["version"], record["new"]))
    return found, from_api
