"""Native TMF683 writes: `tmf683.partyInteraction.create|patch|delete`, both ways.

The TMF683 API publishes its writes as these events (`event_for`), with the interaction id it chose,
and the workers turn them back into the same `Change` (`create`, `patch`, `delete`) and apply it to
the latest state, in partition order. Any system that already speaks TMF683 may publish them too.

    create: data = a PartyInteraction create body plus `id` and, optionally, `href` (absent: the
            worker's base URL; stored, never shown: answers link to the server that answers);
            `creationDate` is ignored (the change's time is used)
    patch:  data = {"id", "patch": RFC 7386 merge patch} or {"id", "jsonPatch": RFC 6902 operations},
            optionally "expectedVersions": [versions the writer accepts] (HTTP If-Match) and
            "maxBytes": the largest the interaction may become (the API's body limit)
    delete: data = {"id"}, optionally "expectedVersions"

    Any of them may carry "actingFor": the party a party-scoped writer acts for (storage/changes.py:
    the interaction must name it before and after the change).

Systems that speak TMF683 v5 publish `tmf683.v5.partyInteraction.create|delete`:

    create: data = a v5 PartyInteraction (its `_FVO` rules, schemas/party_interaction_v5.py) with
            its `id`; `href`, `creationDate` and `lastUpdate` are ignored. Like a v4 create, it
            replaces an older version of the same interaction: a system re-sends its whole record
            as it changes (a v5 patch needs the current state, which an adapter does not read).
    delete: as v4's.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from ingest.adapters.common import AdapterError, required, validated
from schemas.channel_event import API_SOURCE, ChannelEvent
from schemas.party_interaction import is_interaction_id
from schemas.party_interaction_v5 import V5Invalid, check_v5, from_v5
from storage.changes import Change, Invalid, check, version_at

_NOT_BODY = ("id", "href", "creationDate", "actingFor")
_ACTIONS = {"create": "create", "merge": "patch", "json-patch": "patch", "delete": "delete"}


def create(event: ChannelEvent) -> Change:
    body = {k: v for k, v in event.data.items() if k not in _NOT_BODY}
    href = event.data.get("href")
    if href is not None and not (isinstance(href, str) and href.startswith(("http://", "https://"))):
        raise AdapterError("data.href: must be an absolute http(s) URL")
    return _change(event, "create", validated(body), href=href)


def create_v5(event: ChannelEvent) -> Change:
    resource = {k: v for k, v in event.data.items() if k not in (*_NOT_BODY, "lastUpdate")}
    try:
        check_v5(resource, create=True)
    except V5Invalid as exc:
        raise AdapterError(f"data: {exc}") from None
    return _change(event, "create", validated(from_v5(resource)))


def patch(event: ChannelEvent) -> Change:
    _only(event.data, "id", "patch", "jsonPatch", "expectedVersions", "maxBytes", "actingFor")
    if ("patch" in event.data) == ("jsonPatch" in event.data):
        raise AdapterError("data: exactly one of 'patch' (merge patch) and 'jsonPatch' is needed")
    if "patch" in event.data:
        return _change(event, "merge", required(event.data, "patch", dict))
    return _change(event, "json-patch", required(event.data, "jsonPatch", list))


def delete(event: ChannelEvent) -> Change:
    _only(event.data, "id", "expectedVersions", "actingFor")
    return _change(event, "delete", None)


def event_for(change: Change) -> ChannelEvent:
    """The event that carries `change` through the log (the inverse of the adapters above)."""
    data: dict[str, Any] = {"id": change.interaction_id}
    if change.kind == "create":
        data.update(change.body)
        if change.href is not None:
            data["href"] = change.href
    elif change.kind == "merge":
        data["patch"] = change.body
    elif change.kind == "json-patch":
        data["jsonPatch"] = change.body
    if change.expected_versions is not None:
        data["expectedVersions"] = list(change.expected_versions)
    if change.max_bytes is not None:
        data["maxBytes"] = change.max_bytes
    if change.party_id is not None:
        data["actingFor"] = change.party_id
    return ChannelEvent(
        id=uuid4().hex,
        source=API_SOURCE,
        type=f"tmf683.partyInteraction.{_ACTIONS[change.kind]}",
        time=change.time,
        data=data,
    )


def _change(event: ChannelEvent, kind: Any, body: Any, href: str | None = None) -> Change:
    interaction_id = required(event.data, "id")
    if not is_interaction_id(interaction_id):
        raise AdapterError(f"data.id: not a URL-safe id (letters, digits, '.', '_', '~', '-'): {interaction_id!r}")
    expected = event.data.get("expectedVersions")
    if expected is not None and not (
        isinstance(expected, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in expected)
    ):
        raise AdapterError("data.expectedVersions: must be an array of integers")
    max_bytes = event.data.get("maxBytes")
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
        raise AdapterError("data.maxBytes: must be a positive integer")
    party_id = event.data.get("actingFor")
    if party_id is not None and not (isinstance(party_id, str) and party_id):
        raise AdapterError("data.actingFor: must be a party id")
    change = Change(
        kind,
        interaction_id,
        event.time,
        version_at(event.time),
        body,
        href,
        None if expected is None else tuple(expected),
        max_bytes,
        party_id,
    )
    try:
        check(change)
    except Invalid as exc:
        raise AdapterError(f"data: {exc.message}") from None
    return change


def _only(data: dict[str, Any], *allowed: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise AdapterError(f"data: unknown attribute(s) {', '.join(unknown)}; expected {', '.join(allowed)}")
