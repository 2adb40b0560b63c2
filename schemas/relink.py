"""The event that asks a worker to resolve an interaction's customer again, after the party
directory changed (storage/identity.py): one per interaction a directory change touches, keyed by
the interaction's id on the raw topic, so it is applied in order with everything else about it.

It carries no decision: the worker reads the directory when it applies the event, so however
directory changes and their events interleave, the last one applied leaves what the directory
holds now. `renames` (a merge) replaces a duplicate party by its survivor first.
"""

from __future__ import annotations

import uuid

from schemas.channel_event import ChannelEvent
from schemas.common import utc_now

RELINK_TYPE = "ihub.party.relink"
DIRECTORY_SOURCE = "urn:ihub:directory"


def relink_events(interaction_ids: list[str], renames: dict[str, str] | None = None) -> list[ChannelEvent]:
    cause, now = uuid.uuid4().hex, utc_now()
    data: dict[str, object] = {"renames": renames} if renames else {}
    return [
        ChannelEvent(
            id=f"relink:{cause}:{i}",
            source=DIRECTORY_SOURCE,
            type=RELINK_TYPE,
            time=now,
            data={"interactionId": i, **data},
        )
        for i in interaction_ids
    ]
