"""Native TMF683 writes: `tmf683.partyInteraction.create|patch|delete`.

Published by the TMF683 API (or any system that already speaks TMF683) with the interaction id
chosen by the publisher, so the API can answer 201 with that id before the worker has run.

    create: data = a PartyInteraction create body plus `id` (`href` and `creationDate` are
            ignored: the worker sets creationDate from the event time, href from its base URL)
    patch:  data = {"id": ..., "patch": {RFC 7386 merge patch}}; `id`, `href`, `direction` are not
            patchable. The patched result is validated by the worker, which holds the document.
    delete: data = {"id": ...}
"""

from __future__ import annotations

import re
from typing import Any, Literal

from ingest.adapters.common import AdapterError, event_version, required, validated
from schemas.channel_event import ChannelEvent, InteractionChange
from schemas.party_interaction import NOT_PATCHABLE

# The id becomes a URL path segment (href), so it must be URL-safe as it is.
_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_SERVER_SET = ("id", "href", "creationDate")


def create(event: ChannelEvent) -> InteractionChange:
    body = {k: v for k, v in event.data.items() if k not in _SERVER_SET}
    return _change(event, "upsert", validated(body))


def patch(event: ChannelEvent) -> InteractionChange:
    _only(event.data, "id", "patch")
    merge_patch = required(event.data, "patch", dict)
    touched = sorted(set(merge_patch) & set(NOT_PATCHABLE))
    if touched:
        raise AdapterError(f"data.patch: {', '.join(touched)} cannot be patched")
    return _change(event, "patch", merge_patch)


def delete(event: ChannelEvent) -> InteractionChange:
    _only(event.data, "id")
    return _change(event, "delete", None)


Kind = Literal["upsert", "patch", "delete"]


def _change(event: ChannelEvent, kind: Kind, document: dict[str, Any] | None) -> InteractionChange:
    interaction_id = required(event.data, "id")
    if not _ID.match(interaction_id):
        raise AdapterError(f"data.id: not a URL-safe id (letters, digits, '.', '_', '~', '-'): {interaction_id!r}")
    return InteractionChange(interaction_id, event_version(event), kind, document, event.time)


def _only(data: dict[str, Any], *allowed: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise AdapterError(f"data: unknown attribute(s) {', '.join(unknown)}; expected {', '.join(allowed)}")
