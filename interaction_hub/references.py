"""The links of an interaction's references, added whenever an interaction is shown (never stored).

TMF683 v4 requires `href` on every RelatedChannel and RelatedParty, and clients generated from its
OpenAPI refuse an interaction without them; channel adapters and most writers send only ids. So
each channel and related party, on the interaction and on its items, gets a link made from its id
and type when it has none; an `href` the writer sent is kept as sent. Where the links point:

- a related party whose `@referredType` is PartyRole (or, written through v5, a PartyRoleRef):
  TMF669 `{party role API}/partyRole/{id}`;
- any other party: TMF632 `{party API}/{type}/{id}`, the type in lowerCamelCase as TM Forum names
  resources (`individual`, `organization`);
- a channel: `{channel API}/channel/{id}` (TM Forum has no channel API; point it at your own).

Each API's base URL is a setting (IHUB_PARTY_API_URL, IHUB_PARTY_ROLE_API_URL,
IHUB_CHANNEL_API_URL), by default on this server's resource root. The API's answers (v4 and v5),
list pages, the timeline, exports and hub notifications all pass through `linked` or `body`.

The interaction's own `href` is set there too, whatever is stored: `{interactions}{id}`, where
`interactions` is where the answering server's interactions are (the API passes the address the
request reached, query_api/interactions.py `hrefs`; notifications, which answer no request, use the
resource root). A stored `href` is where the writer's server was when it wrote (every store holds
one; a channel event's is the worker's), so it is never shown: it is overwritten on the way out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

from interaction_hub.settings import Settings

Document = dict[str, Any]
Link = Callable[[Document, str], str]  # a reference and its id -> its href

PARTY_API = "/tmf-api/partyManagement/v4"
PARTY_ROLE_API = "/tmf-api/partyRoleManagement/v4"
CHANNEL_API = "/tmf-api/channelManagement/v4"
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")


def _segment(text: str) -> str:
    """`text` as one path segment: anything but unreserved characters percent-encoded."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


class ReferenceLinks:
    def __init__(self, *, interactions: str, party_api: str, party_role_api: str, channel_api: str) -> None:
        self.interactions = interactions  # where interactions' hrefs start, unless an answer says otherwise
        self.party_api = party_api.rstrip("/")
        self.party_role_api = party_role_api.rstrip("/")
        self.channel_api = channel_api.rstrip("/")
        self._links: tuple[tuple[str, Link], ...] = (("channel", self.channel), ("relatedParty", self.party))

    @classmethod
    def from_settings(cls, settings: Settings) -> ReferenceLinks:
        root = settings.resource_root()
        return cls(
            interactions=f"{root}{settings.base_path}/partyInteraction/",
            party_api=settings.party_api_url or f"{root}{PARTY_API}",
            party_role_api=settings.party_role_api_url or f"{root}{PARTY_ROLE_API}",
            channel_api=settings.channel_api_url or f"{root}{CHANNEL_API}",
        )

    def channel(self, ref: Document, ref_id: str) -> str:
        return f"{self.channel_api}/channel/{_segment(ref_id)}"

    def party(self, ref: Document, ref_id: str) -> str:
        referred = ref.get("@referredType")
        given = ref.get("partyOrPartyRole")  # what v5 could not say otherwise (schemas/party_interaction_v5.py)
        if referred == "PartyRole" or (isinstance(given, dict) and given.get("@type") == "PartyRoleRef"):
            return f"{self.party_role_api}/partyRole/{_segment(ref_id)}"
        kind = referred if isinstance(referred, str) and referred else "party"
        return f"{self.party_api}/{_segment(kind[0].lower() + kind[1:])}/{_segment(ref_id)}"

    def linked(self, doc: Document, interactions: str | None = None) -> Document:
        """`doc` as it is shown: its own href `{interactions}{id}` (default: `self.interactions`)
        and a link on every reference that has none. `doc` itself is left as it is (it may be the
        stored form a write is about to keep): what changes is copied."""
        return self._own_href({**self._linked(doc, items=True)}, interactions)

    def body(self, stored: bytes, interactions: str | None = None) -> bytes:
        """A stored interaction's JSON as it is shown (as `linked`)."""
        return orjson.dumps(self._own_href(self._linked(orjson.loads(stored), items=True), interactions))

    def _own_href(self, doc: Document, interactions: str | None) -> Document:
        # in place: `doc` is the caller's copy. A stored href keeps its place (second, after id).
        if isinstance(interaction_id := doc.get("id"), str):
            doc["href"] = f"{interactions or self.interactions}{interaction_id}"  # ids are URL-safe
        return doc

    def _linked(self, obj: Document, *, items: bool) -> Document:
        changes: Document = {}
        for key, link in self._links:
            refs = obj.get(key)
            if isinstance(refs, list) and (linked := _refs_linked(refs, link)) is not None:
                changes[key] = linked
        nested = obj.get("interactionItem") if items else None
        if isinstance(nested, list):
            linked_items = None
            for index, item in enumerate(nested):
                if isinstance(item, dict) and (new := self._linked(item, items=False)) is not item:
                    linked_items = linked_items or list(nested)
                    linked_items[index] = new
            if linked_items is not None:
                changes["interactionItem"] = linked_items
        return {**obj, **changes} if changes else obj


def _refs_linked(refs: list[Any], link: Link) -> list[Any] | None:
    """The references with a link on each that has none; None when none lacked one."""
    linked = None
    for index, ref in enumerate(refs):
        if isinstance(ref, dict) and ref.get("href") is None and isinstance(ref_id := ref.get("id"), str):
            linked = linked or list(refs)
            linked[index] = {"id": ref_id, "href": link(ref, ref_id), **ref}  # id and href first, as on the resource
    return linked
