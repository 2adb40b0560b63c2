"""The directory's relink event (schemas/relink.py) as a change: resolve the customer again."""

from __future__ import annotations

from ingest.adapters.common import AdapterError
from schemas.channel_event import ChannelEvent
from schemas.party_interaction import is_interaction_id
from storage.changes import Change


def relink(event: ChannelEvent) -> Change:
    interaction_id = event.data.get("interactionId")
    if not isinstance(interaction_id, str) or not is_interaction_id(interaction_id):
        raise AdapterError("data.interactionId: not an interaction id")
    renames = event.data.get("renames") or {}
    return Change.at("link", interaction_id, event.time, {"renames": renames})
