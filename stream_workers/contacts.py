"""First-contact resolution's contacts (storage/search/contacts.py), kept from the change records.

The worker updates them after each batch's index write and before its offsets commit (at-least-once).
Every touched interaction has a change record with its state after the batch (also when the batch
left it unchanged, as a replay after a crash does), and `ContactIndex.update` is idempotent and safe
with concurrent writers, so states may come again or from several workers at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.change_record import Applied, ChangeRecord

State = tuple[str, int, dict[str, Any] | None]


def states(records: Iterable[ChangeRecord]) -> list[State]:
    """(interaction id, version, stored resource or None) of each applied change's record."""
    return [(record.interaction_id, record.version, record.new) for record in records if isinstance(record, Applied)]
